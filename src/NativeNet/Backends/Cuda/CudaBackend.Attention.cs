namespace NativeNet.Backends.Cuda;

// Fused attention of kernels/attention.cu: one warp per query row (forward, dq) or key row (dk, dv), an online softmax in
// the forward and P recomputed from the saved log-sum-exp in the backward, so no [Tq, Tk] matrix is ever allocated.
// Argument lists: (pointers..., batch, tq, tk, d, dv, causal, scale, biasInner, bs0, bs1, bsq, bsk) as in the kernel source.
// The kernels index contiguous [N, T, D] operands; [B1, B2, T, D] head views go through dense device copies.
public sealed partial class CudaBackend
{
    /// <summary>Widest head (D and Dv) the kernels hold in registers: 8 elements per lane of a warp.</summary>
    internal const int AttentionMaxHeadDim = 256;

    private const int AttentionWarpsPerBlock = 4;

    /// <inheritdoc/>
    public override void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp)
    {
        var s = CheckAttention("AttentionForward", q, k, v, bias, output, logSumExp);
        if (!AttentionOperandsDense(q, k, v, output))
        {
            AttentionForwardThroughDense(q, k, v, bias, causal, scale, output, logSumExp);
            return;
        }
        string sfx = CheckCudaAttention("AttentionForward", s, q);
        LaunchAttention($"attention_fwd_{sfx}", (long)s.Batch * s.Queries, [Ptr(q), Ptr(k), Ptr(v), bias is null ? 0 : Ptr(bias), Ptr(output), Ptr(logSumExp)], s, causal, scale);
    }

    /// <inheritdoc/>
    public override void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
    {
        var s = CheckAttentionBackward("AttentionBackward", q, k, v, bias, output, logSumExp, dOutput, dq, dk, dv);
        if (!AttentionOperandsDense(q, k, v, output, dOutput, dq, dk, dv))
        {
            AttentionBackwardThroughDense(q, k, v, bias, causal, scale, output, logSumExp, dOutput, dq, dk, dv);
            return;
        }
        string sfx = CheckCudaAttention("AttentionBackward", s, q);
        using var delta = Tensor.Empty([s.Batch, s.Queries], q.DType, q.Device);
        ulong biasPtr = bias is null ? 0 : Ptr(bias);
        LaunchAttention($"attention_bwd_dq_{sfx}", (long)s.Batch * s.Queries,
            [Ptr(q), Ptr(k), Ptr(v), biasPtr, Ptr(output), Ptr(logSumExp), Ptr(dOutput), Ptr(dq), Ptr(delta)], s, causal, scale);
        LaunchAttention($"attention_bwd_dkdv_{sfx}", (long)s.Batch * s.Keys,
            [Ptr(q), Ptr(k), Ptr(v), biasPtr, Ptr(logSumExp), Ptr(dOutput), Ptr(delta), Ptr(dk), Ptr(dv)], s, causal, scale);
    }

    private static string CheckCudaAttention(string op, AttentionShape s, Tensor q)
    {
        if (s.HeadDim > AttentionMaxHeadDim || s.ValueDim > AttentionMaxHeadDim)
            throw new ShapeMismatchException($"{op}: the cuda kernels take head widths up to {AttentionMaxHeadDim}, got D = {s.HeadDim}, Dv = {s.ValueDim}");
        return FloatSfx(op, q.DType);
    }

    private void LaunchAttention(string entryPoint, long rows, ulong[] pointers, AttentionShape s, bool causal, double scale)
    {
        if (rows == 0) return;
        Span<byte> data = stackalloc byte[256];
        Span<int> offsets = stackalloc int[24];
        var args = new KernelArgs(data, offsets);
        foreach (ulong p in pointers) args.Add(p);
        args.Add((long)s.Batch);
        args.Add((long)s.Queries);
        args.Add((long)s.Keys);
        args.Add((long)s.HeadDim);
        args.Add((long)s.ValueDim);
        args.Add(causal ? 1L : 0L);
        args.Add(scale);
        args.Add((long)s.BiasInner);
        args.Add(s.BiasStride0);
        args.Add(s.BiasStride1);
        args.Add(s.BiasStrideQuery);
        args.Add(s.BiasStrideKey);
        long blocks = (rows + AttentionWarpsPerBlock - 1) / AttentionWarpsPerBlock;
        uint grid = (uint)Math.Min(blocks, Math.Max(1L, (long)Info.MultiprocessorCount * 8));
        Launch(entryPoint, grid, 32 * AttentionWarpsPerBlock, ref args);
    }
}
