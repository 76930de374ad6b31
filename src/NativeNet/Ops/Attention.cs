using NativeNet.Autodiff;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// Scaled dot-product attention softmax(scale·q·kᵀ + mask)·v over the last two axes, as PyTorch 2's
    /// <c>F.scaled_dot_product_attention</c>: q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv] with the same leading axes
    /// (e.g. [batch, heads]); the result is [..., Tq, Dv].
    /// </summary>
    /// <param name="q">Queries [..., Tq, D].</param>
    /// <param name="k">Keys [..., Tk, D].</param>
    /// <param name="v">Values [..., Tk, Dv].</param>
    /// <param name="mask">Broadcastable to [..., Tq, Tk]: Int32 (nonzero = attend, zero = masked, PyTorch's boolean mask) or a
    /// float mask added to the scores (−∞ masks). It gets no gradient.</param>
    /// <param name="causal">Masks key j &gt; query i (top-left aligned, PyTorch's is_causal).</param>
    /// <param name="dropout">Probability of dropping an attention weight (inverted dropout); 0 runs the fused kernel, which
    /// never materialises the [Tq, Tk] weights; above 0 the weights are materialised (they are needed for the mask).</param>
    /// <param name="scale">Score scale; default 1/√D.</param>
    /// <param name="generator">Dropout's random source (default <see cref="Generator.Default"/>).</param>
    /// <remarks>A query whose every key is masked has no softmax: its output row is NaN, as PyTorch 1.13's softmax over a
    /// row of −∞ gives, and so are the gradients that flow through it.</remarks>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, bool causal = false, double dropout = 0,
        double? scale = null, Generator? generator = null)
    {
        const string op = "ScaledDotProductAttention";
        Raw.CheckFloat(op, q);
        Raw.CheckSameKind(op, q, k);
        Raw.CheckSameKind(op, q, v);
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), $"{op}: dropout must be in [0, 1), got {dropout}");
        if (q.Rank < 2 || k.Rank != q.Rank || v.Rank != q.Rank)
            throw new ShapeMismatchException($"{op}: q, k, v must have one rank ≥ 2, got {ShapeUtil.Format(q.Shape)}, {ShapeUtil.Format(k.Shape)}, {ShapeUtil.Format(v.Shape)}");
        int r = q.Rank, tq = q.Shape[r - 2], d = q.Shape[r - 1], tk = k.Shape[r - 2], dv = v.Shape[r - 1];
        var lead = q.ShapeArray[..(r - 2)];
        if (!k.ShapeArray[..(r - 2)].SequenceEqual(lead) || !v.ShapeArray[..(r - 2)].SequenceEqual(lead) || k.Shape[r - 1] != d || v.Shape[r - 2] != tk)
            throw new ShapeMismatchException($"{op}: q {ShapeUtil.Format(q.Shape)}, k {ShapeUtil.Format(k.Shape)}, v {ShapeUtil.Format(v.Shape)} do not fit [..., Tq, D], [..., Tk, D], [..., Tk, Dv]");
        double sc = scale ?? 1 / Math.Sqrt(d);
        using var bias = mask is null ? null : AttentionBias(op, mask, q, [.. lead, tq, tk]);
        if (dropout > 0) return ComposedAttention(q, k, v, bias, causal, dropout, sc, generator, lead, tq, tk, d, dv);
        var gate = new AttentionGate();
        return Apply(gate, () => gate.Forward(q, k, v, bias, causal, sc), q, k, v);
    }

    /// <summary>The mask as an additive bias in q's dtype broadcast to <paramref name="shape"/> (a view, strides 0 where broadcast).</summary>
    private static Tensor AttentionBias(string op, Tensor mask, Tensor q, int[] shape)
    {
        mask.ThrowIfDisposed();
        if (mask.Device != q.Device) throw new DTypeMismatchException($"{op}: mask {mask.Describe()} is not on q's device {q.Device}");
        Tensor additive;
        if (mask.DType == DType.Int32)
        {
            using var keep = Raw.CastTo(mask, q.DType);
            using var zero = Tensor.Scalar(0, q.DType, q.Device);
            using var masked = Tensor.Scalar(double.NegativeInfinity, q.DType, q.Device);
            additive = Raw.Where(keep, zero, masked);
        }
        else additive = Raw.CastTo(mask, q.DType);
        try
        {
            if (mask.Rank > shape.Length) throw new ShapeMismatchException($"{op}: mask {ShapeUtil.Format(mask.Shape)} does not broadcast to {ShapeUtil.Format(shape)}");
            return Raw.BroadcastTo(op, additive, shape);
        }
        finally { additive.Dispose(); }
    }

    private static Tensor ComposedAttention(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double dropout, double scale, Generator? generator,
        int[] lead, int tq, int tk, int d, int dv)
    {
        using var scope = new TensorScope();
        int n = lead.Aggregate(1, (a, b) => a * b);
        var scores = MulScalar(MatMul(Reshape(q, n, tq, d), Reshape(k, n, tk, d), transB: true), scale);
        if (bias is not null) scores = Add(scores, Reshape(Contiguous(bias.Detach()), n, tq, tk));
        if (causal)
        {
            var tri = new double[tq * tk];
            for (int i = 0; i < tq; i++)
                for (int j = i + 1; j < tk; j++) tri[i * tk + j] = double.NegativeInfinity;
            scores = Add(scores, Tensor.FromArray(tri, tq, tk).To(q.DType).To(q.Device));
        }
        var weights = Dropout(Softmax(scores, -1), dropout, training: true, generator);
        return scope.Keep(Reshape(MatMul(weights, Reshape(v, n, tk, dv)), [.. lead, tq, dv]));
    }
}

