namespace NativeNet.Nn;

/// <summary>
/// Pre-norm Transformer block (GPT-2's layout): x + attn(ln_1(x)), then x + mlp(ln_2(x)) with mlp = Linear(E → 4E) − GELU −
/// Linear(4E → E) and dropout after the attention and the MLP. Inputs [B, T, E] (batch first); <c>causal</c> masks the
/// future inside the attention. Children: <c>ln_1</c>, <c>attn</c> (<see cref="MultiheadAttention"/>), <c>ln_2</c>,
/// <c>mlp_fc</c>, <c>mlp_proj</c>.
/// </summary>
public sealed class TransformerBlock : Module
{
    private readonly LayerNorm _ln1, _ln2;
    private readonly MultiheadAttention _attn;
    private readonly Linear _fc, _proj;
    private readonly GELU _gelu = new();
    private readonly Generator? _dropoutGenerator;

    /// <summary>
    /// Creates a block of width <paramref name="embedDim"/> with <paramref name="numHeads"/> heads and an MLP of <paramref name="mlpRatio"/>·E units;
    /// <paramref name="attentionDropout"/> (default: <paramref name="dropout"/>) drops attention weights, any nonzero value leaving the fused kernel;
    /// the residual dropout masks come from <paramref name="dropoutGenerator"/> (default <see cref="NativeNet.Generator.Default"/>).
    /// </summary>
    public TransformerBlock(int embedDim, int numHeads, bool causal = true, int mlpRatio = 4, double dropout = 0, DType dtype = DType.Float32, Generator? generator = null,
        double? attentionDropout = null, Generator? dropoutGenerator = null)
    {
        _dropoutGenerator = dropoutGenerator;
        ArgumentOutOfRangeException.ThrowIfLessThan(mlpRatio, 1);
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), $"TransformerBlock: dropout must be in [0, 1), got {dropout}");
        Causal = causal;
        Dropout = dropout;
        _ln1 = RegisterModule("ln_1", new LayerNorm(embedDim, dtype: dtype));
        _attn = RegisterModule("attn", new MultiheadAttention(embedDim, numHeads, attentionDropout ?? dropout, batchFirst: true, dtype: dtype, generator: generator));
        _ln2 = RegisterModule("ln_2", new LayerNorm(embedDim, dtype: dtype));
        _fc = RegisterModule("mlp_fc", new Linear(embedDim, mlpRatio * embedDim, dtype: dtype, generator: generator));
        _proj = RegisterModule("mlp_proj", new Linear(mlpRatio * embedDim, embedDim, dtype: dtype, generator: generator));
    }

    /// <summary>Whether each position attends only to itself and earlier positions.</summary>
    public bool Causal { get; }

    /// <summary>Dropout probability after the attention and after the MLP in training (the attention weights' is <see cref="MultiheadAttention.Dropout"/>).</summary>
    public double Dropout { get; }

    /// <summary>The block's attention.</summary>
    public MultiheadAttention Attention => _attn;

    /// <summary>[B, T, E] → [B, T, E].</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>[B, T, E] → [B, T, E], with an optional key padding mask [B, T] (Int32, nonzero = padding, as PyTorch).</summary>
    public Tensor Forward(Tensor input, Tensor? keyPaddingMask)
    {
        if (input.Rank != 3) throw new ShapeMismatchException($"TransformerBlock: input must be [B, T, E], got {ShapeUtil.Format(input.Shape)}");
        using var scope = new TensorScope();
        double p = IsTraining ? Dropout : 0;
        var normed = _ln1.Forward(input);
        var attended = _attn.Forward(normed, normed, normed, keyPaddingMask, causal: Causal);
        var x = Ops.Add(input, Ops.Dropout(attended, p, IsTraining, _dropoutGenerator));
        int b = x.Shape[0], t = x.Shape[1], e = x.Shape[2];
        var hidden = _gelu.Forward(_fc.Forward(Ops.Reshape(_ln2.Forward(x), b * t, e)));
        var mlp = Ops.Reshape(_proj.Forward(hidden), b, t, e);
        return scope.Keep(Ops.Add(x, Ops.Dropout(mlp, p, IsTraining, _dropoutGenerator)));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"causal={PyBool(Causal)}, dropout={PyFloat(Dropout)}";
}
