using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NativeNet.Backends.Simd;

// Depthwise convolution (one input channel per group, any channel multiplier, stride, padding and dilation): a direct
// kernel per channel plane instead of per-group im2col + a GEMM with one row. Each input plane is first copied into a
// zero-bordered plane P of (H + 2·ph) × (W + 2·pw); filter tap (r, s) then reads P at a fixed offset off = r·dh·Wp + s·dw
// from the output position, so at stride 1 every tap is one flat vector run over the whole plane (the columns past OW
// of each padded row are computed and dropped). Planes are independent and each is summed in a fixed order, so the
// results do not depend on the thread count.
public sealed partial class SimdBackend
{
    /// <summary>Groups of one input channel each: the direct depthwise kernels below.</summary>
    private static bool IsDepthwise(Conv2dGeometry g) => g.Groups > 1 && g.GroupChannels == 1;

    /// <summary>The zero-bordered plane's row length (W + 2·pw) and height (H + 2·ph).</summary>
    private static (int Hp, int Wp) PaddedPlane(Conv2dGeometry g) => (g.H + 2 * g.PadH, g.W + 2 * g.PadW);

    /// <summary>Writes the offsets r·dh·Wp + s·dw of the R·S filter taps into the padded plane.</summary>
    private static void TapOffsets(Conv2dGeometry g, int wp, Span<int> offsets)
    {
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
            offsets[r * g.S + s] = r * g.DilationH * wp + s * g.DilationW;
    }

    /// <summary>p = the H×W plane x inside a zero border of ph rows and pw columns (Hp × Wp).</summary>
    // SAFETY: x points to H·W readable elements, p to Hp·Wp writable ones.
    private static unsafe void PadPlane<T>(T* x, Conv2dGeometry g, int hp, int wp, T* p) where T : unmanaged
    {
        new Span<T>(p, g.PadH * wp).Clear();
        new Span<T>(p + (long)(g.PadH + g.H) * wp, g.PadH * wp).Clear();
        for (int h = 0; h < g.H; h++)
        {
            T* row = p + (long)(g.PadH + h) * wp;
            new Span<T>(row, g.PadW).Clear();
            new ReadOnlySpan<T>(x + (long)h * g.W, g.W).CopyTo(new Span<T>(row + g.PadW, g.W));
            new Span<T>(row + g.PadW + g.W, g.PadW).Clear();
        }
    }

