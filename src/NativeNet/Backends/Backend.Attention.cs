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

/// <summary>
/// Where the rows of one attention operand lie in its storage: problem n's rows (unit stride within a row) start at
/// <see cref="Start"/>(n) and lie <see cref="RowStride"/> elements apart. A contiguous [N, T, D] operand has Inner = 1; a
/// [B1, B2, T, D] view (e.g. the heads of a [B, T, H, D] tensor) addresses n → (n / Inner, n mod Inner).
/// </summary>
public readonly record struct HeadRows(long Offset, int Inner, long Stride0, long Stride1, long RowStride)
{
    /// <summary>Element offset (from the storage start) of the first row of problem <paramref name="n"/>.</summary>
    public long Start(int n) => Offset + n / Inner * Stride0 + n % Inner * Stride1;

    /// <summary>The rows of an operand that <see cref="Backend.CheckAttention"/> accepted.</summary>
    public static HeadRows Of(Tensor t) => t.Rank == 3
        ? new HeadRows(t.Offset, 1, (long)t.Shape[1] * t.Shape[2], 0, t.Shape[2])
        : new HeadRows(t.Offset, Math.Max(1, t.Shape[1]), t.Strides[0], t.Strides[1], t.Shape[2] > 1 ? t.Strides[2] : t.Shape[3]);
}

