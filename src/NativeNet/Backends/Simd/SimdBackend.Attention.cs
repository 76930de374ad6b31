using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

// Fused attention in the flash-attention style: queries are taken in blocks of QueryBlock rows and keys in blocks of
// KeyBlock, so at most one [QueryBlock, KeyBlock] score tile per worker exists at a time, however long the sequence. The
// forward keeps a running row maximum m and sum l (online softmax): each new tile rescales what is accumulated by
// e^{m_old − m_new}, so no score is ever exponentiated above its row's running maximum; it saves only lse = m + log l. The
// backward recomputes each tile's P = e^{s − lse} from the saved lse. The tile products run on the Simd GEMM
// (SimdGemm.Gemm, one thread each: the parallelism is over tiles) with each operand's own row stride, so the heads of a
// [B, T, H, D] tensor are read and written in place (HeadRows). Forward work is split over (problem, query block);
// backward over problems, since every query block of a problem adds into the same dk and dv.
public sealed partial class SimdBackend
{
    /// <summary>Query rows per tile: at a causal context of 128, blocks of 32 compute 10 240 scores for the 8 256 needed (64: 12 288).</summary>
    internal const int AttentionQueryBlock = 32;

    /// <summary>Key columns per tile: a [64, 128] float tile is 32 KiB, and a context of 128 takes one tile per query block.</summary>
    internal const int AttentionKeyBlock = 128;