    /// <summary>dst[q] (= or +=) Σ_t w[t]·src[q + offsets[t]] for q in [0, length): every tap as one flat vector run.</summary>
    // SAFETY: src[q + offsets[t]] is readable and dst[q] writable for every q < length and tap t (the callers size both).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void TapRuns<T>(T* src, ReadOnlySpan<int> offsets, T* w, int length, T* dst, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int taps = offsets.Length, v = Vector<T>.Count, q = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; q + 4 * v <= length; q += 4 * v)
            {
                Vector<T> a0 = accumulate ? Vector.Load(dst + q) : Vector<T>.Zero;
                Vector<T> a1 = accumulate ? Vector.Load(dst + q + v) : Vector<T>.Zero;
                Vector<T> a2 = accumulate ? Vector.Load(dst + q + 2 * v) : Vector<T>.Zero;
                Vector<T> a3 = accumulate ? Vector.Load(dst + q + 3 * v) : Vector<T>.Zero;
                for (int t = 0; t < taps; t++)
                {
                    var wt = new Vector<T>(w[t]);
                    T* s = src + q + offsets[t];
                    a0 += wt * Vector.Load(s);
                    a1 += wt * Vector.Load(s + v);
                    a2 += wt * Vector.Load(s + 2 * v);
                    a3 += wt * Vector.Load(s + 3 * v);
                }
                Vector.Store(a0, dst + q);
                Vector.Store(a1, dst + q + v);
                Vector.Store(a2, dst + q + 2 * v);
                Vector.Store(a3, dst + q + 3 * v);
            }
            for (; q + v <= length; q += v)
            {
                Vector<T> a = accumulate ? Vector.Load(dst + q) : Vector<T>.Zero;
                for (int t = 0; t < taps; t++) a += new Vector<T>(w[t]) * Vector.Load(src + q + offsets[t]);
                Vector.Store(a, dst + q);
            }
        }
        for (; q < length; q++)
        {
            T a = accumulate ? dst[q] : T.Zero;
            for (int t = 0; t < taps; t++) a += w[t] * src[q + offsets[t]];
            dst[q] = a;
        }
    }

    /// <summary>result[t] += Σ_q dy[q]·src[q + offsets[t]] for q in [0, length): one vector dot product per tap.</summary>
    // SAFETY: dy[q] and src[q + offsets[t]] are readable for every q < length and tap t; result holds one element per tap.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void TapDots<T>(T* dy, T* src, ReadOnlySpan<int> offsets, int length, T* result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector<T>.Count;
        if (offsets.Length == 9 && Vector.IsHardwareAccelerated)
        {
            TapDots9(dy, src, offsets, length, result);
            return;
        }
        for (int t = 0; t < offsets.Length; t++)
        {
            T* s = src + offsets[t];
            int q = 0;
            T sum = T.Zero;
            if (Vector.IsHardwareAccelerated)
            {
                Vector<T> a0 = Vector<T>.Zero, a1 = Vector<T>.Zero;
                for (; q + 2 * v <= length; q += 2 * v)
                {
                    a0 += Vector.Load(dy + q) * Vector.Load(s + q);
                    a1 += Vector.Load(dy + q + v) * Vector.Load(s + q + v);
                }
                for (; q + v <= length; q += v) a0 += Vector.Load(dy + q) * Vector.Load(s + q);
                sum = Vector.Sum(a0 + a1);
            }
            for (; q < length; q++) sum += dy[q] * s[q];
            result[t] += sum;
        }
    }

    /// <summary><see cref="TapDots{T}"/> for a 3×3 filter: each dy vector is loaded once for all nine taps (nine accumulators).</summary>
    // SAFETY: as TapDots, with nine offsets.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void TapDots9<T>(T* dy, T* src, ReadOnlySpan<int> offsets, int length, T* result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector<T>.Count, q = 0;
        T* s0 = src + offsets[0], s1 = src + offsets[1], s2 = src + offsets[2], s3 = src + offsets[3], s4 = src + offsets[4];
        T* s5 = src + offsets[5], s6 = src + offsets[6], s7 = src + offsets[7], s8 = src + offsets[8];
        Vector<T> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default;
        for (; q + v <= length; q += v)
        {
            var d = Vector.Load(dy + q);
            a0 += d * Vector.Load(s0 + q);
            a1 += d * Vector.Load(s1 + q);
            a2 += d * Vector.Load(s2 + q);
            a3 += d * Vector.Load(s3 + q);
            a4 += d * Vector.Load(s4 + q);
            a5 += d * Vector.Load(s5 + q);
            a6 += d * Vector.Load(s6 + q);
            a7 += d * Vector.Load(s7 + q);
            a8 += d * Vector.Load(s8 + q);
        }
        T r0 = Vector.Sum(a0), r1 = Vector.Sum(a1), r2 = Vector.Sum(a2), r3 = Vector.Sum(a3), r4 = Vector.Sum(a4);
        T r5 = Vector.Sum(a5), r6 = Vector.Sum(a6), r7 = Vector.Sum(a7), r8 = Vector.Sum(a8);
        for (; q < length; q++)
        {
            T d = dy[q];
            r0 += d * s0[q]; r1 += d * s1[q]; r2 += d * s2[q]; r3 += d * s3[q]; r4 += d * s4[q];
            r5 += d * s5[q]; r6 += d * s6[q]; r7 += d * s7[q]; r8 += d * s8[q];
        }
        result[0] += r0; result[1] += r1; result[2] += r2; result[3] += r3; result[4] += r4;
        result[5] += r5; result[6] += r6; result[7] += r7; result[8] += r8;
    }

    private static unsafe void DepthwiseForward<T>(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.N == 0 || g.K == 0 || g.OH * g.OW == 0) return;
        T[] xs = x.HostData<T>(), ws = w.HostData<T>(), ys = y.HostData<T>();
        T[]? bs = bias?.HostData<T>();
        // SAFETY: arrays pinned for the whole call; plane (n, c) of x and the planes (n, c·kg + f) of y lie inside them
        // (contiguous NCHW); parts write disjoint planes of y.
        fixed (T* px = xs) fixed (T* pw = ws) fixed (T* py = ys) fixed (T* pb = bs)
        {
            var body = new DepthwiseBody<T> { G = g, X = px + x.Offset, W = pw + w.Offset, Y = py + y.Offset, Bias = pb is null ? null : pb + bias!.Offset, Pass = DepthwisePass.Forward };
            SimdParallel.ForRanges((long)g.N * g.C, SimdParallel.PartsFor(DepthwiseWork(g)), ref body);
        }
    }

    private static unsafe void DepthwiseBackwardData<T>(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.N == 0 || g.C * g.H * g.W == 0) return;
        T[] gs = dy.HostData<T>(), ws = w.HostData<T>(), xs = dx.HostData<T>();
        if (g.K == 0 || g.OH * g.OW == 0)
        {
            new Span<T>(xs, dx.Offset, g.N * g.C * g.H * g.W).Clear();
            return;
        }
        // SAFETY: as DepthwiseForward, with the planes (n, c) of dx written, disjoint between parts.
        fixed (T* pg = gs) fixed (T* pw = ws) fixed (T* px = xs)
        {
            var body = new DepthwiseBody<T> { G = g, X = px + dx.Offset, W = pw + w.Offset, Y = pg + dy.Offset, Pass = DepthwisePass.BackwardData };
            SimdParallel.ForRanges((long)g.N * g.C, SimdParallel.PartsFor(DepthwiseWork(g)), ref body);
        }
    }

    private static unsafe void DepthwiseBackwardFilter<T>(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] xs = x.HostData<T>(), gs = dy.HostData<T>(), ws = dw.HostData<T>();
        if (db is not null) BiasGradient(gs, dy.Offset, db, g.N, g.K, g.OH * g.OW);
        new Span<T>(ws, dw.Offset, g.K * g.R * g.S).Clear();
        if (g.N == 0 || g.OH * g.OW == 0 || g.K == 0) return;
        // SAFETY: as DepthwiseForward; parts write the disjoint filters [start, end) of dw.
        fixed (T* px = xs) fixed (T* pg = gs) fixed (T* pw = ws)
        {
            var body = new DepthwiseBody<T> { G = g, X = px + x.Offset, W = pw + dw.Offset, Y = pg + dy.Offset, Pass = DepthwisePass.BackwardFilter };
            SimdParallel.ForRanges(g.K, SimdParallel.PartsFor(DepthwiseWork(g)), ref body);
        }
    }

    /// <summary>Multiply-adds of one pass, the measure the thread split is sized by.</summary>
    private static long DepthwiseWork(Conv2dGeometry g) => (long)g.N * g.K * g.OH * g.OW * g.R * g.S;

    private enum DepthwisePass { Forward, BackwardData, BackwardFilter }

    private unsafe struct DepthwiseBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Conv2dGeometry G;
        /// <summary>x (dx for the data gradient), the filters (dw for the filter gradient), y (dy for both gradients).</summary>
        public T* X, W, Y, Bias;
        public DepthwisePass Pass;

        // SAFETY: items are planes (n, c) for the forward and data passes and filters k for the filter pass; each
        // writes only its own planes of y/dx or its own filter of dw; the scratch arrays are this thread's, pinned, and
        // sized to the padded plane (first) and the padded plane plus the largest tap offset (second).
        public readonly void Run(long start, long end)
        {
            var g = G;
            var (hp, wp) = PaddedPlane(g);
            // OH and OW are computed properties of the geometry: read once
            int taps = g.R * g.S, kg = g.GroupFilters, hw = g.H * g.W, oh = g.OH, ow = g.OW, ohw = oh * ow;
            Span<int> offsets = stackalloc int[taps];
            TapOffsets(g, wp, offsets);
            int maxOffset = offsets[taps - 1];
            Span<int> reversed = stackalloc int[taps];
            for (int t = 0; t < taps; t++) reversed[t] = maxOffset - offsets[t];
            T* plane = (T*)Pin(ThreadScratch<T>.First(hp * wp));
            T* work = (T*)Pin(ThreadScratch<T>.Second(hp * wp + maxOffset));
            bool unitStride = g.StrideH == 1 && g.StrideW == 1;
            // at stride 1, output (i, j) sits at i·Wp + j of a plane Wp wide: runs cover [0, span)
            int span = (oh - 1) * wp + ow;
            if (Pass == DepthwisePass.BackwardFilter)
            {
                for (long k = start; k < end; k++)
                {
                    int c = (int)k / kg;
                    T* dwk = W + k * taps;
                    for (int n = 0; n < g.N; n++)
                    {
                        PadPlane(X + ((long)n * g.C + c) * hw, g, hp, wp, plane);
                        T* dyk = Y + ((long)n * g.K + k) * ohw;
                        if (unitStride)
                        {
                            SpreadRows(dyk, oh, ow, wp, work);
                            TapDots(work, plane, offsets, span, dwk);
                        }
                        else StridedFilter(dyk, plane, g, wp, offsets, dwk);
                    }
                }
                return;
            }
            for (long item = start; item < end; item++)
            {
                int n = (int)(item / g.C), c = (int)(item % g.C);
                T* xc = X + item * hw;
                if (Pass == DepthwisePass.Forward)
                {
                    PadPlane(xc, g, hp, wp, plane);
                    for (int f = 0; f < kg; f++)
                    {
                        int k = c * kg + f;
                        T* yk = Y + ((long)n * g.K + k) * ohw;
                        T b = Bias is null ? T.Zero : Bias[k];
                        if (unitStride)
                        {
                            TapRuns(plane, offsets, W + (long)k * taps, span, work, accumulate: false);
                            for (int i = 0; i < oh; i++)
                            {
                                var row = new ReadOnlySpan<T>(work + (long)i * wp, ow);
                                var dst = new Span<T>(yk + (long)i * ow, ow);
                                if (Bias is null) row.CopyTo(dst);
                                else TensorPrimitives.Add(row, b, dst);
                            }
                        }
                        else StridedForward(plane, g, wp, offsets, W + (long)k * taps, b, yk);
                    }
                    continue;
                }
                // data gradient: dP[p] = Σ_k Σ_t w[k, t]·dY_k[p − off_t], gathered from dY_k placed maxOffset into a
                // zeroed buffer (so p − off_t never falls before it), then the interior of dP is dx
                for (int f = 0; f < kg; f++)
                {
                    int k = c * kg + f;
                    T* dyk = Y + ((long)n * g.K + k) * ohw;
                    T* wk = W + (long)k * taps;
                    if (unitStride)
                    {
                        new Span<T>(work, maxOffset).Clear();
                        SpreadRows(dyk, oh, ow, wp, work + maxOffset);
                        new Span<T>(work + maxOffset + oh * wp, hp * wp - oh * wp).Clear();
                        TapRuns(work + g.PadH * wp, reversed, wk, g.H * wp, plane + g.PadH * wp, accumulate: f > 0);
                    }
                    else
                    {
                        if (f == 0) new Span<T>(plane, hp * wp).Clear();
                        StridedData(dyk, g, wp, offsets, wk, plane);
                    }
                }
                for (int h = 0; h < g.H; h++)
                    new ReadOnlySpan<T>(plane + (long)(g.PadH + h) * wp + g.PadW, g.W).CopyTo(new Span<T>(xc + (long)h * g.W, g.W));
            }
        }
    }

    /// <summary>dst[i·Wp + j] = src[i·OW + j] for j &lt; OW and 0 for OW ≤ j &lt; Wp: a plane laid out Wp wide.</summary>
    // SAFETY: src holds OH·OW readable elements, dst OH·Wp writable ones.
    private static unsafe void SpreadRows<T>(T* src, int oh, int ow, int wp, T* dst) where T : unmanaged
    {
        for (int i = 0; i < oh; i++)
        {
            new ReadOnlySpan<T>(src + (long)i * ow, ow).CopyTo(new Span<T>(dst + (long)i * wp, ow));
            new Span<T>(dst + (long)i * wp + ow, wp - ow).Clear();
        }
    }

    // SAFETY (the three strided kernels): position (i·sh)·Wp + j·sw + off_t lies inside the Hp×Wp plane for every
    // output (i, j) and tap t, by the definition of OH and OW; y/dy hold OH·OW elements, w one value per tap.
    private static unsafe void StridedForward<T>(T* plane, Conv2dGeometry g, int wp, ReadOnlySpan<int> offsets, T* w, T bias, T* y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW, sh = g.StrideH, sw = g.StrideW;
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T* at = plane + (long)i * sh * wp + (long)j * sw;
            T a = T.Zero;
            for (int t = 0; t < offsets.Length; t++) a += w[t] * at[offsets[t]];
            y[i * ow + j] = a + bias;
        }
    }

    private static unsafe void StridedData<T>(T* dy, Conv2dGeometry g, int wp, ReadOnlySpan<int> offsets, T* w, T* plane)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW, sh = g.StrideH, sw = g.StrideW;
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T* at = plane + (long)i * sh * wp + (long)j * sw;
            T d = dy[i * ow + j];
            for (int t = 0; t < offsets.Length; t++) at[offsets[t]] += w[t] * d;
        }
    }

    private static unsafe void StridedFilter<T>(T* dy, T* plane, Conv2dGeometry g, int wp, ReadOnlySpan<int> offsets, T* dw)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW, sh = g.StrideH, sw = g.StrideW;
        for (int t = 0; t < offsets.Length; t++)
        {
            T a = T.Zero;
            for (int i = 0; i < oh; i++)
            {
                T* at = plane + (long)i * sh * wp + offsets[t];
                T* d = dy + i * ow;
                for (int j = 0; j < ow; j++) a += d[j] * at[(long)j * sw];
            }
            dw[t] += a;
        }
    }
}
