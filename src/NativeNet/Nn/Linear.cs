namespace NativeNet.Nn;

/// <summary>
/// Fully connected layer y = x·Wᵀ + b, as PyTorch's <c>nn.Linear</c>: weight [out, in], bias [out], both initialised
/// U(±1/√in) (PyTorch's default, Kaiming uniform with a = √5). Inputs [N, in] (or [N, …] flattened to [N, in]).
/// </summary>
public sealed class Linear : Module
{
    /// <summary>Creates the layer with PyTorch's default initialisation drawn from <paramref name="generator"/>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        RegisterParameter("weight", Init.KaimingUniform(Tensor.Empty([outFeatures, inFeatures], dtype), generator, a: Math.Sqrt(5)));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(inFeatures);
            RegisterParameter("bias", Init.Uniform(Tensor.Empty([outFeatures], dtype), -bound, bound, generator));
        }
    }

    /// <summary>Input features per example.</summary>
    public int InFeatures { get; }

    /// <summary>Output features per example.</summary>
    public int OutFeatures { get; }

    /// <summary>Weight [out, in].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>Bias [out], or null when created without one.</summary>
    public Tensor? Bias => FindParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Linear(input, Weight, Bias);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={PyBool(Bias is not null)}";
}

/// <summary>
/// Maxout unit (Goodfellow et al.): k linear pieces per output, y_j = max_i (W_{j,i}·x + b_{j,i}).
/// The pieces are one <see cref="Linear"/> "linear" of out·k outputs, rows j·k … j·k + k − 1 belonging to output j.
/// </summary>
public sealed class Maxout : Module
{
    private readonly Linear _linear;

    /// <summary>Creates a maxout layer of <paramref name="outFeatures"/> units with <paramref name="pieces"/> linear pieces each.</summary>
    public Maxout(int inFeatures, int outFeatures, int pieces = 2, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieces, 1);
        OutFeatures = outFeatures;
        Pieces = pieces;
        _linear = RegisterModule("linear", new Linear(inFeatures, outFeatures * pieces, true, dtype, generator));
    }

    /// <summary>Output units.</summary>
    public int OutFeatures { get; }

    /// <summary>Linear pieces per unit.</summary>
    public int Pieces { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        using var scope = new TensorScope();
        var all = _linear.Forward(input);
        var grouped = Ops.Reshape(all, all.Shape[0], OutFeatures, Pieces);
        return scope.Keep(Ops.Max(grouped, [2]));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"out_features={OutFeatures}, pieces={Pieces}";
}

/// <summary>Flattens [N, d1, d2, …] to [N, d1·d2·…] (PyTorch's <c>nn.Flatten()</c> with its default start_dim = 1).</summary>
public sealed class Flatten : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Flatten();
}

/// <summary>A table of <c>numEmbeddings</c> vectors of size <c>embeddingDim</c>, looked up by Int32 indices; initialised N(0, 1) as PyTorch.</summary>
public sealed class Embedding : Module
{
    /// <summary>Creates the table.</summary>
    public Embedding(int numEmbeddings, int embeddingDim, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numEmbeddings, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingDim, 1);
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        RegisterParameter("weight", Init.Normal(Tensor.Empty([numEmbeddings, embeddingDim], dtype), 0, 1, generator));
    }

    /// <summary>Number of rows.</summary>
    public int NumEmbeddings { get; }

    /// <summary>Size of each vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The table [numEmbeddings, embeddingDim].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>Rows of the table for Int32 <paramref name="input"/> of any shape: [..input.shape, embeddingDim] (see <see cref="Ops.Embedding"/>).</summary>
    public override Tensor Forward(Tensor input) => Ops.Embedding(input, Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumEmbeddings}, {EmbeddingDim}";
}
