namespace NativeNet.Backends;

/// <summary>The fused optimiser updates a device backend may run in one pass (see <see cref="Backend.TryFusedUpdate"/>).</summary>
internal enum FusedUpdateRule
{
    /// <summary>Scalars (lr, wd): p −= lr·(g + wd·p).</summary>
    Sgd,
    /// <summary>Slot v; scalars (lr, wd, ρ): g' = g + wd·p; v = ρ·v + g'; p −= lr·v.</summary>
    Momentum,
    /// <summary>Slot v; scalars (lr, wd, ρ): g' = g + wd·p; v = ρ·v + g'; p −= lr·(g' + ρ·v) (PyTorch's Nesterov).</summary>
    MomentumNesterov,
    /// <summary>Slot v; scalars (lr, wd, ρ, 1+ρ): g' = g + wd·p; v_old = v; v = ρ·v − lr·g'; p += (1+ρ)·v − ρ·v_old (CS231n).</summary>
    NesterovCs231n,
    /// <summary>
    /// Slots m, v; scalars (wd, decayed, β1, 1−β1, β2, 1−β2, 1/√(1−β2^t), eps, lr/(1−β1^t)): g' = g + wd·p; p *= decayed;
    /// m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·(g'·g'); p −= step·m / (√v·invRootBc2 + eps).
    /// </summary>
    Adam,
    /// <summary>Slot s; scalars (lr, wd, eps): g' = g + wd·p; s += g'·g'; p −= lr·g' / (√s + eps).</summary>
    AdaGrad,
    /// <summary>Slot s; scalars (lr, wd, d, 1−d, eps): g' = g + wd·p; s = d·s + (1−d)·(g'·g'); p −= lr·g' / (√s + eps).</summary>
    RmsProp,
}

// Optional fused primitives: a backend that has a one-pass kernel for an operation the engine otherwise composes from the
// primitives overrides these and returns true; the default (every CPU backend) returns false and the caller runs the
// composed reference path, so the result and the backward rule are written once.
public abstract partial class Backend
{
    /// <summary>
    /// Runs one fused optimiser update in place on contiguous <paramref name="p"/>, <paramref name="g"/> and the rule's
    /// state slots (<paramref name="s0"/>, <paramref name="s1"/>; null where the rule has fewer), with the rule's scalars
    /// as documented on <see cref="FusedUpdateRule"/>, computed by the caller in double exactly as its CPU kernel splats them.
    /// Returns false when this backend has no fused kernel for it (the caller then composes the rule from primitives).
    /// </summary>
    internal virtual bool TryFusedUpdate(FusedUpdateRule rule, Tensor p, Tensor g, Tensor? s0, Tensor? s1, ReadOnlySpan<double> scalars) => false;

    /// <summary>
    /// Gathers <paramref name="output"/>[r, :] = <paramref name="weight"/>[indices[r], :] on the device, without reading the
    /// indices on the host; an index outside [0, rows) throws naming <paramref name="op"/>, the first such position, its
    /// index and the table size. Returns false when this backend has no such kernel.
    /// </summary>
    internal virtual bool TryEmbeddingForward(string op, Tensor weight, Tensor indices, Tensor output) => false;

    /// <summary>Adds <paramref name="dy"/>[r, :] into <paramref name="dweight"/>[indices[r], :] on the device (indices already checked). Returns false when this backend has no such kernel.</summary>
    internal virtual bool TryEmbeddingBackward(Tensor dy, Tensor indices, Tensor dweight) => false;

    /// <summary>
    /// Batch-normalisation forward of contiguous <paramref name="x"/> [N, C, *] per channel into <paramref name="y"/>, as
    /// <see cref="Ops.BatchNorm"/>: in training with the batch mean and biased variance, updating the running statistics
    /// given (the variance with the unbiased batch variance, weight <paramref name="momentum"/>), writing the batch mean to
    /// <paramref name="mean"/> and 1/√(var + eps) to <paramref name="invStd"/> (both [C]); in evaluation with the running
    /// statistics (then <paramref name="mean"/> and <paramref name="invStd"/> are not written). gamma and beta are both
    /// given or both null. Returns false when this backend has no fused batch norm.
    /// </summary>
    internal virtual bool TryBatchNormForward(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum, double eps, Tensor y, Tensor mean, Tensor invStd) => false;
}