    /// <inheritdoc/>
    public override void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp)
    {
        var s = CheckAttention("AttentionForward", q, k, v, bias, output, logSumExp);
        ByFloatType(q.DType, "AttentionForward", () => AttnForward<float>(s, q, k, v, bias, causal, scale, output, logSumExp),
            () => AttnForward<double>(s, q, k, v, bias, causal, scale, output, logSumExp));
    }

    /// <inheritdoc/>
    public override void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
    {
        var s = CheckAttentionBackward("AttentionBackward", q, k, v, bias, output, logSumExp, dOutput, dq, dk, dv);
        ByFloatType(q.DType, "AttentionBackward", () => AttnBackward<float>(s, q, k, v, bias, causal, scale, output, logSumExp, dOutput, dq, dk, dv),
            () => AttnBackward<double>(s, q, k, v, bias, causal, scale, output, logSumExp, dOutput, dq, dk, dv));
    }

    // SAFETY: the pointers cover the row-major views described by m, n, k and the leading dimensions (see SimdGemm.Gemm).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TileGemm<T>(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, bool accumulate, T* c, int ldc)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            SimdGemm.Gemm(transA, transB, m, n, k, (float*)a, lda, (float*)b, ldb, accumulate ? 1f : 0f, (float*)c, ldc, 1);
        else
            SimdGemm.Gemm(transA, transB, m, n, k, (double*)a, lda, (double*)b, ldb, accumulate ? 1.0 : 0.0, (double*)c, ldc, 1);
    }

    /// <summary>
    /// e^x in place: vectorised for float; element by element with Math.Exp for double, whose gradient checks difference
    /// the forward at 1e-6 steps and would see the vector double exponential's last-bits noise.
    /// </summary>
    private static void ExpInPlace<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) TensorPrimitives.Exp<T>(values, values);
        else for (int c = 0; c < values.Length; c++) values[c] = T.Exp(values[c]);
    }

    /// <summary>Scales the raw tile q·kᵀ in place into scores: ·scale, + bias, −∞ above the causal diagonal.</summary>
    // SAFETY: tile holds rows × KeyBlock elements; bias (when not null) covers every (n, i, j) the shape addresses.
    private static unsafe void ScoreTile<T>(in AttentionShape s, T* tile, int rows, int cols, int n, int i0, int j0, T scale, T* bias, bool causal)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T* row = tile + r * AttentionKeyBlock;
            int i = i0 + r;
            var span = new Span<T>(row, cols);
            TensorPrimitives.Multiply(span, scale, span);
            if (bias != null)
            {
                T* br = bias + s.BiasOffset(n, i, j0);
                if (s.BiasStrideKey == 1) TensorPrimitives.Add(span, new ReadOnlySpan<T>(br, cols), span);
                else for (int c = 0; c < cols; c++) row[c] += br[c * s.BiasStrideKey];
            }
            if (causal && i - j0 + 1 < cols) span[Math.Max(0, i - j0 + 1)..].Fill(T.NegativeInfinity);
        }
    }

    private static unsafe void AttnForward<T>(AttentionShape s, Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int qBlocks = (s.Queries + AttentionQueryBlock - 1) / AttentionQueryBlock;
        int items = s.Batch * qBlocks;
        if (items == 0) return;
        long work = (long)s.Batch * s.Queries * s.Keys * (s.HeadDim + s.ValueDim);
        int parts = Threads > 1 && work >= 1 << 18 ? Math.Min(Threads, items) : 1;
        T sc = T.CreateTruncating(scale);
        float fsc = (float)scale;
        // float rows without a bias run scale, causal mask, e^x and the sums fused on lanes (AttentionRows)
        bool onLanes = typeof(T) == typeof(float) && bias is null;
        var biasData = bias?.HostData<T>();
        int biasOffset = bias?.Offset ?? 0;
        HeadRows qR = HeadRows.Of(q), kR = HeadRows.Of(k), vR = HeadRows.Of(v), oR = HeadRows.Of(output);
        int qs = (int)qR.RowStride, ks = (int)kR.RowStride, vs = (int)vR.RowStride, os = (int)oR.RowStride;
        SimdParallel.For(parts, part =>
        {
            var tileBuf = new T[AttentionQueryBlock * AttentionKeyBlock];
            var mBuf = new T[AttentionQueryBlock];
            var lBuf = new T[AttentionQueryBlock];
            // SAFETY: CheckAttention verified every operand's rows (HeadRows) lie in its storage; tiles stay inside their blocks.
            fixed (T* q0 = q.HostData<T>(), k0 = k.HostData<T>(), v0 = v.HostData<T>(), o0 = output.HostData<T>(), l0 = logSumExp.HostData<T>(), b0 = biasData, tile = tileBuf, m = mBuf, l = lBuf)
            {
                T* bp = b0 == null ? null : b0 + biasOffset;
                for (int item = part * items / parts; item < (part + 1) * items / parts; item++)
                {
                    int n = item / qBlocks, i0 = item % qBlocks * AttentionQueryBlock, rows = Math.Min(AttentionQueryBlock, s.Queries - i0);
                    T* qb = q0 + qR.Start(n) + (long)i0 * qs;
                    T* ob = o0 + oR.Start(n) + (long)i0 * os;
                    T* kn = k0 + kR.Start(n), vn = v0 + vR.Start(n);
                    for (int r = 0; r < rows; r++) new Span<T>(ob + (long)r * os, s.ValueDim).Clear();
                    for (int r = 0; r < rows; r++) { m[r] = T.NegativeInfinity; l[r] = T.Zero; }
                    int keyEnd = causal ? Math.Min(s.Keys, i0 + rows) : s.Keys;
                    for (int j0 = 0; j0 < keyEnd; j0 += AttentionKeyBlock)
                    {
                        int cols = Math.Min(AttentionKeyBlock, keyEnd - j0);
                        TileGemm(false, true, rows, cols, s.HeadDim, qb, qs, kn + (long)j0 * ks, ks, false, tile, AttentionKeyBlock);
                        if (!onLanes) ScoreTile(s, tile, rows, cols, n, i0, j0, sc, bp, causal);
                        for (int r = 0; r < rows; r++)
                        {
                            T* row = tile + r * AttentionKeyBlock;
                            var span = new Span<T>(row, cols);
                            int valid = causal ? Math.Clamp(i0 + r - j0 + 1, 0, cols) : cols;
                            T tileMax = !onLanes ? TensorPrimitives.Max<T>(span)
                                : valid == 0 ? T.NegativeInfinity : T.CreateTruncating(AttentionRows.ScaledMax((float*)row, valid, fsc));
                            T mNew = T.Max(m[r], tileMax);
                            if (T.IsNegativeInfinity(mNew))
                            {
                                // Nothing unmasked yet in this row: the tile adds nothing and there is nothing to rescale.
                                new Span<T>(row, cols).Clear();
                                continue;
                            }
                            T alpha = T.Exp(m[r] - mNew);
                            T tileSum;
                            if (onLanes) tileSum = T.CreateTruncating(AttentionRows.ExpShifted((float*)row, valid, cols, fsc, float.CreateTruncating(mNew)));
                            else
                            {
                                TensorPrimitives.Subtract(span, mNew, span);
                                ExpInPlace(span);
                                tileSum = TensorPrimitives.Sum<T>(span);
                            }
                            l[r] = l[r] * alpha + tileSum;
                            m[r] = mNew;
                            if (alpha != T.One)
                            {
                                var orow = new Span<T>(ob + (long)r * os, s.ValueDim);
                                TensorPrimitives.Multiply(orow, alpha, orow);
                            }
                        }
                        TileGemm(false, false, rows, s.ValueDim, cols, tile, AttentionKeyBlock, vn + (long)j0 * vs, vs, true, ob, os);
                    }
                    T* lb = l0 + logSumExp.Offset + (long)n * s.Queries + i0;
                    for (int r = 0; r < rows; r++)
                    {
                        T* orow = ob + (long)r * os;
                        if (l[r] == T.Zero)
                        {
                            for (int c = 0; c < s.ValueDim; c++) orow[c] = T.NaN;
                            lb[r] = T.NaN;
                            continue;
                        }
                        var outRow = new Span<T>(orow, s.ValueDim);
                        TensorPrimitives.Multiply(outRow, T.One / l[r], outRow);
                        lb[r] = m[r] + T.Log(l[r]);
                    }
                }
            }
        });
    }

    private static unsafe void AttnBackward<T>(AttentionShape s, Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (s.Batch == 0) return;
        long work = (long)s.Batch * s.Queries * s.Keys * (s.HeadDim + s.ValueDim);
        int parts = Threads > 1 && work >= 1 << 17 ? Math.Min(Threads, s.Batch) : 1;
        T sc = T.CreateTruncating(scale);
        float fsc = (float)scale;
        bool onLanes = typeof(T) == typeof(float) && bias is null;
        var biasData = bias?.HostData<T>();
        int biasOffset = bias?.Offset ?? 0;
        int D = s.HeadDim, Dv = s.ValueDim;
        HeadRows qR = HeadRows.Of(q), kR = HeadRows.Of(k), vR = HeadRows.Of(v), oR = HeadRows.Of(output), doR = HeadRows.Of(dOutput);
        HeadRows dqR = HeadRows.Of(dq), dkR = HeadRows.Of(dk), dvR = HeadRows.Of(dv);
        int qs = (int)qR.RowStride, ks = (int)kR.RowStride, vs = (int)vR.RowStride, os = (int)oR.RowStride, dos = (int)doR.RowStride;
        int dqs = (int)dqR.RowStride, dks = (int)dkR.RowStride, dvs = (int)dvR.RowStride;
        SimdParallel.For(parts, part =>
        {
            var pBuf = new T[AttentionQueryBlock * AttentionKeyBlock];
            var dpBuf = new T[AttentionQueryBlock * AttentionKeyBlock];
            var rowDotBuf = new T[s.Queries];
            // SAFETY: CheckAttentionBackward verified every operand's rows (HeadRows) lie in its storage; tiles stay inside their blocks.
            fixed (T* q0 = q.HostData<T>(), k0 = k.HostData<T>(), v0 = v.HostData<T>(), o0 = output.HostData<T>(), l0 = logSumExp.HostData<T>(),
                   do0 = dOutput.HostData<T>(), dq0 = dq.HostData<T>(), dk0 = dk.HostData<T>(), dv0 = dv.HostData<T>(), b0 = biasData,
                   p = pBuf, dp = dpBuf, rowDot = rowDotBuf)
            {
                T* bp = b0 == null ? null : b0 + biasOffset;
                for (int n = part * s.Batch / parts; n < (part + 1) * s.Batch / parts; n++)
                {
                    T* qn = q0 + qR.Start(n), kn = k0 + kR.Start(n), vn = v0 + vR.Start(n);
                    T* on = o0 + oR.Start(n), don = do0 + doR.Start(n);
                    T* dqn = dq0 + dqR.Start(n), dkn = dk0 + dkR.Start(n), dvn = dv0 + dvR.Start(n);
                    T* ln = l0 + logSumExp.Offset + (long)n * s.Queries;
                    for (int i = 0; i < s.Queries; i++) new Span<T>(dqn + (long)i * dqs, D).Clear();
                    for (int j = 0; j < s.Keys; j++)
                    {
                        new Span<T>(dkn + (long)j * dks, D).Clear();
                        new Span<T>(dvn + (long)j * dvs, Dv).Clear();
                    }
                    for (int i = 0; i < s.Queries; i++)
                        rowDot[i] = TensorPrimitives.Dot<T>(new ReadOnlySpan<T>(don + (long)i * dos, Dv), new ReadOnlySpan<T>(on + (long)i * os, Dv));
                    for (int j0 = 0; j0 < s.Keys; j0 += AttentionKeyBlock)
                    {
                        int tileCols = Math.Min(AttentionKeyBlock, s.Keys - j0);
                        T* kj = kn + (long)j0 * ks, vj = vn + (long)j0 * vs, dkj = dkn + (long)j0 * dks, dvj = dvn + (long)j0 * dvs;
                        for (int i0 = causal ? j0 / AttentionQueryBlock * AttentionQueryBlock : 0; i0 < s.Queries; i0 += AttentionQueryBlock)
                        {
                            int rows = Math.Min(AttentionQueryBlock, s.Queries - i0);
                            // causal: keys from i0 + rows on are masked for every row of this block (cols stays ≥ rows here)
                            int cols = causal ? Math.Min(tileCols, i0 + rows - j0) : tileCols;
                            T* qi = qn + (long)i0 * qs, doi = don + (long)i0 * dos, dqi = dqn + (long)i0 * dqs;
                            TileGemm(false, true, rows, cols, D, qi, qs, kj, ks, false, p, AttentionKeyBlock);
                            if (onLanes)
                            {
                                for (int r = 0; r < rows; r++)
                                {
                                    int valid = causal ? Math.Clamp(i0 + r - j0 + 1, 0, cols) : cols;
                                    AttentionRows.ExpShifted((float*)(p + r * AttentionKeyBlock), valid, cols, fsc, float.CreateTruncating(ln[i0 + r]));
                                }
                            }
                            else
                            {
                                ScoreTile(s, p, rows, cols, n, i0, j0, sc, bp, causal);
                                for (int r = 0; r < rows; r++)
                                {
                                    var row = new Span<T>(p + r * AttentionKeyBlock, cols);
                                    TensorPrimitives.Subtract(row, ln[i0 + r], row);
                                    ExpInPlace(row);
                                }
                            }
                            TileGemm(true, false, cols, Dv, rows, p, AttentionKeyBlock, doi, dos, true, dvj, dvs);
                            TileGemm(false, true, rows, cols, Dv, doi, dos, vj, vs, false, dp, AttentionKeyBlock);
                            for (int r = 0; r < rows; r++)
                            {
                                // ds = p·(dp − rowDot)·scale
                                if (onLanes)
                                {
                                    AttentionRows.SoftmaxGradient((float*)(dp + r * AttentionKeyBlock), (float*)(p + r * AttentionKeyBlock), cols,
                                        float.CreateTruncating(rowDot[i0 + r]), fsc);
                                    continue;
                                }
                                var prow = new ReadOnlySpan<T>(p + r * AttentionKeyBlock, cols);
                                var dsrow = new Span<T>(dp + r * AttentionKeyBlock, cols);
                                TensorPrimitives.Subtract(dsrow, rowDot[i0 + r], dsrow);
                                TensorPrimitives.Multiply(dsrow, prow, dsrow);
                                TensorPrimitives.Multiply(dsrow, sc, dsrow);
                            }
                            TileGemm(false, false, rows, D, cols, dp, AttentionKeyBlock, kj, ks, true, dqi, dqs);
                            TileGemm(true, false, cols, D, rows, dp, AttentionKeyBlock, qi, qs, true, dkj, dks);
                        }
                    }
                }
            }
        });
    }
}

