using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>Mean softmax cross-entropy of logits [N, C] against class indices (Int32 [N]); gradient (softmax − onehot)/N.</summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, Tensor labels)
    {
        var gate = new SoftmaxCrossEntropyGate();
        return Apply(gate, () => gate.Forward(logits, labels), logits);
    }

    /// <summary>Mean multiclass SVM hinge loss Σ_{j≠y} max(0, s_j − s_y + margin) (squared hinge when asked).</summary>
    public static Tensor SvmLoss(Tensor scores, Tensor labels, double margin = 1.0, bool squared = false)
    {
        var gate = new SvmLossGate(margin, squared);
        return Apply(gate, () => gate.Forward(scores, labels), scores);
    }

    /// <summary>Mean binary cross-entropy from logits z and targets y in [0, 1]: max(z,0) − z·y + log(1 + e^−|z|).</summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor targets)
    {
        var gate = new BceGate(fromLogits: true);
        return Apply(gate, () => gate.Forward(logits, targets), logits);
    }

    /// <summary>Mean binary cross-entropy from probabilities p: −(y log p + (1−y) log(1−p)), logs clamped at −100 as PyTorch does.</summary>
    public static Tensor BinaryCrossEntropy(Tensor probabilities, Tensor targets)
    {
        var gate = new BceGate(fromLogits: false);
        return Apply(gate, () => gate.Forward(probabilities, targets), probabilities);
    }

    /// <summary>Mean squared error.</summary>
    public static Tensor MseLoss(Tensor prediction, Tensor target)
    {
        if (!ShapeUtil.SameShape(prediction.Shape, target.Shape))
            throw new ShapeMismatchException($"MseLoss: prediction {ShapeUtil.Format(prediction.Shape)} and target {ShapeUtil.Format(target.Shape)} differ");
        using var diff = Sub(prediction, target);
        using var sq = Square(diff);
        return Mean(sq);
    }

    /// <summary>L2 penalty Σ w² (biases are not regularised: pass weights only).</summary>
    public static Tensor L2Penalty(Tensor w)
    {
        using var sq = Square(w);
        return Sum(sq);
    }

    /// <summary>L1 penalty Σ |w|.</summary>
    public static Tensor L1Penalty(Tensor w)
    {
        using var a = Abs(w);
        return Sum(a);
    }

    /// <summary>One-hot rows [N, C] of labels (Int32 [N]) in <paramref name="like"/>'s dtype and device; checks every label is in [0, C).</summary>
    public static Tensor OneHot(Tensor labels, int classes, Tensor like, string op = "OneHot")
    {
        if (labels.DType != DType.Int32 || labels.Rank != 1)
            throw new ArgumentException($"{op}: labels must be an Int32 tensor of rank 1, got {labels.Describe()}");
        var values = labels.ToArray<int>();
        for (int i = 0; i < values.Length; i++)
            if ((uint)values[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"{op}: label {values[i]} at index {i} is outside [0, {classes})");
        // float targets (a language model's [N, vocab]) are built as float: no double array and cast pass
        using var host = like.DType == DType.Float32 ? HostOneHot(values, classes, 1f) : HostOneHot(values, classes, 1.0);
        using var typed = Raw.CastTo(host, like.DType);
        return typed.To(like.Device);
    }

    private static Tensor HostOneHot<T>(int[] values, int classes, T one) where T : unmanaged
    {
        var hot = new T[values.Length * classes];
        for (int i = 0; i < values.Length; i++) hot[i * classes + values[i]] = one;
        return Tensor.FromHost(hot, [values.Length, classes]);
    }

    internal static void CheckClassification(string op, Tensor scores, Tensor labels)
    {
        Raw.CheckFloat(op, scores);
        if (scores.Rank != 2) throw new ShapeMismatchException($"{op}: scores must be [N, C], got {ShapeUtil.Format(scores.Shape)}");
        if (labels.Rank != 1 || labels.Shape[0] != scores.Shape[0])
            throw new ShapeMismatchException($"{op}: labels {ShapeUtil.Format(labels.Shape)} must be [{scores.Shape[0]}] for scores {ShapeUtil.Format(scores.Shape)}");
        if (scores.Shape[0] == 0) throw new ArgumentException($"{op}: empty batch");
    }
}

/// <summary>Gate of softmax cross-entropy: caches the softmax and the one-hot targets.</summary>
public sealed class SoftmaxCrossEntropyGate : Gate
{
    private Tensor? _softmax, _oneHot;

    /// <inheritdoc/>
    public override string Name => "SoftmaxCrossEntropy";

    /// <summary>−mean log softmax(s)[y].</summary>
    public Tensor Forward(Tensor logits, Tensor labels)
    {
        Ops.CheckClassification(Name, logits, labels);
        using var oneHot = Ops.OneHot(labels, logits.Shape[1], logits, Name);
        using var logp = Raw.Softmax(logits, 1, log: true);
        // Select, not multiply: a non-target log-probability of −∞ times a one-hot 0 would be NaN.
        using var zero = Tensor.Scalar(0, logits.DType, logits.Device);
        using var picked = Raw.Where(oneHot, logp, zero);
        using var total = Raw.Sum(picked);
        _oneHot = Save(oneHot);
        _softmax = Save(Raw.Unary(UnaryOp.Exp, logp));
        return Raw.MulScalar(total, -1.0 / logits.Shape[0]);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        using var diff = Raw.Sub(_softmax!, _oneHot!);
        // the upstream scalar and 1/N folded first: one pass over [N, C] instead of two
        using var perExample = Raw.MulScalar(g, 1.0 / _softmax!.Shape[0]);
        return [Raw.Mul(diff, perExample)];
    }
}

