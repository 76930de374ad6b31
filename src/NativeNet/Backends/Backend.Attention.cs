namespace NativeNet.Backends;

/// <summary>
/// The shape of one scaled dot-product attention call, as checked by <see cref="Backend.CheckAttention"/>: N independent
/// (batch, head) problems of Tq queries and Tk keys, head widths D (queries and keys) and Dv (values); the additive bias,
/// when given, is a [B1, B2, Tq, Tk] view (B1·B2 = N, any strides, 0 for a broadcast axis) addressed by
/// n → (n / B2, n mod B2).
/// </summary>
public readonly record struct AttentionShape(int Batch, int Queries, int Keys, int HeadDim, int ValueDim, int BiasInner,
    long BiasStride0, long BiasStride1, long BiasStrideQuery, long BiasStrideKey)
{
    /// <summary>Element offset of bias[n, i, j] relative to the bias view's offset.</summary>
    public long BiasOffset(int n, int i, int j) =>
        n / BiasInner * BiasStride0 + n % BiasInner * BiasStride1 + i * BiasStrideQuery + j * BiasStrideKey;
}

// Fused scaled dot-product attention O = softmax(scale·Q·Kᵀ + bias + causal)·V, per (batch, head) problem. Every operand but
// the bias is contiguous: q [N, Tq, D], k [N, Tk, D], v [N, Tk, Dv], output [N, Tq, Dv], logSumExp [N, Tq]. Causal masks key
// j > query i (top-left aligned, as PyTorch's is_causal). A query whose every key is masked (bias −∞) has no softmax; its
// output row and log-sum-exp are NaN, as PyTorch 1.13's softmax over a row of −∞ gives, and so are the gradients it reaches.
public abstract partial class Backend
{
    /// <summary>
    /// Forward attention: writes <paramref name="output"/> = softmax(<paramref name="scale"/>·q·kᵀ + bias (+ causal mask))·v and
    /// <paramref name="logSumExp"/>[n, i] = log Σ_j e^{s_ij}, all the backward needs besides the inputs and output.
    /// </summary>
    public abstract void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp);

    /// <summary>
    /// Backward of <see cref="AttentionForward"/> from its output and log-sum-exp: with P = e^{s − lse},
    /// dv = Pᵀ·dO, dS = P ⊙ (dO·vᵀ − rowsum(dO ⊙ O)), dq = scale·dS·k, dk = scale·dSᵀ·q, written (not accumulated) into
    /// <paramref name="dq"/>, <paramref name="dk"/>, <paramref name="dv"/> (shaped as q, k, v). The bias gets no gradient.
    /// </summary>
    public abstract void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv);

    /// <summary>Checks the operands of an attention call (dtypes, devices, contiguity, shapes) and returns its shape.</summary>
    protected internal static AttentionShape CheckAttention(string op, Tensor q, Tensor k, Tensor v, Tensor? bias, Tensor output, Tensor logSumExp)
    {
        if (!q.DType.IsFloat()) throw new DTypeMismatchException($"{op}: expected Float32 or Float64 operands, got q {q.Describe()}");
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3)
            throw new ShapeMismatchException($"{op}: q, k, v must be [N, T, D], got {q.Describe()}, {k.Describe()}, {v.Describe()}");
        int n = q.Shape[0], tq = q.Shape[1], d = q.Shape[2], tk = k.Shape[1], dv = v.Shape[2];
        if (k.Shape[0] != n || k.Shape[2] != d || v.Shape[0] != n || v.Shape[1] != tk)
            throw new ShapeMismatchException($"{op}: q {q.Describe()}, k {k.Describe()} and v {v.Describe()} do not fit [N, Tq, D], [N, Tk, D], [N, Tk, Dv]");
        CheckAttentionOperand(op, q, "q", q, n, tq, d);
        CheckAttentionOperand(op, q, "k", k, n, tk, d);
        CheckAttentionOperand(op, q, "v", v, n, tk, dv);
        CheckAttentionOperand(op, q, "output", output, n, tq, dv);
        CheckAttentionOperand(op, q, "logSumExp", logSumExp, n, tq);
        if (bias is null) return new AttentionShape(n, tq, tk, d, dv, 1, 0, 0, 0, 0);
        bias.ThrowIfDisposed();
        if (bias.DType != q.DType || bias.Device != q.Device)
            throw new DTypeMismatchException($"{op}: bias {bias.Describe()} differs from q {q.Describe()} in dtype or device");
        if (bias.Rank != 4 || bias.Shape[0] * bias.Shape[1] != n || bias.Shape[2] != tq || bias.Shape[3] != tk)
            throw new ShapeMismatchException($"{op}: bias must be a [B1, B2, {tq}, {tk}] view with B1·B2 = {n}, got {bias.Describe()}");
        return new AttentionShape(n, tq, tk, d, dv, Math.Max(1, bias.Shape[1]), bias.Strides[0], bias.Strides[1], bias.Strides[2], bias.Strides[3]);
    }

    /// <summary>Checks the operands of an attention backward and returns the shape.</summary>
    protected internal static AttentionShape CheckAttentionBackward(string op, Tensor q, Tensor k, Tensor v, Tensor? bias, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
    {
        var s = CheckAttention(op, q, k, v, bias, output, logSumExp);
        CheckAttentionOperand(op, q, "dOutput", dOutput, output.ShapeArray);
        CheckAttentionOperand(op, q, "dq", dq, q.ShapeArray);
        CheckAttentionOperand(op, q, "dk", dk, k.ShapeArray);
        CheckAttentionOperand(op, q, "dv", dv, v.ShapeArray);
        return s;
    }

    private static void CheckAttentionOperand(string op, Tensor q, string name, Tensor t, params int[] shape)
    {
        t.ThrowIfDisposed();
        if (t.DType != q.DType || t.Device != q.Device)
            throw new DTypeMismatchException($"{op}: {name} {t.Describe()} differs from q {q.Describe()} in dtype or device");
        if (!t.IsContiguous || !t.Shape.SequenceEqual(shape))
            throw new ShapeMismatchException($"{op}: {name} must be a contiguous {ShapeUtil.Format(shape)}, got {t.Describe()}");
    }
}