/// <summary>
/// The softmax rows of the fused float attention without a bias, on the widest accelerated lanes (<see cref="IFloatLanes{TV}"/>):
/// the score scale, the causal mask (columns from <c>valid</c> on) and e^x (<see cref="FloatLaneMath.Exp"/>, about 1 ulp)
/// fused into one pass each, where the general path makes a library call per step. Rows are tile rows with room for
/// <see cref="SimdBackend.AttentionKeyBlock"/> (a multiple of every lane count) elements: the last vector of a row runs
/// whole, its lanes past <c>valid</c> masked, and what it writes past <c>cols</c> is never read.
/// </summary>
internal static unsafe class AttentionRows
{
    /// <summary>max over c &lt; valid of raw[c]·scale (1 ≤ valid ≤ AttentionKeyBlock; NaN propagates).</summary>
    public static float ScaledMax(float* raw, int valid, float scale)
    {
        if (Vector512.IsHardwareAccelerated) return ScaledMax<FloatLanes512, Vector512<float>>(raw, valid, scale);
        if (Vector256.IsHardwareAccelerated) return ScaledMax<FloatLanes256, Vector256<float>>(raw, valid, scale);
        return ScaledMax<FloatLanes128, Vector128<float>>(raw, valid, scale);
    }

    /// <summary>row[c] = e^(row[c]·scale − shift) for c &lt; valid and 0 for valid ≤ c &lt; cols; returns the sum of the row.</summary>
    public static float ExpShifted(float* row, int valid, int cols, float scale, float shift)
    {
        if (Vector512.IsHardwareAccelerated) return ExpShifted<FloatLanes512, Vector512<float>>(row, valid, cols, scale, shift);
        if (Vector256.IsHardwareAccelerated) return ExpShifted<FloatLanes256, Vector256<float>>(row, valid, cols, scale, shift);
        return ExpShifted<FloatLanes128, Vector128<float>>(row, valid, cols, scale, shift);
    }