/// <summary>Gate of the multiclass SVM (hinge) loss.</summary>
public sealed class SvmLossGate(double margin, bool squared) : Gate
{
    private Tensor? _margins, _oneHot;

    /// <inheritdoc/>
    public override string Name => squared ? "SquaredSvmLoss" : "SvmLoss";

    /// <summary>Mean over examples of Σ_{j≠y} max(0, s_j − s_y + margin) (squared terms when asked).</summary>
    public Tensor Forward(Tensor scores, Tensor labels)
    {
        Ops.CheckClassification(Name, scores, labels);
        using var oneHot = Ops.OneHot(labels, scores.Shape[1], scores, Name);
        // Selects instead of one-hot products (±∞ · 0 is NaN), and PyTorch's order (margin − s_y) + s_j, so huge
        // finite scores round as in torch.nn.functional.multi_margin_loss. A NaN term counts as 0 (max(0, NaN) there).
        using var zero = Tensor.Scalar(0, scores.DType, scores.Device);
        using var picked = Raw.Where(oneHot, scores, zero);
        using var correct = Raw.Sum(picked, [1], keepDims: true);
        using var negCorrect = Raw.Unary(UnaryOp.Neg, correct);
        using var marginMinusCorrect = Raw.Unary(UnaryOp.AddScalar, negCorrect, margin);
        using var shifted = Raw.Add(marginMinusCorrect, scores);
        using var positive = Raw.Binary(BinaryOp.Greater, shifted, zero);
        using var hinge = Raw.Where(positive, shifted, zero);
        var margins = Raw.Where(oneHot, zero, hinge);
        _margins = Save(margins);
        _oneHot = Save(oneHot);
        using var terms = squared ? Raw.Unary(UnaryOp.Square, margins) : margins.Detach();
        margins.Dispose();
        using var total = Raw.Sum(terms);
        return Raw.MulScalar(total, 1.0 / scores.Shape[0]);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        // d/ds_j = w_j for j≠y with w = 1[margin>0] (or 2·margin when squared); d/ds_y = −Σ_j w_j.
        using var zero = Tensor.Scalar(0, _margins!.DType, _margins.Device);
        using var weights = squared ? Raw.MulScalar(_margins, 2) : Raw.Binary(BinaryOp.Greater, _margins, zero);
        using var rowSum = Raw.Sum(weights, [1], keepDims: true);
        using var toTrue = Raw.Mul(_oneHot!, rowSum);
        using var dScores = Raw.Sub(weights, toTrue);
        using var scaled = Raw.Mul(dScores, g);
        return [Raw.MulScalar(scaled, 1.0 / _margins.Shape[0])];
    }
}

/// <summary>Gate of binary cross-entropy, from logits (stable form) or from probabilities.</summary>
public sealed class BceGate(bool fromLogits) : Gate
{
    private Tensor? _input, _targets;

    /// <inheritdoc/>
    public override string Name => fromLogits ? "BinaryCrossEntropyWithLogits" : "BinaryCrossEntropy";

    /// <summary>The mean loss.</summary>
    public Tensor Forward(Tensor input, Tensor targets)
    {
        Raw.CheckFloat(Name, input);
        Raw.CheckSameKind(Name, input, targets);
        if (!ShapeUtil.SameShape(input.Shape, targets.Shape))
            throw new ShapeMismatchException($"{Name}: input {ShapeUtil.Format(input.Shape)} and targets {ShapeUtil.Format(targets.Shape)} differ");
        _input = Save(input);
        _targets = Save(targets);
        using var scope = new TensorScope();
        Tensor perElement;
        if (fromLogits)
        {
            var relu = Raw.Unary(UnaryOp.Relu, input);
            var zy = Raw.Mul(input, targets);
            var negAbs = Raw.Unary(UnaryOp.Neg, Raw.Unary(UnaryOp.Abs, input));
            var softplus = Raw.Unary(UnaryOp.Log, Raw.Unary(UnaryOp.AddScalar, Raw.Unary(UnaryOp.Exp, negAbs), 1));
            perElement = Raw.Add(Raw.Sub(relu, zy), softplus);
        }
        else
        {
            var logP = Raw.Unary(UnaryOp.Clip, Raw.Unary(UnaryOp.Log, input), -100, double.MaxValue);
            var oneMinusP = Raw.Unary(UnaryOp.AddScalar, Raw.Unary(UnaryOp.Neg, input), 1);
            var log1mP = Raw.Unary(UnaryOp.Clip, Raw.Unary(UnaryOp.Log, oneMinusP), -100, double.MaxValue);
            var oneMinusY = Raw.Unary(UnaryOp.AddScalar, Raw.Unary(UnaryOp.Neg, targets), 1);
            perElement = Raw.Unary(UnaryOp.Neg, Raw.Add(Raw.Mul(targets, logP), Raw.Mul(oneMinusY, log1mP)));
        }
        var total = Raw.Sum(perElement);
        return scope.Keep(Raw.MulScalar(total, 1.0 / Math.Max(1, input.Numel)));
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        using var scope = new TensorScope();
        Tensor local;
        if (fromLogits)
        {
            local = Raw.Sub(Raw.Unary(UnaryOp.Sigmoid, _input!), _targets!);
        }
        else
        {
            // d/dp = (p − y) / (p (1 − p))
            var oneMinusP = Raw.Unary(UnaryOp.AddScalar, Raw.Unary(UnaryOp.Neg, _input!), 1);
            local = Raw.Div(Raw.Sub(_input!, _targets!), Raw.Mul(_input!, oneMinusP));
        }
        return [scope.Keep(Raw.Mul(Raw.MulScalar(local, 1.0 / Math.Max(1, _input!.Numel)), g))];
    }
}
