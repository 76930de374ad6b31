namespace NativeNet.Nn;

/// <summary>
/// Layer normalisation over the last dims <c>normalizedShape</c>, as PyTorch's <c>nn.LayerNorm</c>: with
/// <c>elementwiseAffine</c> a learned "weight" (ones) and "bias" (zeros) of that shape.
/// </summary>
public sealed class LayerNorm : Module
{
    /// <summary>Creates the layer.</summary>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
    {
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d < 1))
            throw new ArgumentException($"LayerNorm: normalized shape {ShapeUtil.Format(normalizedShape)} must have at least one dim, each positive");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"LayerNorm: eps must be positive, got {eps}");
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        if (elementwiseAffine)
        {
            RegisterParameter("weight", Tensor.Ones(NormalizedShape, dtype));
            RegisterParameter("bias", Tensor.Zeros(NormalizedShape, dtype));
        }
    }

    /// <summary>Creates the layer over the last dim of size <paramref name="normalizedSize"/>.</summary>
    public LayerNorm(int normalizedSize, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
        : this([normalizedSize], eps, elementwiseAffine, dtype) { }

    /// <summary>The trailing dims normalised over.</summary>
    public int[] NormalizedShape { get; }
    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }
    /// <summary>γ, or null without affine parameters.</summary>
    public Tensor? Weight => FindParameter("weight");
    /// <summary>β, or null without affine parameters.</summary>
    public Tensor? Bias => FindParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.LayerNorm(input, NormalizedShape, Weight, Bias, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"({string.Join(", ", NormalizedShape)}{(NormalizedShape.Length == 1 ? "," : "")}), eps={PyFloat(Eps)}, elementwise_affine={PyBool(Weight is not null)}";
}

/// <summary>
/// Group normalisation of [N, C, *] input in <c>numGroups</c> groups of channels, as PyTorch's <c>nn.GroupNorm</c>: with
/// <c>affine</c> a learned per-channel "weight" (ones) and "bias" (zeros).
/// </summary>
public sealed class GroupNorm : Module
{
    /// <summary>Creates the layer.</summary>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numGroups, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numChannels, 1);
        if (numChannels % numGroups != 0) throw new ArgumentException($"GroupNorm: num_channels {numChannels} must be divisible by num_groups {numGroups}");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"GroupNorm: eps must be positive, got {eps}");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        if (affine)
        {
            RegisterParameter("weight", Tensor.Ones([numChannels], dtype));
            RegisterParameter("bias", Tensor.Zeros([numChannels], dtype));
        }
    }

    /// <summary>Groups the channels are split into.</summary>
    public int NumGroups { get; }
    /// <summary>Channels C.</summary>
    public int NumChannels { get; }
    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }
    /// <summary>γ [C], or null without affine parameters.</summary>
    public Tensor? Weight => FindParameter("weight");
    /// <summary>β [C], or null without affine parameters.</summary>
    public Tensor? Bias => FindParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank < 2 || input.Shape[1] != NumChannels)
            throw new ShapeMismatchException($"GroupNorm: input {ShapeUtil.Format(input.Shape)} must be [N, {NumChannels}, ...]");
        return Ops.GroupNorm(input, NumGroups, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumGroups}, {NumChannels}, eps={PyFloat(Eps)}, affine={PyBool(Weight is not null)}";
}
