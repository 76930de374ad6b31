using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Backends.Simd;

/// <summary>
/// Pooling without data-dependent branches. 2×2 stride-2 max pooling (the common case) has a dedicated AVX-512 path:
/// row pairs are gathered into "top" and "bottom" strips, de-interleaved into the four window corners with two-source
/// permutes, compared with vector max/compare+blend, and (backward) re-interleaved. Every other geometry copies each
/// plane once into a padded, stride-phase-split scratch so that every window offset (r, s) of a whole output row is one
/// contiguous vector load, then reduces with vector max/add (forward) or a vector first-argmax (backward).
/// Planes are spread over threads.
/// </summary>
public sealed partial class SimdBackend
{
    /// <summary>Input elements per strip in the 2×2 path (a strip and its scratch stay in L1).</summary>
    private const int StripElements = 2048;

    /// <inheritdoc/>
    public override void Pool2dForward(PoolMode mode, Tensor x, Tensor y, Pool2dGeometry g) =>
        ByFloatType(x.DType, "Pool2dForward", () => PoolForwardCore<float>(mode, x, y, g), () => PoolForwardCore<double>(mode, x, y, g));

    /// <inheritdoc/>
    public override void Pool2dBackward(PoolMode mode, Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dGeometry g) =>
        ByFloatType(x.DType, "Pool2dBackward", () => PoolBackwardCore<float>(mode, x, dy, dx, g), () => PoolBackwardCore<double>(mode, x, dy, dx, g));

    private static bool IsMax2x2(PoolMode mode, Pool2dGeometry g) =>
        mode == PoolMode.Max && Avx512F.IsSupported && g.KernelH == 2 && g.KernelW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0
        // the row-pair layout needs planes of exactly 2·OH rows of 2·OW columns: an odd size (floor: true drops the
        // leftover row or column) would shift every plane after the first and overrun the output strip
        && g.H == 2 * g.OH && g.W == 2 * g.OW;

    private static unsafe void PoolForwardCore<T>(PoolMode mode, Tensor x, Tensor y, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int planes = g.N * g.C;
        if (planes == 0 || g.OH == 0 || g.OW == 0) return;
        T[] xs = x.HostData<T>(), ys = y.HostData<T>();
        // SAFETY: arrays pinned for the call; each plane's slices lie inside x and y (contiguous NCHW).
        fixed (T* px0 = xs) fixed (T* py0 = ys)
        {
            var body = new PoolBody<T> { Mode = mode, G = g, X = px0 + x.Offset, Y = py0 + y.Offset, Backward = false };
            RunPool(planes, ref body);
        }
    }

    private static unsafe void PoolBackwardCore<T>(PoolMode mode, Tensor x, Tensor dy, Tensor dx, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int planes = g.N * g.C;
        if (planes == 0 || g.H == 0 || g.W == 0) return;
        T[] xs = x.HostData<T>(), gs = dy.HostData<T>(), ds = dx.HostData<T>();
        // SAFETY: arrays pinned for the call; each plane's slices lie inside x, dy and dx (contiguous NCHW).
        fixed (T* px0 = xs) fixed (T* pg0 = gs) fixed (T* pd0 = ds)
        {
            var body = new PoolBody<T> { Mode = mode, G = g, X = px0 + x.Offset, Dy = pg0 + dy.Offset, Dx = pd0 + dx.Offset, Backward = true };
            RunPool(planes, ref body);
        }
    }

