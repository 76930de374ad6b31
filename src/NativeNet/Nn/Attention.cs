namespace NativeNet.Nn;

/// <summary>
/// Multi-head attention as PyTorch's <c>nn.MultiheadAttention</c>, with its parameter names and layout: <c>in_proj_weight</c>
/// [3E, E] (the query, key and value projections stacked, Xavier-uniform), <c>in_proj_bias</c> [3E] (zeros),
/// <c>out_proj.weight</c> [E, E] and <c>out_proj.bias</c> [E] (zeros). Inputs are [L, B, E] (sequence first, PyTorch's
/// default) or [B, L, E] with <c>batchFirst</c>; the heads run through the fused <see cref="Ops.ScaledDotProductAttention"/>.
/// Only the attention output is returned (PyTorch's <c>need_weights=False</c>): the fused kernel never forms the weights.
/// </summary>
public sealed class MultiheadAttention : Module
{
    private readonly Linear _outProj;

    /// <summary>Creates the layer; <paramref name="embedDim"/> must be divisible by <paramref name="numHeads"/>.</summary>
    public MultiheadAttention(int embedDim, int numHeads, double dropout = 0, bool bias = true, bool batchFirst = false,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(embedDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numHeads, 1);
        if (embedDim % numHeads != 0)
            throw new ArgumentException($"MultiheadAttention: embed_dim {embedDim} is not divisible by num_heads {numHeads}");
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), $"MultiheadAttention: dropout must be in [0, 1), got {dropout}");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        Dropout = dropout;
        BatchFirst = batchFirst;
        RegisterParameter("in_proj_weight", Init.XavierUniform(Tensor.Empty([3 * embedDim, embedDim], dtype), generator));
        if (bias) RegisterParameter("in_proj_bias", Tensor.Zeros([3 * embedDim], dtype));
        _outProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, bias, dtype, generator));
        if (_outProj.Bias is { } outBias) Init.Zeros(outBias);
    }

    /// <summary>Model width E.</summary>
    public int EmbedDim { get; }

    /// <summary>Number of heads H (each of width E/H).</summary>
    public int NumHeads { get; }

    /// <summary>Dropout probability on the attention weights in training.</summary>
    public double Dropout { get; }

    /// <summary>Whether inputs are [B, L, E] rather than [L, B, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>Stacked query, key and value projection weights [3E, E].</summary>
    public Tensor InProjWeight => GetParameter("in_proj_weight");

    /// <summary>Stacked projection biases [3E], or null without bias.</summary>
    public Tensor? InProjBias => FindParameter("in_proj_bias");

    /// <summary>The output projection (E → E).</summary>
    public Linear OutProj => _outProj;

    /// <summary>Self-attention: query, key and value are all <paramref name="input"/>.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, input, input);

    /// <summary>
    /// Attention of <paramref name="query"/> [L, B, E] over <paramref name="key"/> and <paramref name="value"/> [S, B, E]
    /// ([B, ·, E] with batchFirst) as PyTorch: <paramref name="keyPaddingMask"/> [B, S] and <paramref name="attnMask"/>
    /// [L, S] or [B·H, L, S] are Int32 (nonzero = the key is ignored, PyTorch's True) or float (added to the scores).
    /// <paramref name="causal"/> (not in PyTorch 1.13's module) masks key j &gt; query i without a mask tensor, on the
    /// fused kernel's fast path. Returns [L, B, E] (or [B, L, E]).
    /// </summary>
    public Tensor Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null, Tensor? attnMask = null, bool causal = false)
    {
        const string op = "MultiheadAttention";
        if (query.Rank != 3 || key.Rank != 3 || value.Rank != 3)
            throw new ShapeMismatchException($"{op}: query, key and value must be rank 3 ({(BatchFirst ? "[B, L, E]" : "[L, B, E]")}), got {ShapeUtil.Format(query.Shape)}, {ShapeUtil.Format(key.Shape)}, {ShapeUtil.Format(value.Shape)}");
        using var scope = new TensorScope();
        var q = BatchFirst ? query : Ops.Transpose(query, 0, 1);
        var k = BatchFirst ? key : Ops.Transpose(key, 0, 1);
        var v = BatchFirst ? value : Ops.Transpose(value, 0, 1);
        int b = q.Shape[0], l = q.Shape[1], s = k.Shape[1], e = EmbedDim, h = NumHeads, hd = e / h;
        if (q.Shape[2] != e || k.Shape[2] != e || v.Shape[2] != e || k.Shape[0] != b || v.Shape[0] != b || v.Shape[1] != s)
            throw new ShapeMismatchException($"{op}: query {ShapeUtil.Format(query.Shape)}, key {ShapeUtil.Format(key.Shape)}, value {ShapeUtil.Format(value.Shape)} do not fit embed_dim {e}{(BatchFirst ? " (batch first)" : "")}");
        var bias = InProjBias;
        Tensor Project(Tensor x, int part, int length)
        {
            var w = Ops.Narrow(InProjWeight, 0, part * e, e);
            var bb = bias is null ? null : Ops.Narrow(bias, 0, part * e, e);
            var y = Ops.Linear(Ops.Reshape(x, b * length, e), w, bb);
            return Ops.Permute(Ops.Reshape(y, b, length, h, hd), 0, 2, 1, 3);
        }
        var qh = Project(q, 0, l);
        var kh = Project(k, 1, s);
        var vh = Project(v, 2, s);
        var mask = CombinedMask(op, keyPaddingMask, attnMask, query.DType, b, l, s);
        var attended = Ops.ScaledDotProductAttention(qh, kh, vh, mask, causal, IsTraining ? Dropout : 0);
        var merged = Ops.Reshape(Ops.Permute(attended, 0, 2, 1, 3), b * l, e);
        var output = Ops.Reshape(_outProj.Forward(merged), b, l, e);
        return scope.Keep(BatchFirst ? output : Ops.Transpose(output, 0, 1));
    }

    /// <summary>The two PyTorch masks as one additive float mask broadcastable to [B, H, L, S] (or null for none).</summary>
    private Tensor? CombinedMask(string op, Tensor? keyPaddingMask, Tensor? attnMask, DType dtype, int b, int l, int s)
    {
        Tensor? combined = null;
        if (attnMask is not null)
        {
            Tensor additive = Additive(attnMask, dtype);
            if (attnMask.Rank == 2 && attnMask.Shape[0] == l && attnMask.Shape[1] == s) combined = Ops.Reshape(additive, 1, 1, l, s);
            else if (attnMask.Rank == 3 && attnMask.Shape[0] == b * NumHeads && attnMask.Shape[1] == l && attnMask.Shape[2] == s)
                combined = Ops.Reshape(additive, b, NumHeads, l, s);
            else throw new ShapeMismatchException($"{op}: attn_mask must be [{l}, {s}] or [{b * NumHeads}, {l}, {s}], got {ShapeUtil.Format(attnMask.Shape)}");
        }
        if (keyPaddingMask is not null)
        {
            if (keyPaddingMask.Rank != 2 || keyPaddingMask.Shape[0] != b || keyPaddingMask.Shape[1] != s)
                throw new ShapeMismatchException($"{op}: key_padding_mask must be [{b}, {s}], got {ShapeUtil.Format(keyPaddingMask.Shape)}");
            var padding = Ops.Reshape(Additive(keyPaddingMask, dtype), b, 1, 1, s);
            combined = combined is null ? padding : Ops.Add(combined, padding);
        }
        return combined;
    }

    /// <summary>Int32 (nonzero = masked) → 0 / −∞; a float mask is taken as it is, in the model's dtype.</summary>
    private static Tensor Additive(Tensor mask, DType dtype)
    {
        if (mask.DType != DType.Int32) return mask.DType == dtype ? mask : mask.To(dtype);
        var masked = Ops.Cast(mask, dtype);
        using var zero = Tensor.Scalar(0, dtype, mask.Device);
        using var minusInf = Tensor.Scalar(double.NegativeInfinity, dtype, mask.Device);
        return Ops.Where(masked, minusInf, zero);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"embed_dim={EmbedDim}, num_heads={NumHeads}, dropout={PyFloat(Dropout)}, batch_first={PyBool(BatchFirst)}";
}

