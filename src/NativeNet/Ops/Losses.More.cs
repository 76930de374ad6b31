namespace NativeNet;

/// <summary>How a loss reduces its per-element values, as PyTorch's <c>reduction</c> argument.</summary>
public enum LossReduction
{
    /// <summary>The mean ('mean'); for the class losses with weights, Σ loss / Σ weight of the targets, as PyTorch.</summary>
    Mean,
    /// <summary>The sum ('sum').</summary>
    Sum,
    /// <summary>No reduction ('none'): the per-element (per-sample for the class losses) values.</summary>
    None,
    /// <summary>The sum divided by the batch size ('batchmean'), for <see cref="Ops.KlDivLoss"/> only.</summary>
    BatchMean,
}

// Losses with PyTorch 1.13's conventions, composed from differentiable ops (so each backward rule is the ops' own, written
// once): the class losses weigh the log-probabilities of each row with a coefficient matrix built from the labels.
public static partial class Ops
{
    /// <summary>
    /// Negative log-likelihood as PyTorch's <c>F.nll_loss</c>: <paramref name="logProbabilities"/> [N, C], <paramref name="labels"/>
    /// Int32 [N]; the loss of row i is −w[yᵢ]·input[i, yᵢ] (0 for rows labelled <paramref name="ignoreIndex"/>); the mean is
    /// Σ loss / Σ w[yᵢ] over the rows not ignored. <paramref name="weight"/> [C] holds the class weights (all 1 when null).
    /// </summary>
    public static Tensor NllLoss(Tensor logProbabilities, Tensor labels, Tensor? weight = null, int ignoreIndex = -100,
        LossReduction reduction = LossReduction.Mean) =>
        WeightedClassLoss("NllLoss", logProbabilities, labels, weight, ignoreIndex, 0, reduction);