    /// <summary>
    /// The work split. 2×2 path: the planes' N·C·OH row pairs (rows 2i, 2i+1) in strips of about
    /// <see cref="StripElements"/> input elements, strips spread over threads. General path: whole planes.
    /// </summary>
    private static void RunPool<T>(int planes, ref PoolBody<T> body) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = body.G;
        body.Max2x2 = IsMax2x2(body.Mode, g);
        body.Pairs = (long)planes * g.OH;
        body.StripRows = Math.Max(1, StripElements / g.W);
        long items = body.Max2x2 ? (body.Pairs + body.StripRows - 1) / body.StripRows : planes;
        SimdParallel.ForRanges(items, SimdParallel.PartsFor((long)planes * g.H * g.W), ref body);
    }

    private unsafe struct PoolBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public PoolMode Mode;
        public Pool2dGeometry G;
        public bool Backward, Max2x2;
        public long Pairs;
        public int StripRows;
        // forward reads X and writes Y; backward reads X and Dy and writes Dx
        public T* X, Y, Dy, Dx;

        // SAFETY: strips cover row pairs [first, first + rows) < Pairs and planes index < N·C, inside the pinned
        // contiguous NCHW tensors the pointers start.
        public readonly void Run(long start, long end)
        {
            var g = G;
            for (long item = start; item < end; item++)
            {
                if (Max2x2)
                {
                    long first = item * StripRows;
                    int rows = (int)Math.Min(StripRows, Pairs - first);
                    if (Backward) MaxPool2x2Backward(X + first * 2 * g.W, Dy + first * g.OW, Dx + first * 2 * g.W, rows, g.W);
                    else MaxPool2x2Forward(X + first * 2 * g.W, Y + first * g.OW, rows, g.W);
                    continue;
                }
                long inOff = item * g.H * g.W, outOff = item * g.OH * g.OW;
                if (Backward) PoolPlaneBackward(Mode, X + inOff, Dy + outOff, Dx + inOff, g);
                else PoolPlaneForward(Mode, X + inOff, Y + outOff, g);
            }
        }
    }

    // ---- 2×2 stride 2, AVX-512 ----

    /// <summary>
    /// Copies <paramref name="rows"/> row pairs (rows 2i and 2i+1, each of width w) into two contiguous strips, so that
    /// the corners of consecutive windows are the even/odd elements of one long array even across row ends (w is even).
    /// </summary>
    // SAFETY: x covers rows·2·w elements, top and bottom rows·w.
    private static unsafe void SplitRowPairs<T>(T* x, int rows, int w, T* top, T* bottom) where T : unmanaged
    {
        for (int i = 0; i < rows; i++)
        {
            Unsafe.CopyBlockUnaligned(top + (long)i * w, x + (long)i * 2 * w, (uint)(w * sizeof(T)));
            Unsafe.CopyBlockUnaligned(bottom + (long)i * w, x + ((long)i * 2 + 1) * w, (uint)(w * sizeof(T)));
        }
    }

    // SAFETY: x covers rows·2·w elements and y rows·(w/2); the scratch strips (pinned per-thread buffer) have room for one
    // extra vector pair, so the last (partial) group reads defined memory and only its valid outputs are stored.
    private static unsafe void MaxPool2x2Forward<T>(T* x, T* y, int rows, int w) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = Vector512<T>.Count, len = rows * w, outputs = len / 2, strip = len + 2 * count;
        T* top = (T*)Pin(ThreadScratch<T>.Second(2 * strip));
        T* bottom = top + strip;
        SplitRowPairs(x, rows, w, top, bottom);
        int j = 0;
        for (; j + count <= outputs; j += count)
            Max4(top, bottom, j).Store(y + j);
        if (j < outputs)
        {
            var m = Max4(top, bottom, j);
            for (int t = 0; j + t < outputs; t++) y[j + t] = m.GetElement(t);
        }
    }

    /// <summary>Maximum of the four corners of windows j .. j+Count−1 (IEEE max: NaN propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<T> Max4<T>(T* top, T* bottom, int j) where T : unmanaged
    {
        Deinterleave(Vector512.Load(top + 2 * j), Vector512.Load(top + 2 * j + Vector512<T>.Count), out var a, out var b);
        Deinterleave(Vector512.Load(bottom + 2 * j), Vector512.Load(bottom + 2 * j + Vector512<T>.Count), out var c, out var d);
        return Vector512.Max(Vector512.Max(a, b), Vector512.Max(c, d));
    }

    // SAFETY: as the forward; dx covers rows·2·w elements and is fully overwritten (2×2 stride-2 windows tile the plane).
    private static unsafe void MaxPool2x2Backward<T>(T* x, T* dy, T* dx, int rows, int w) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = Vector512<T>.Count, len = rows * w, outputs = len / 2, strip = len + 2 * count;
        T* top = (T*)Pin(ThreadScratch<T>.Second(4 * strip + outputs + count));
        T* bottom = top + strip, dTop = bottom + strip, dBottom = dTop + strip, g = dBottom + strip;
        SplitRowPairs(x, rows, w, top, bottom);
        Unsafe.CopyBlockUnaligned(g, dy, (uint)(outputs * sizeof(T)));
        new Span<T>(g + outputs, count).Clear();
        for (int j = 0; j < outputs; j += count)
        {
            Deinterleave(Vector512.Load(top + 2 * j), Vector512.Load(top + 2 * j + count), out var a, out var b);
            Deinterleave(Vector512.Load(bottom + 2 * j), Vector512.Load(bottom + 2 * j + count), out var c, out var d);
            // first maximum in row-major order a, b, c, d: a later corner wins only if strictly greater, or NaN over non-NaN
            var best = a;
            var takeB = Wins(b, best);
            best = Vector512.ConditionalSelect(takeB, b, best);
            var takeC = Wins(c, best);
            best = Vector512.ConditionalSelect(takeC, c, best);
            var takeD = Wins(d, best);
            var gv = Vector512.Load(g + j);
            // the winner is d if takeD, else c if takeC, else b if takeB, else a
            var gd = takeD & gv;
            var gc = Vector512.AndNot(takeC, takeD) & gv;
            var gb = Vector512.AndNot(Vector512.AndNot(takeB, takeC), takeD) & gv;
            var ga = Vector512.AndNot(Vector512.AndNot(Vector512.AndNot(gv, takeB), takeC), takeD);
            Interleave(ga, gb, out var lo, out var hi);
            lo.Store(dTop + 2 * j); hi.Store(dTop + 2 * j + count);
            Interleave(gc, gd, out lo, out hi);
            lo.Store(dBottom + 2 * j); hi.Store(dBottom + 2 * j + count);
        }
        for (int i = 0; i < rows; i++)
        {
            Unsafe.CopyBlockUnaligned(dx + (long)i * 2 * w, dTop + (long)i * w, (uint)(w * sizeof(T)));
            Unsafe.CopyBlockUnaligned(dx + ((long)i * 2 + 1) * w, dBottom + (long)i * w, (uint)(w * sizeof(T)));
        }
    }

    /// <summary>Lanes where <paramref name="v"/> replaces the running maximum: v &gt; best, or v is NaN and best is not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Wins<T>(Vector512<T> v, Vector512<T> best) where T : unmanaged =>
        Vector512.GreaterThan(v, best) | Vector512.AndNot(Vector512.IsNaN(v), Vector512.IsNaN(best));

    /// <summary>even = (lo:hi)[0, 2, 4, …], odd = (lo:hi)[1, 3, 5, …].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Deinterleave<T>(Vector512<T> lo, Vector512<T> hi, out Vector512<T> even, out Vector512<T> odd) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var l = lo.AsSingle(); var h = hi.AsSingle();
            even = Avx512F.PermuteVar16x32x2(l, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), h).As<float, T>();
            odd = Avx512F.PermuteVar16x32x2(l, Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), h).As<float, T>();
        }
        else
        {
            var l = lo.AsDouble(); var h = hi.AsDouble();
            even = Avx512F.PermuteVar8x64x2(l, Vector512.Create(0L, 2, 4, 6, 8, 10, 12, 14), h).As<double, T>();
            odd = Avx512F.PermuteVar8x64x2(l, Vector512.Create(1L, 3, 5, 7, 9, 11, 13, 15), h).As<double, T>();
        }
    }

    /// <summary>The inverse of <see cref="Deinterleave{T}"/>: lo:hi = even[0], odd[0], even[1], odd[1], ….</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave<T>(Vector512<T> even, Vector512<T> odd, out Vector512<T> lo, out Vector512<T> hi) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var e = even.AsSingle(); var o = odd.AsSingle();
            lo = Avx512F.PermuteVar16x32x2(e, Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), o).As<float, T>();
            hi = Avx512F.PermuteVar16x32x2(e, Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), o).As<float, T>();
        }
        else
        {
            var e = even.AsDouble(); var o = odd.AsDouble();
            lo = Avx512F.PermuteVar8x64x2(e, Vector512.Create(0L, 8, 1, 9, 2, 10, 3, 11), o).As<double, T>();
            hi = Avx512F.PermuteVar8x64x2(e, Vector512.Create(4L, 12, 5, 13, 6, 14, 7, 15), o).As<double, T>();
        }
    }

    // ---- any geometry: padded, stride-phase-split plane ----

    /// <summary>
    /// Writes the plane padded by (ph, pw) with <paramref name="pad"/> into <paramref name="dst"/>, columns split by
    /// phase: element (h, u·sw + q) of the padded plane goes to dst[(q·Hp + h)·PW + u], so that window column s of
    /// outputs j = 0, 1, … is the contiguous run starting at phase s mod sw, offset s / sw.
    /// </summary>
    // SAFETY: x covers H·W elements, dst sw·Hp·PW.
    private static unsafe void PadSplit<T>(T* x, Pool2dGeometry g, T pad, T* dst, out int hp, out int pwid) where T : unmanaged
    {
        hp = g.H + 2 * g.PadH;
        int wp = g.W + 2 * g.PadW, sw = g.StrideW;
        pwid = (wp + sw - 1) / sw;
        new Span<T>(dst, sw * hp * pwid).Fill(pad);
        for (int h = 0; h < g.H; h++)
        {
            T* src = x + (long)h * g.W;
            if (sw == 1)
            {
                Unsafe.CopyBlockUnaligned(dst + (long)(h + g.PadH) * pwid + g.PadW, src, (uint)(g.W * sizeof(T)));
                continue;
            }
            // phase q holds padded columns q, q + sw, …: input columns w = u·sw + q − pw
            for (int q = 0; q < sw; q++)
            {
                T* drow = dst + ((long)q * hp + h + g.PadH) * pwid;
                int u0 = Math.Max(0, (g.PadW - q + sw - 1) / sw);
                for (int u = u0, w = u0 * sw + q - g.PadW; w < g.W && u < pwid; u++, w += sw) drow[u] = src[w];
            }
        }
    }

    // SAFETY: x covers one input plane, y one output plane; scratch comes from the pinned per-thread buffers.
    private static unsafe void PoolPlaneForward<T>(PoolMode mode, T* x, T* y, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool max = mode == PoolMode.Max;
        int sw = g.StrideW, hpad = g.H + 2 * g.PadH, pw = (g.W + 2 * g.PadW + sw - 1) / sw;
        T* split = (T*)Pin(ThreadScratch<T>.Second(sw * hpad * pw));
        PadSplit(x, g, max ? T.NegativeInfinity : T.Zero, split, out int hp, out int pwid);
        int ow = g.OW;
        T area = T.CreateTruncating(g.KernelH * g.KernelW);
        for (int i = 0; i < g.OH; i++)
        {
            var acc = new Span<T>(y + (long)i * ow, ow);
            acc.Fill(max ? T.NegativeInfinity : T.Zero);
            for (int r = 0; r < g.KernelH; r++)
            for (int s = 0; s < g.KernelW; s++)
            {
                var src = new ReadOnlySpan<T>(split + ((long)(s % sw) * hp + i * g.StrideH + r) * pwid + s / sw, ow);
                if (max) TensorPrimitives.Max(acc, src, acc);
                else TensorPrimitives.Add(acc, src, acc);
            }
            if (!max) TensorPrimitives.Divide(acc, area, acc);
        }
    }

    // SAFETY: x and dx cover one input plane, dy one output plane; scratch comes from the pinned per-thread buffers.
    private static unsafe void PoolPlaneBackward<T>(PoolMode mode, T* x, T* dy, T* dx, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int sw = g.StrideW, sh = g.StrideH, kw = g.KernelW, ow = g.OW;
        int hp = g.H + 2 * g.PadH, wp = g.W + 2 * g.PadW, pwid = (wp + sw - 1) / sw;
        // scratch layout: [split plane sw·hp·pwid][padded dx hp·wp][best ow][winner ow]
        T* scratch = (T*)Pin(ThreadScratch<T>.Second(sw * hp * pwid + hp * wp + 2 * ow));
        T* split = scratch, dpad = split + sw * hp * pwid, best = dpad + hp * wp, winner = best + ow;
        new Span<T>(dpad, hp * wp).Clear();
        if (mode == PoolMode.Average)
        {
            T area = T.CreateTruncating(g.KernelH * kw);
            for (int i = 0; i < g.OH; i++)
            for (int r = 0; r < g.KernelH; r++)
            {
                T* drow = dpad + (long)(i * sh + r) * wp;
                for (int s = 0; s < kw; s++)
                for (int j = 0; j < ow; j++)
                    drow[j * sw + s] += dy[(long)i * ow + j] / area;
            }
        }
        else
        {
            PadSplit(x, g, T.NegativeInfinity, split, out _, out _);
            for (int i = 0; i < g.OH; i++)
            {
                // start every window at its first in-image element; padding (-inf) can then never win a tie
                int r0 = Math.Max(0, g.PadH - i * sh);
                for (int j = 0; j < ow; j++)
                {
                    best[j] = T.NegativeInfinity;
                    winner[j] = T.CreateTruncating(r0 * kw + Math.Max(0, g.PadW - j * sw));
                }
                for (int r = 0; r < g.KernelH; r++)
                for (int s = 0; s < kw; s++)
                    FirstMaxStep(split + ((long)(s % sw) * hp + i * sh + r) * pwid + s / sw, best, winner, T.CreateTruncating(r * kw + s), ow);
                for (int j = 0; j < ow; j++)
                {
                    int t = int.CreateTruncating(winner[j]);
                    dpad[(long)(i * sh + t / kw) * wp + j * sw + t % kw] += dy[(long)i * ow + j];
                }
            }
        }
        for (int h = 0; h < g.H; h++)
            Unsafe.CopyBlockUnaligned(dx + (long)h * g.W, dpad + (long)(h + g.PadH) * wp + g.PadW, (uint)(g.W * sizeof(T)));
    }

    /// <summary>
    /// One window position for a row of outputs: where v wins (v &gt; best, or NaN over non-NaN) best = v and
    /// winner = position, as compare + blend (no branch per element). Positions are small integers held in T.
    /// </summary>
    // SAFETY: v, best and winner each cover n elements; the last vector overlaps earlier lanes, which is harmless
    // because the step is idempotent (a lane that already took v compares v against itself and keeps it).
    private static unsafe void FirstMaxStep<T>(T* v, T* best, T* winner, T position, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            int c = Vector256<T>.Count;
            var pos = Vector256.Create(position);
            for (; ; i += c)
            {
                if (i > n - c) i = n - c;
                var x = Vector256.Load(v + i);
                var b = Vector256.Load(best + i);
                var take = Vector256.GreaterThan(x, b) | Vector256.AndNot(Vector256.IsNaN(x), Vector256.IsNaN(b));
                Vector256.ConditionalSelect(take, x, b).Store(best + i);
                Vector256.ConditionalSelect(take, pos, Vector256.Load(winner + i)).Store(winner + i);
                if (i == n - c) return;
            }
        }
        for (; i < n; i++)
        {
            T x = v[i], b = best[i];
            if (x > b || (T.IsNaN(x) && !T.IsNaN(b))) { best[i] = x; winner[i] = position; }
        }
    }
}