// Fused scaled dot-product attention O = softmax(scale·Q·Kᵀ + bias + causal)·V, per (batch, head) problem. The operands
// q [N, Tq, D], k [N, Tk, D], v [N, Tk, Dv], output [N, Tq, Dv] and the gradients shaped as them are each either contiguous
// [N, T, D] or a [B1, B2, T, D] view with B1·B2 = N, unit-stride rows and no two elements in one place (IsHeadsView: the
// heads of a [B, T, H, D] tensor, so that splitting and merging heads needs no copy); logSumExp [N, Tq] is contiguous. Causal masks key
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
        if (q.Rank is not (3 or 4) || k.Rank is not (3 or 4) || v.Rank is not (3 or 4))
            throw new ShapeMismatchException($"{op}: q, k, v must be [N, T, D] or [B1, B2, T, D], got {q.Describe()}, {k.Describe()}, {v.Describe()}");
        var (n, tq, d) = Problems(q);
        var (kn, tk, kd) = Problems(k);
        var (vn, vt, dv) = Problems(v);
        if (kn != n || kd != d || vn != n || vt != tk)
            throw new ShapeMismatchException($"{op}: q {q.Describe()}, k {k.Describe()} and v {v.Describe()} do not fit [N, Tq, D], [N, Tk, D], [N, Tk, Dv]");
        CheckHeadOperand(op, q, "q", q, n, tq, d);
        CheckHeadOperand(op, q, "k", k, n, tk, d);
        CheckHeadOperand(op, q, "v", v, n, tk, dv);
        CheckHeadOperand(op, q, "output", output, n, tq, dv);
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
        CheckHeadOperand(op, q, "dOutput", dOutput, s.Batch, s.Queries, s.ValueDim);
        CheckHeadOperand(op, q, "dq", dq, s.Batch, s.Queries, s.HeadDim);
        CheckHeadOperand(op, q, "dk", dk, s.Batch, s.Keys, s.HeadDim);
        CheckHeadOperand(op, q, "dv", dv, s.Batch, s.Keys, s.ValueDim);
        return s;
    }

    /// <summary>(N, T, D) of an [N, T, D] or [B1, B2, T, D] operand.</summary>
    private static (int N, int Rows, int Cols) Problems(Tensor t) =>
        t.Rank == 3 ? (t.Shape[0], t.Shape[1], t.Shape[2]) : (t.Shape[0] * t.Shape[1], t.Shape[2], t.Shape[3]);

    private static void CheckHeadOperand(string op, Tensor q, string name, Tensor t, int n, int rows, int cols)
    {
        CheckLikeQ(op, q, name, t);
        bool dense = t.Rank == 3 && t.IsContiguous && t.Shape[0] == n && t.Shape[1] == rows && t.Shape[2] == cols;
        bool heads = IsHeadsView(t) && t.Shape[0] * t.Shape[1] == n && t.Shape[2] == rows && t.Shape[3] == cols;
        if (!dense && !heads)
            throw new ShapeMismatchException($"{op}: {name} must be a contiguous [{n}, {rows}, {cols}] or a [B1, B2, {rows}, {cols}] view with B1·B2 = {n}, unit-stride rows and no overlap, got {t.Describe()}");
    }

    /// <summary>
    /// Whether <paramref name="t"/> is a [B1, B2, T, D] view the attention backends take in place: unit-stride rows, and no
    /// two elements in one storage slot (its axes, sorted by stride, nest without overlap; a broadcast view is copied).
    /// </summary>
    public static bool IsHeadsView(Tensor t)
    {
        if (t.Rank != 4 || (t.Shape[3] > 1 && t.Strides[3] != 1)) return false;
        var axes = Enumerable.Range(0, t.Rank).Where(a => t.Shape[a] > 1).OrderBy(a => t.Strides[a]).ToArray();
        long span = 1;
        foreach (int a in axes)
        {
            if (t.Strides[a] < span) return false;
            span = (long)t.Strides[a] * t.Shape[a];
        }
        return true;
    }

    /// <summary>Whether every given operand is in the contiguous [N, T, D] form (the one the Naive and Cuda kernels index).</summary>
    protected static bool AttentionOperandsDense(params Tensor[] operands) => operands.All(t => t.Rank == 3);

    /// <summary><see cref="AttentionForward"/> through contiguous [N, T, D] copies of the operands that are [B1, B2, T, D] views.</summary>
    protected void AttentionForwardThroughDense(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp)
    {
        using var qd = DenseHeads(q);
        using var kd = DenseHeads(k);
        using var vd = DenseHeads(v);
        using var od = DenseTarget(output);
        AttentionForward(qd, kd, vd, bias, causal, scale, od, logSumExp);
        CopyHeadsBack(od, output);
    }

    /// <summary><see cref="AttentionBackward"/> through contiguous [N, T, D] copies of the operands that are [B1, B2, T, D] views.</summary>
    protected void AttentionBackwardThroughDense(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
    {
        using var qd = DenseHeads(q);
        using var kd = DenseHeads(k);
        using var vd = DenseHeads(v);
        using var od = DenseHeads(output);
        using var dod = DenseHeads(dOutput);
        using var dqd = DenseTarget(dq);
        using var dkd = DenseTarget(dk);
        using var dvd = DenseTarget(dv);
        AttentionBackward(qd, kd, vd, bias, causal, scale, od, logSumExp, dod, dqd, dkd, dvd);
        CopyHeadsBack(dqd, dq);
        CopyHeadsBack(dkd, dk);
        CopyHeadsBack(dvd, dv);
    }

    private static Tensor DenseHeads(Tensor t)
    {
        if (t.Rank == 3) return t.Detach();
        using var dense = Raw.Contiguous(t);
        return Raw.Reshape(dense, [t.Shape[0] * t.Shape[1], t.Shape[2], t.Shape[3]]);
    }

    private static Tensor DenseTarget(Tensor t) =>
        t.Rank == 3 ? t.Detach() : Tensor.Empty([t.Shape[0] * t.Shape[1], t.Shape[2], t.Shape[3]], t.DType, t.Device);

    private void CopyHeadsBack(Tensor dense, Tensor target)
    {
        if (target.Rank == 3) return;
        using var shaped = Raw.Reshape(dense, target.ShapeArray);
        Copy(shaped, target);
    }

    /// <summary>t is live and has q's dtype and device.</summary>
    private static void CheckLikeQ(string op, Tensor q, string name, Tensor t)
    {
        t.ThrowIfDisposed();
        if (t.DType != q.DType || t.Device != q.Device)
            throw new DTypeMismatchException($"{op}: {name} {t.Describe()} differs from q {q.Describe()} in dtype or device");
    }

    private static void CheckAttentionOperand(string op, Tensor q, string name, Tensor t, params int[] shape)
    {
        CheckLikeQ(op, q, name, t);
        if (!t.IsContiguous || !t.Shape.SequenceEqual(shape))
            throw new ShapeMismatchException($"{op}: {name} must be a contiguous {ShapeUtil.Format(shape)}, got {t.Describe()}");
    }
}