/// <summary>
/// Gate of the fused attention: the backend computes the output and the per-row log-sum-exp, the only thing saved besides
/// the inputs; the backward recomputes the attention weights tile by tile from it. Rank-4 operands that are head views
/// (<see cref="Backends.Backend.IsHeadsView"/>, e.g. a [B, T, H, D] projection permuted to [B, H, T, D]) go to the backend
/// as they are, and the output and the gradients are laid out as their input: a [B, T, H, D] input gives a [B, T, H, D]
/// result in memory (viewed as [B, H, T, D]), so splitting the heads and merging them back costs no copy.
/// </summary>
public sealed class AttentionGate : Gate
{
    private Tensor? _q, _k, _v, _bias, _output, _lse;
    private int[] _qShape = [], _kShape = [], _vShape = [];
    private bool _causal;
    private double _scale;

    /// <inheritdoc/>
    public override string Name => "ScaledDotProductAttention";

    /// <summary>Runs the fused forward; <paramref name="bias"/> is an additive [..., Tq, Tk] view or null.</summary>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale)
    {
        _qShape = q.ShapeArray; _kShape = k.ShapeArray; _vShape = v.ShapeArray;
        _causal = causal; _scale = scale;
        int r = q.Rank, n = _qShape[..(r - 2)].Aggregate(1, (a, b) => a * b);
        int tq = _qShape[r - 2], tk = _kShape[r - 2];
        _q = Save(Heads(q, n)); _k = Save(Heads(k, n)); _v = Save(Heads(v, n));
        if (bias is not null) _bias = Save(Bias4(bias, n, tq, tk));
        var output = EmptyHeads(_q, n, tq, _vShape[r - 1]);
        var lse = Tensor.Empty([n, tq], q.DType, q.Device);
        q.Backend.AttentionForward(_q, _k, _v, _bias, causal, scale, output, lse);
        _output = Save(output);
        _lse = Save(lse);
        return Raw.Reshape(output, [.. _qShape[..(r - 2)], tq, _vShape[r - 1]]);
    }

    /// <summary>t itself when it is a head view, else contiguous [N, T, D].</summary>
    private static Tensor Heads(Tensor t, int n)
    {
        if (Backends.Backend.IsHeadsView(t)) return t.Detach();
        using var dense = Raw.Contiguous(t);
        return Raw.Reshape(dense, [n, t.Shape[^2], t.Shape[^1]]);
    }

    /// <summary>
    /// A new [N, rows, cols] operand laid out as <paramref name="like"/>: when that is the heads view of a [B, T, H, ·] tensor
    /// (its time axis outside its head axis), a [B, rows, H, cols] tensor viewed as [B, H, rows, cols]; else contiguous [N, rows, cols].
    /// </summary>
    private static Tensor EmptyHeads(Tensor like, int n, int rows, int cols)
    {
        if (like.Rank != 4 || like.Strides[2] <= like.Strides[1]) return Tensor.Empty([n, rows, cols], like.DType, like.Device);
        using var memory = Tensor.Empty([like.Shape[0], rows, like.Shape[1], cols], like.DType, like.Device);
        return Raw.Permute(memory, [0, 2, 1, 3]);
    }

    /// <summary>The bias as the [B1, B2, Tq, Tk] view the backends take (copied only when it has more than two leading axes).</summary>
    private static Tensor Bias4(Tensor bias, int n, int tq, int tk)
    {
        int lead = bias.Rank - 2;
        if (lead > 2)
        {
            using var dense = Raw.Contiguous(bias);
            return Raw.Reshape(dense, [1, n, tq, tk]);
        }
        var shape = new int[4];
        var strides = new int[4];
        for (int i = 0; i < 4; i++)
        {
            int src = i - (4 - bias.Rank);
            shape[i] = src < 0 ? 1 : bias.Shape[src];
            strides[i] = src < 0 ? 0 : bias.Strides[src];
        }
        return bias.View(shape, strides, bias.Offset);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        int n = _lse!.Shape[0];
        using var dOut3 = Heads(g, n);
        var dq = EmptyHeads(_q!, n, _qShape[^2], _qShape[^1]);
        var dk = EmptyHeads(_k!, n, _kShape[^2], _kShape[^1]);
        var dv = EmptyHeads(_v!, n, _vShape[^2], _vShape[^1]);
        _q!.Backend.AttentionBackward(_q, _k!, _v!, _bias, _causal, _scale, _output!, _lse, dOut3, dq, dk, dv);
        return [Reshaped(dq, _qShape), Reshaped(dk, _kShape), Reshaped(dv, _vShape)];
    }

    private static Tensor Reshaped(Tensor t, int[] shape)
    {
        var view = Raw.Reshape(t, shape);
        t.Dispose();
        return view;
    }
}
