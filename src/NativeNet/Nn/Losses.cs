namespace NativeNet.Nn;

/// <summary>A loss criterion as PyTorch's <c>nn.*Loss</c> modules: <see cref="Forward"/>(input, target) with a fixed reduction.</summary>
public abstract class Loss(LossReduction reduction)
{
    /// <summary>How the per-element values are reduced.</summary>
    public LossReduction Reduction { get; } = reduction;

    /// <summary>The loss of <paramref name="input"/> against <paramref name="target"/>.</summary>
    public abstract Tensor Forward(Tensor input, Tensor target);
}

/// <summary>Negative log-likelihood of log-probabilities [N, C] against Int32 labels [N] (<see cref="Ops.NllLoss"/>).</summary>
public sealed class NLLLoss(Tensor? weight = null, int ignoreIndex = -100, LossReduction reduction = LossReduction.Mean) : Loss(reduction)
{
    /// <summary>Class weights [C], or null.</summary>
    public Tensor? Weight { get; } = weight;
    /// <summary>The label whose rows are skipped.</summary>
    public int IgnoreIndex { get; } = ignoreIndex;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.NllLoss(input, target, Weight, IgnoreIndex, Reduction);
}

/// <summary>Cross-entropy of logits [N, C] against Int32 labels [N], with class weights and label smoothing (<see cref="Ops.CrossEntropy"/>).</summary>
public sealed class CrossEntropyLoss(Tensor? weight = null, int ignoreIndex = -100, LossReduction reduction = LossReduction.Mean, double labelSmoothing = 0)
    : Loss(reduction)
{
    /// <summary>Class weights [C], or null.</summary>
    public Tensor? Weight { get; } = weight;
    /// <summary>The label whose rows are skipped.</summary>
    public int IgnoreIndex { get; } = ignoreIndex;
    /// <summary>ε: the share of the target mass spread uniformly over the classes.</summary>
    public double LabelSmoothing { get; } = labelSmoothing;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.CrossEntropy(input, target, Weight, IgnoreIndex, LabelSmoothing, Reduction);
}

/// <summary>Huber loss with threshold δ (<see cref="Ops.HuberLoss"/>).</summary>
public sealed class HuberLoss(LossReduction reduction = LossReduction.Mean, double delta = 1) : Loss(reduction)
{
    /// <summary>δ, where the loss turns from quadratic to linear.</summary>
    public double Delta { get; } = delta;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.HuberLoss(input, target, Delta, Reduction);
}

/// <summary>Smooth L1 loss with threshold β (<see cref="Ops.SmoothL1Loss"/>).</summary>
public sealed class SmoothL1Loss(LossReduction reduction = LossReduction.Mean, double beta = 1) : Loss(reduction)
{
    /// <summary>β, where the loss turns from quadratic to linear.</summary>
    public double Beta { get; } = beta;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.SmoothL1Loss(input, target, Beta, Reduction);
}

/// <summary>Kullback–Leibler divergence of log-probabilities from a target distribution (<see cref="Ops.KlDivLoss"/>).</summary>
public sealed class KLDivLoss(LossReduction reduction = LossReduction.Mean, bool logTarget = false) : Loss(reduction)
{
    /// <summary>Whether the target holds log-probabilities.</summary>
    public bool LogTarget { get; } = logTarget;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.KlDivLoss(input, target, Reduction, LogTarget);
}

/// <summary>Squared error (<see cref="Ops.MseLoss(Tensor, Tensor, LossReduction)"/>).</summary>
public sealed class MSELoss(LossReduction reduction = LossReduction.Mean) : Loss(reduction)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.MseLoss(input, target, Reduction);
}

/// <summary>Absolute error (<see cref="Ops.L1Loss"/>).</summary>
public sealed class L1Loss(LossReduction reduction = LossReduction.Mean) : Loss(reduction)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.L1Loss(input, target, Reduction);
}

/// <summary>Binary cross-entropy of probabilities (<see cref="Ops.BinaryCrossEntropy(Tensor, Tensor, LossReduction)"/>).</summary>
public sealed class BCELoss(LossReduction reduction = LossReduction.Mean) : Loss(reduction)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.BinaryCrossEntropy(input, target, Reduction);
}

/// <summary>Binary cross-entropy of logits (<see cref="Ops.BinaryCrossEntropyWithLogits(Tensor, Tensor, LossReduction)"/>).</summary>
public sealed class BCEWithLogitsLoss(LossReduction reduction = LossReduction.Mean) : Loss(reduction)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Ops.BinaryCrossEntropyWithLogits(input, target, Reduction);
}
