namespace NativeNet.Nn;

/// <summary>
/// Shared implementation of <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/>: learned weight (γ, ones) and bias
/// (β, zeros) per channel, buffers running_mean (zeros), running_var (ones) and num_batches_tracked, as PyTorch.
/// Training normalises with batch statistics and updates the running ones (the variance with the unbiased batch
/// variance); evaluation normalises with the running statistics.
/// </summary>
public abstract class BatchNormBase : Module
{
    private int _batchesTracked;

    /// <summary>Creates the parameters and buffers for <paramref name="numFeatures"/> channels.</summary>
    protected BatchNormBase(int numFeatures, double eps, double momentum, bool affine, DType dtype)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"{GetType().Name}: eps must be positive, got {eps}");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), $"{GetType().Name}: momentum must be in [0, 1], got {momentum}");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        if (affine)
        {
            RegisterParameter("weight", Tensor.Ones([numFeatures], dtype));
            RegisterParameter("bias", Tensor.Zeros([numFeatures], dtype));
        }
        RegisterBuffer("running_mean", Tensor.Zeros([numFeatures], dtype));
        RegisterBuffer("running_var", Tensor.Ones([numFeatures], dtype));
        RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Int32));
    }

    /// <summary>Channels.</summary>
    public int NumFeatures { get; }
    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }
    /// <summary>Weight of the new batch in the running averages.</summary>
    public double Momentum { get; }

    /// <summary>γ [C], or null without affine parameters.</summary>
    public Tensor? Weight => FindParameter("weight");
    /// <summary>β [C], or null without affine parameters.</summary>
    public Tensor? Bias => FindParameter("bias");
    /// <summary>Running mean [C].</summary>
    public Tensor RunningMean => GetBuffer("running_mean");
    /// <summary>Running (unbiased) variance [C].</summary>
    public Tensor RunningVar => GetBuffer("running_var");
    /// <summary>Training batches seen (Int32 scalar).</summary>
    public Tensor NumBatchesTracked => GetBuffer("num_batches_tracked");

    /// <summary>Throws unless <paramref name="input"/> has a rank this layer accepts.</summary>
    protected abstract void CheckRank(Tensor input);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        CheckRank(input);
        if (input.Shape[1] != NumFeatures)
            throw new ShapeMismatchException($"{GetType().Name}: input {ShapeUtil.Format(input.Shape)} has {input.Shape[1]} channels, expected {NumFeatures}");
        var y = Ops.BatchNorm(input, Weight, Bias, RunningMean, RunningVar, IsTraining, Momentum, Eps);
        if (IsTraining)
        {
            _batchesTracked++;
            NumBatchesTracked.Backend.Fill(NumBatchesTracked, _batchesTracked);
        }
        return y;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumFeatures}, eps={PyFloat(Eps)}, momentum={PyFloat(Momentum)}, affine={PyBool(Weight is not null)}";
}

/// <summary>Batch normalisation of [N, C] (or [N, C, L]) input per feature C.</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, DType dtype = DType.Float32)
    : BatchNormBase(numFeatures, eps, momentum, affine, dtype)
{
    /// <inheritdoc/>
    protected override void CheckRank(Tensor input)
    {
        if (input.Rank is not (2 or 3)) throw new ShapeMismatchException($"BatchNorm1d: input must be [N, C] or [N, C, L], got {ShapeUtil.Format(input.Shape)}");
    }
}

/// <summary>Batch normalisation of NCHW input per channel ("spatial batch norm").</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, DType dtype = DType.Float32)
    : BatchNormBase(numFeatures, eps, momentum, affine, dtype)
{
    /// <inheritdoc/>
    protected override void CheckRank(Tensor input)
    {
        if (input.Rank != 4) throw new ShapeMismatchException($"BatchNorm2d: input must be [N, C, H, W], got {ShapeUtil.Format(input.Shape)}");
    }
}

/// <summary>Inverted dropout with drop probability <c>p</c> (see <see cref="Ops.Dropout"/>): identity in evaluation mode.</summary>
public sealed class Dropout : Module
{
    /// <summary>Creates the layer; masks come from <paramref name="generator"/> (default <see cref="NativeNet.Generator.Default"/>).</summary>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must be in [0, 1], got {p}");
        P = p;
        Generator = generator ?? NativeNet.Generator.Default;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>The source of masks (reseed it to repeat a mask).</summary>
    public Generator Generator { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Dropout(input, P, IsTraining, Generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={PyFloat(P)}";
}