    /// <summary>dp[c] = (dp[c] − rowDot)·p[c]·scale for c &lt; cols: the softmax backward of one row into ds.</summary>
    public static void SoftmaxGradient(float* dp, float* p, int cols, float rowDot, float scale)
    {
        if (Vector512.IsHardwareAccelerated) SoftmaxGradient<FloatLanes512, Vector512<float>>(dp, p, cols, rowDot, scale);
        else if (Vector256.IsHardwareAccelerated) SoftmaxGradient<FloatLanes256, Vector256<float>>(dp, p, cols, rowDot, scale);
        else SoftmaxGradient<FloatLanes128, Vector128<float>>(dp, p, cols, rowDot, scale);
    }

    /// <summary>All bits set in the lanes c + 0, c + 1, … that are below <paramref name="valid"/> (small integers, exact in float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Below<TL, TV>(int c, int valid) where TL : IFloatLanes<TV> where TV : struct =>
        TL.LessThan(TL.Add(TL.Indices, TL.Create(c)), TL.Create(valid));

    private static float ScaledMax<TL, TV>(float* raw, int valid, float scale) where TL : IFloatLanes<TV> where TV : struct
    {
        TV scaleV = TL.Create(scale), minusInfinity = TL.Create(float.NegativeInfinity), maxV = minusInfinity;
        int c = 0;
        for (; c <= valid - TL.Count; c += TL.Count) maxV = TL.Max(maxV, TL.Multiply(TL.Load(raw + c), scaleV));
        if (c < valid) maxV = TL.Max(maxV, TL.Select(Below<TL, TV>(c, valid), TL.Multiply(TL.Load(raw + c), scaleV), minusInfinity));
        return TL.MaxAcross(maxV);
    }

