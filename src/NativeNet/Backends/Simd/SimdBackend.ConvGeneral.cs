using System.Numerics;

namespace NativeNet.Backends.Simd;

// Dilated and grouped convolutions (depthwise included): per image and per group, a dilated im2col of the group's
// channels and one GEMM with the group's filters. The dense undilated case keeps the chunked path of SimdBackend.Conv.cs.
public sealed partial class SimdBackend
{
    /// <summary>Runs body(i) for i in [0, count); on the worker pool (indices claimed as threads come free) when workers &gt; 1.</summary>
    private static void ForEachIndex(int count, int workers, Action<int> body)
    {
        if (workers <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        SimdParallel.For(count, body);
    }

    /// <summary>Images run in parallel (one GEMM thread each) when there are enough to share; otherwise the GEMMs are threaded.</summary>
    private static (int Workers, int GemmThreads) ImageThreads(Conv2dGeometry g)
    {
        int threads = Threads;
        if (threads <= 1 || g.ForwardFlops < 2e6) return (1, 1);
        return g.N >= threads ? (threads, 1) : (1, threads);
    }

    /// <summary>col[(c·R + r)·S + s, i·OW + j] = x[c0 + c, i·sh − ph + r·dh, j·sw − pw + s·dw] (0 outside the image) for the Cg channels of one group.</summary>
    // SAFETY: x points to one C×H×W image, col to Cg·R·S rows of OH·OW writable elements; every read is range-checked.
    private static unsafe void GroupIm2Col<T>(T* x, Conv2dGeometry g, int c0, T* col) where T : unmanaged
    {
        int oh = g.OH, ow = g.OW, cg = g.GroupChannels;
        for (int c = 0; c < cg; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
        {
            T* dst = col + (long)((c * g.R + r) * g.S + s) * oh * ow;
            ValidColumns(g.W, ow, g.StrideW, g.PadW, s * g.DilationW, out int j0, out int j1);
            for (int i = 0; i < oh; i++)
            {
                T* d = dst + i * ow;
                int h = i * g.StrideH - g.PadH + r * g.DilationH;
                new Span<T>(d, ow).Clear();
                if (h < 0 || h >= g.H) continue;
                T* src = x + ((long)(c0 + c) * g.H + h) * g.W - g.PadW + s * g.DilationW;
                for (int j = j0; j < j1; j++) d[j] = src[(long)j * g.StrideW];
            }
        }
    }

    /// <summary>The adjoint of <see cref="GroupIm2Col"/>: x[c0 + c, h, w] += col[…] for every in-image position.</summary>
    // SAFETY: as GroupIm2Col, with x written.
    private static unsafe void GroupCol2Im<T>(T* col, Conv2dGeometry g, int c0, T* x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW, cg = g.GroupChannels;
        for (int c = 0; c < cg; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
        {
            T* src = col + (long)((c * g.R + r) * g.S + s) * oh * ow;
            ValidColumns(g.W, ow, g.StrideW, g.PadW, s * g.DilationW, out int j0, out int j1);
            if (j0 >= j1) continue;
            for (int i = 0; i < oh; i++)
            {
                int h = i * g.StrideH - g.PadH + r * g.DilationH;
                if (h < 0 || h >= g.H) continue;
                T* dst = x + ((long)(c0 + c) * g.H + h) * g.W - g.PadW + s * g.DilationW;
                T* srow = src + i * ow;
                for (int j = j0; j < j1; j++) dst[(long)j * g.StrideW] += srow[j];
            }
        }
    }

    private static unsafe void GeneralConvForward<T>(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.GroupChannels, kg = g.GroupFilters, crs = cg * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw;
        if (g.N == 0 || g.K == 0 || ohw == 0) return;
        T[] xs = x.HostData<T>(), ws = w.HostData<T>(), ys = y.HostData<T>();
        T[]? bs = bias?.HostData<T>();
        int bo = bias?.Offset ?? 0;
        var (workers, gemmThreads) = ImageThreads(g);
        // SAFETY: arrays pinned for the whole call; image n lies inside x and y (contiguous NCHW), images write disjoint
        // parts of y; the scratch is a pinned per-thread array of at least crs·ohw elements.
        fixed (T* px0 = xs) fixed (T* pw0 = ws) fixed (T* py0 = ys)
        {
            nint ix = (nint)(px0 + x.Offset), iw = (nint)(pw0 + w.Offset), iy = (nint)(py0 + y.Offset);
            ForEachIndex(g.N, workers, n =>
            {
                T* xn = (T*)ix + (long)n * chw, yn = (T*)iy + (long)n * kohw;
                T* col = (T*)Pin(ThreadScratch<T>.First(crs * ohw));
                for (int gi = 0; gi < g.Groups; gi++)
                {
                    GroupIm2Col(xn, g, gi * cg, col);
                    // y[group's K rows, OHW] = W_group[Kg, CgRS] · col[CgRS, OHW]
                    GemmPtr(false, false, kg, ohw, crs, (T*)iw + (long)gi * kg * crs, crs, col, ohw, T.Zero, yn + (long)gi * kg * ohw, ohw, gemmThreads);
                }
                if (bs is not null)
                    for (int kf = 0; kf < g.K; kf++)
                    {
                        var dst = new Span<T>(yn + (long)kf * ohw, ohw);
                        System.Numerics.Tensors.TensorPrimitives.Add(dst, bs[bo + kf], dst);
                    }
            });
        }
    }

    private static unsafe void GeneralConvBackwardData<T>(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.GroupChannels, kg = g.GroupFilters, crs = cg * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw;
        if (g.N == 0 || chw == 0) return;
        T[] gs = dy.HostData<T>(), ws = w.HostData<T>(), xs = dx.HostData<T>();
        new Span<T>(xs, dx.Offset, g.N * chw).Clear();
        if (g.K == 0 || ohw == 0) return;
        var (workers, gemmThreads) = ImageThreads(g);
        // SAFETY: as GeneralConvForward, with dx written image by image.
        fixed (T* pg0 = gs) fixed (T* pw0 = ws) fixed (T* px0 = xs)
        {
            nint ig = (nint)(pg0 + dy.Offset), iw = (nint)(pw0 + w.Offset), ix = (nint)(px0 + dx.Offset);
            ForEachIndex(g.N, workers, n =>
            {
                T* gn = (T*)ig + (long)n * kohw, xn = (T*)ix + (long)n * chw;
                T* col = (T*)Pin(ThreadScratch<T>.First(crs * ohw));
                for (int gi = 0; gi < g.Groups; gi++)
                {
                    // col[CgRS, OHW] = W_groupᵀ · dy[group's K rows, OHW]
                    GemmPtr(true, false, crs, ohw, kg, (T*)iw + (long)gi * kg * crs, crs, gn + (long)gi * kg * ohw, ohw, T.Zero, col, ohw, gemmThreads);
                    GroupCol2Im(col, g, gi * cg, xn);
                }
            });
        }
    }

    private static unsafe void GeneralConvBackwardFilter<T>(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.GroupChannels, kg = g.GroupFilters, crs = cg * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw;
        T[] xs = x.HostData<T>(), gs = dy.HostData<T>(), ws = dw.HostData<T>();
        if (db is not null) BiasGradient(gs, dy.Offset, db, g.N, g.K, ohw);
        new Span<T>(ws, dw.Offset, g.K * crs).Clear();
        if (g.N == 0 || ohw == 0 || g.K == 0) return;
        // Images are summed in order with every thread inside the GEMM, so dw is the same for every thread count.
        int gemmThreads = g.ForwardFlops < 2e6 ? 1 : Threads;
        // SAFETY: arrays pinned for the whole call; image n lies inside x and dy; the scratch is a pinned array of crs·ohw elements.
        fixed (T* px0 = xs) fixed (T* pg0 = gs) fixed (T* pw0 = ws)
        {
            T* col = (T*)Pin(ThreadScratch<T>.First(crs * ohw));
            for (int n = 0; n < g.N; n++)
            {
                T* xn = px0 + x.Offset + (long)n * chw, gn = pg0 + dy.Offset + (long)n * kohw;
                for (int gi = 0; gi < g.Groups; gi++)
                {
                    GroupIm2Col(xn, g, gi * cg, col);
                    // dW_group[Kg, CgRS] += dy[group's K rows, OHW] · colᵀ
                    GemmPtr(false, true, kg, crs, ohw, gn + (long)gi * kg * ohw, ohw, col, ohw, T.One, pw0 + dw.Offset + (long)gi * kg * crs, crs, gemmThreads);
                }
            }
        }
    }
}