    /// <summary>
    /// Cross-entropy from logits as PyTorch's <c>F.cross_entropy</c> with class-index targets: log-softmax over the classes, then
    /// with label smoothing ε the loss of row i is (1 − ε)·(−w[yᵢ]·logp[i, yᵢ]) + (ε/C)·(−Σ_c w[c]·logp[i, c]); rows labelled
    /// <paramref name="ignoreIndex"/> give 0; the mean divides the sum by Σ w[yᵢ] over the rows not ignored (both terms, as PyTorch 1.13).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels, Tensor? weight = null, int ignoreIndex = -100,
        double labelSmoothing = 0, LossReduction reduction = LossReduction.Mean)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentException($"CrossEntropy: label smoothing must be in [0, 1], got {labelSmoothing}");
        CheckClassInputs("CrossEntropy", logits, labels, weight);
        using var logp = LogSoftmax(logits, 1);
        return WeightedClassLoss("CrossEntropy", logp, labels, weight, ignoreIndex, labelSmoothing, reduction);
    }

    /// <summary>
    /// Huber loss as PyTorch's <c>F.huber_loss</c>: with d = input − target, ½d² where |d| &lt; δ, else δ·(|d| − ½δ).
    /// </summary>
    public static Tensor HuberLoss(Tensor input, Tensor target, double delta = 1, LossReduction reduction = LossReduction.Mean)
    {
        if (!(delta > 0)) throw new ArgumentException($"HuberLoss: delta must be positive, got {delta}");
        CheckSameShape("HuberLoss", input, target);
        return Reduced("HuberLoss", PiecewiseQuadratic(input, target, delta, 1), reduction);
    }

    /// <summary>
    /// Smooth L1 loss as PyTorch's <c>F.smooth_l1_loss</c>: with d = input − target, ½d²/β where |d| &lt; β, else |d| − ½β;
    /// β = 0 is the L1 loss.
    /// </summary>
    public static Tensor SmoothL1Loss(Tensor input, Tensor target, double beta = 1, LossReduction reduction = LossReduction.Mean)
    {
        if (!(beta >= 0) || double.IsInfinity(beta)) throw new ArgumentException($"SmoothL1Loss: beta must be finite and non-negative, got {beta}");
        CheckSameShape("SmoothL1Loss", input, target);
        if (beta == 0)
        {
            using var d = Sub(input, target);
            return Reduced("SmoothL1Loss", Abs(d), reduction);
        }
        return Reduced("SmoothL1Loss", PiecewiseQuadratic(input, target, beta, 1 / beta), reduction);
    }

    /// <summary>
    /// Kullback–Leibler divergence as PyTorch's <c>F.kl_div</c>: <paramref name="input"/> holds log-probabilities; pointwise
    /// target·(log target − input) (0 where target = 0), or with <paramref name="logTarget"/> e^target·(target − input).
    /// <see cref="LossReduction.BatchMean"/> divides the sum by the batch size (the first dim), the mathematically correct KL;
    /// <see cref="LossReduction.Mean"/> averages over every element, as PyTorch.
    /// </summary>
    public static Tensor KlDivLoss(Tensor input, Tensor target, LossReduction reduction = LossReduction.Mean, bool logTarget = false)
    {
        CheckSameShape("KlDivLoss", input, target);
        Tensor pointwise;
        if (logTarget)
        {
            using var p = Exp(target);
            using var d = Sub(target, input);
            pointwise = Mul(p, d);
        }
        else
        {
            // target·log(target) as xlogy: 0 at target = 0, with the log taken of 1 there so no −∞ enters the graph.
            using var zero = Tensor.Scalar(0, target.DType, target.Device);
            using var one = Tensor.Scalar(1, target.DType, target.Device);
            using var positive = Raw.Binary(Backends.BinaryOp.Greater, target, zero);
            using var safe = Where(positive, target, one);
            using var logT = Log(safe);
            using var d = Sub(logT, input);
            pointwise = Mul(target, d);
        }
        if (reduction != LossReduction.BatchMean) return Reduced("KlDivLoss", pointwise, reduction);
        using (pointwise)
        {
            int batch = input.Rank == 0 ? 1 : input.Shape[0];
            using var sum = Sum(pointwise);
            return MulScalar(sum, 1.0 / batch);
        }
    }

    /// <summary>Mean squared error with a reduction, as PyTorch's <c>F.mse_loss</c>.</summary>
    public static Tensor MseLoss(Tensor prediction, Tensor target, LossReduction reduction)
    {
        CheckSameShape("MseLoss", prediction, target);
        using var diff = Sub(prediction, target);
        return Reduced("MseLoss", Square(diff), reduction);
    }

    /// <summary>Mean absolute error with a reduction, as PyTorch's <c>F.l1_loss</c>.</summary>
    public static Tensor L1Loss(Tensor prediction, Tensor target, LossReduction reduction = LossReduction.Mean)
    {
        CheckSameShape("L1Loss", prediction, target);
        using var diff = Sub(prediction, target);
        return Reduced("L1Loss", Abs(diff), reduction);
    }

    /// <summary>
    /// Binary cross-entropy from logits with a reduction, as PyTorch's <c>F.binary_cross_entropy_with_logits</c>:
    /// softplus(z) − z·y, which is max(z, 0) − z·y + log(1 + e^−|z|) evaluated without overflow.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor targets, LossReduction reduction)
    {
        CheckSameShape("BinaryCrossEntropyWithLogits", logits, targets);
        using var softplus = Softplus(logits, 1, double.PositiveInfinity);
        using var zy = Mul(logits, targets);
        return Reduced("BinaryCrossEntropyWithLogits", Sub(softplus, zy), reduction);
    }

    /// <summary>
    /// Binary cross-entropy from probabilities with a reduction, as PyTorch's <c>F.binary_cross_entropy</c>:
    /// −(y·log p + (1 − y)·log(1 − p)), each log clamped at −100.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor probabilities, Tensor targets, LossReduction reduction)
    {
        CheckSameShape("BinaryCrossEntropy", probabilities, targets);
        using var logP = Log(probabilities);
        using var clampedP = Clip(logP, -100, double.PositiveInfinity);
        using var oneMinusP = Rsub(probabilities);
        using var logQ = Log(oneMinusP);
        using var clampedQ = Clip(logQ, -100, double.PositiveInfinity);
        using var oneMinusY = Rsub(targets);
        using var a = Mul(targets, clampedP);
        using var b = Mul(oneMinusY, clampedQ);
        using var sum = Add(a, b);
        return Reduced("BinaryCrossEntropy", Neg(sum), reduction);
    }

    /// <summary>1 − x.</summary>
    private static Tensor Rsub(Tensor x)
    {
        using var negated = Neg(x);
        return AddScalar(negated, 1);
    }

    /// <summary>scale·(½d² where |d| &lt; limit, else limit·(|d| − ½limit)), d = input − target.</summary>
    private static Tensor PiecewiseQuadratic(Tensor input, Tensor target, double limit, double scale)
    {
        using var d = Sub(input, target);
        using var magnitude = Abs(d);
        using var squared = Square(d);
        using var quadratic = MulScalar(squared, 0.5 * scale);
        using var shifted = AddScalar(magnitude, -0.5 * limit);
        using var linear = MulScalar(shifted, limit * scale);
        using var bound = Tensor.Scalar(limit, input.DType, input.Device);
        using var inside = Raw.Binary(Backends.BinaryOp.Less, magnitude, bound);
        return Where(inside, quadratic, linear);
    }

    /// <summary>Reduces (and disposes, unless returned) per-element loss values.</summary>
    private static Tensor Reduced(string op, Tensor values, LossReduction reduction, double? denominator = null)
    {
        switch (reduction)
        {
            case LossReduction.None: return values;
            case LossReduction.Sum: using (values) return Sum(values);
            case LossReduction.Mean when denominator is { } count:
                using (values)
                {
                    using var total = Sum(values);
                    return MulScalar(total, 1.0 / count);
                }
            case LossReduction.Mean: using (values) return Mean(values);
            default:
                values.Dispose();
                throw new ArgumentException($"{op}: reduction {reduction} is not supported here (use Mean, Sum or None)");
        }
    }

    private static void CheckSameShape(string op, Tensor input, Tensor target)
    {
        Raw.CheckFloat(op, input);
        Raw.CheckFloat(op, target);
        if (!ShapeUtil.SameShape(input.Shape, target.Shape))
            throw new ShapeMismatchException($"{op}: input {ShapeUtil.Format(input.Shape)} and target {ShapeUtil.Format(target.Shape)} differ");
    }

    private static void CheckClassInputs(string op, Tensor scores, Tensor labels, Tensor? weight)
    {
        Raw.CheckFloat(op, scores);
        if (scores.Rank != 2) throw new ShapeMismatchException($"{op}: input must be [N, C], got {ShapeUtil.Format(scores.Shape)}");
        if (labels.DType != DType.Int32 || labels.Rank != 1 || labels.Shape[0] != scores.Shape[0])
            throw new ShapeMismatchException($"{op}: labels must be Int32 [{scores.Shape[0]}] for input {ShapeUtil.Format(scores.Shape)}, got {labels.Describe()}");
        if (weight is null) return;
        Raw.CheckSameKind(op, scores, weight);
        if (weight.Rank != 1 || weight.Shape[0] != scores.Shape[1])
            throw new ShapeMismatchException($"{op}: class weights {ShapeUtil.Format(weight.Shape)} must be [{scores.Shape[1]}] for input {ShapeUtil.Format(scores.Shape)}");
    }

    /// <summary>
    /// The class losses: loss_i = −Σ_c K[i, c]·logp[i, c] with K = (1 − ε)·w[yᵢ]·onehot(yᵢ) + (ε/C)·w, zero rows where ignored.
    /// Entries of logp where K is 0 are masked out first, so a −∞ log-probability of another class does not make 0·(−∞) = NaN.
    /// </summary>
    private static Tensor WeightedClassLoss(string op, Tensor logp, Tensor labels, Tensor? weight, int ignoreIndex, double smoothing, LossReduction reduction)
    {
        CheckClassInputs(op, logp, labels, weight);
        int n = logp.Shape[0], classes = logp.Shape[1];
        var y = labels.ToArray<int>();
        var w = weight?.ToArray<double>() ?? Enumerable.Repeat(1.0, classes).ToArray();
        var coefficients = new double[n * classes];
        double denominator = 0;
        for (int i = 0; i < n; i++)
        {
            if (y[i] == ignoreIndex) continue;
            if ((uint)y[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"{op}: label {y[i]} at index {i} is outside [0, {classes}) and is not the ignore index {ignoreIndex}");
            denominator += w[y[i]];
            if (smoothing > 0)
                for (int c = 0; c < classes; c++) coefficients[i * classes + c] = smoothing / classes * w[c];
            coefficients[i * classes + y[i]] += (1 - smoothing) * w[y[i]];
        }
        using var host = Tensor.FromHost(coefficients, [n, classes]);
        using var typed = Raw.CastTo(host, logp.DType);
        using var k = typed.To(logp.Device);
        using var zero = Tensor.Scalar(0, logp.DType, logp.Device);
        using var used = Raw.Binary(Backends.BinaryOp.NotEqual, k, zero);
        using var masked = Where(used, logp, zero);
        using var weighted = Mul(masked, k);
        using var rowSums = Sum(weighted, [1]);
        var perRow = Neg(rowSums);
        if (reduction == LossReduction.BatchMean)
        {
            perRow.Dispose();
            throw new ArgumentException($"{op}: reduction BatchMean is only for KlDivLoss (use Mean, Sum or None)");
        }
        return Reduced(op, perRow, reduction, denominator);
    }
}