    private static float ExpShifted<TL, TV>(float* row, int valid, int cols, float scale, float shift) where TL : IFloatLanes<TV> where TV : struct
    {
        TV scaleV = TL.Create(scale), shiftV = TL.Create(shift), floor = TL.Create(-150f), zero = TL.Create(0f), sumV = zero;
        int c = 0;
        for (; c <= valid - TL.Count; c += TL.Count)
        {
            // clamped so that −∞ (a −∞ score) gives 0 through the range reduction
            var e = FloatLaneMath.Exp<TL, TV>(TL.Max(TL.MultiplySubtract(TL.Load(row + c), scaleV, shiftV), floor), zero);
            TL.Store(e, row + c);
            sumV = TL.Add(sumV, e);
        }
        if (c < valid)
        {
            var e = FloatLaneMath.Exp<TL, TV>(TL.Max(TL.MultiplySubtract(TL.Load(row + c), scaleV, shiftV), floor), zero);
            e = TL.Select(Below<TL, TV>(c, valid), e, zero);
            TL.Store(e, row + c);
            sumV = TL.Add(sumV, e);
            c += TL.Count;
        }
        for (; c < cols; c += TL.Count) TL.Store(zero, row + c);
        return TL.SumAcross(sumV);
    }

    private static void SoftmaxGradient<TL, TV>(float* dp, float* p, int cols, float rowDot, float scale) where TL : IFloatLanes<TV> where TV : struct
    {
        TV rowDotV = TL.Create(rowDot), scaleV = TL.Create(scale);
        for (int c = 0; c < cols; c += TL.Count)
            TL.Store(TL.Multiply(TL.Subtract(TL.Load(dp + c), rowDotV), TL.Multiply(TL.Load(p + c), scaleV)), dp + c);
    }
}