/// <summary>
/// Learned absolute positions: a parameter <c>weight</c> [maxLength, dim] (N(0, 0.02²), GPT-2's initialisation) whose first T
/// rows are added to an input [B, T, dim].
/// </summary>
public sealed class LearnedPositionalEmbedding : Module
{
    /// <summary>Creates the table.</summary>
    public LearnedPositionalEmbedding(int maxLength, int dim, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        MaxLength = maxLength;
        Dim = dim;
        RegisterParameter("weight", Init.Normal(Tensor.Empty([maxLength, dim], dtype), 0, 0.02, generator));
    }

    /// <summary>Longest sequence the table covers.</summary>
    public int MaxLength { get; }

    /// <summary>Width of each position vector.</summary>
    public int Dim { get; }

    /// <summary>The table [maxLength, dim].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>x + weight[:T] for x [B, T, dim].</summary>
    public override Tensor Forward(Tensor input) => PositionalEncodings.AddPositions("LearnedPositionalEmbedding", input, Weight, MaxLength, Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{MaxLength}, {Dim}";
}

/// <summary>
/// Fixed sinusoidal positions of "Attention Is All You Need" (as PyTorch's transformer tutorial): buffer <c>pe</c>
/// [maxLength, dim] with pe[p, 2i] = sin(p / 10000^{2i/dim}) and pe[p, 2i + 1] = cos(p / 10000^{2i/dim}); its first T rows
/// are added to an input [B, T, dim].
/// </summary>
public sealed class SinusoidalPositionalEncoding : Module
{
    /// <summary>Creates the table.</summary>
    public SinusoidalPositionalEncoding(int maxLength, int dim, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        MaxLength = maxLength;
        Dim = dim;
        var pe = new double[maxLength * dim];
        for (int p = 0; p < maxLength; p++)
            for (int i = 0; i < dim; i++)
            {
                double angle = p * Math.Exp(-(i / 2 * 2) * Math.Log(10000.0) / dim);
                pe[p * dim + i] = i % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle);
            }
        var table = Tensor.FromArray(pe, maxLength, dim);
        if (dtype == DType.Float64) RegisterBuffer("pe", table);
        else
        {
            RegisterBuffer("pe", table.To(dtype));
            table.Dispose();
        }
    }

    /// <summary>Longest sequence the table covers.</summary>
    public int MaxLength { get; }

    /// <summary>Width of each position vector.</summary>
    public int Dim { get; }

    /// <summary>x + pe[:T] for x [B, T, dim].</summary>
    public override Tensor Forward(Tensor input) => PositionalEncodings.AddPositions("SinusoidalPositionalEncoding", input, GetBuffer("pe"), MaxLength, Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{MaxLength}, {Dim}";
}

internal static class PositionalEncodings
{
    public static Tensor AddPositions(string op, Tensor input, Tensor table, int maxLength, int dim)
    {
        if (input.Rank != 3 || input.Shape[2] != dim)
            throw new ShapeMismatchException($"{op}: input must be [B, T, {dim}], got {ShapeUtil.Format(input.Shape)}");
        if (input.Shape[1] > maxLength)
            throw new ShapeMismatchException($"{op}: sequence length {input.Shape[1]} exceeds the table's {maxLength} positions");
        using var scope = new TensorScope();
        return scope.Keep(Ops.Add(input, Ops.Narrow(table, 0, 0, input.Shape[1])));
    }
}
