using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    // ---- matrix product ----

    /// <inheritdoc/>
    public override unsafe void Gemm(DType dtype, int batch, int m, int n, int k, MatrixOperand a, MatrixOperand b,
        Storage c, int cOffset, int ldc, int cBatchStride, double beta)
    {
        if (ReferenceEquals(a.Storage, c) || ReferenceEquals(b.Storage, c))
        {
            base.Gemm(dtype, batch, m, n, k, a, b, c, cOffset, ldc, cBatchStride, beta); // the packed GEMM needs C apart from A and B
            return;
        }
        if (batch <= 0 || m <= 0 || n <= 0) return;
        switch (dtype)
        {
            case DType.Float32:
                // SAFETY: the arrays are pinned for the call; operands and strides were checked by the caller (Raw.MatMul).
                fixed (float* pa = ((CpuStorage<float>)a.Storage).Data)
                fixed (float* pb = ((CpuStorage<float>)b.Storage).Data)
                fixed (float* pc = ((CpuStorage<float>)c).Data)
                    BatchedGemm(batch, m, n, k, pa, a, pb, b, pc, cOffset, ldc, cBatchStride, (float)beta);
                break;
            case DType.Float64:
                // SAFETY: as above.
                fixed (double* pa = ((CpuStorage<double>)a.Storage).Data)
                fixed (double* pb = ((CpuStorage<double>)b.Storage).Data)
                fixed (double* pc = ((CpuStorage<double>)c).Data)
                    BatchedGemm(batch, m, n, k, pa, a, pb, b, pc, cOffset, ldc, cBatchStride, beta);
                break;
            default:
                throw new DTypeMismatchException($"Gemm: dtype {dtype} is not supported (Float32 or Float64 expected)");
        }
    }

    // SAFETY: pointers are pinned array bases; each matrix of the batch lies inside its array (checked by the caller).
    private static unsafe void BatchedGemm<T>(int batch, int m, int n, int k, T* pa, MatrixOperand a, T* pb, MatrixOperand b,
        T* pc, int cOffset, int ldc, int cBatchStride, T beta) where T : unmanaged
    {
        double work = (double)m * n * k;
        // small matrices: one whole matrix per thread beats splitting each product
        bool splitBatch = batch > 1 && Threads > 1 && work < 128.0 * 128 * 128 && work * batch > 64.0 * 64 * 64;
        nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
        void One(int bi, int threads) => GemmPtr(a.Trans, b.Trans, m, n, k,
            (T*)ia + a.Offset + (long)bi * a.BatchStride, a.Ld, (T*)ib + b.Offset + (long)bi * b.BatchStride, b.Ld,
            beta, (T*)ic + cOffset + (long)bi * cBatchStride, ldc, threads);
        if (splitBatch)
        {
            int parts = Math.Min(Threads, batch);
            SimdParallel.For(parts, p =>
            {
                for (int bi = batch * p / parts; bi < batch * (p + 1) / parts; bi++) One(bi, 1);
            });
            return;
        }
        for (int bi = 0; bi < batch; bi++) One(bi, Threads);
    }

    /// <summary>The typed entry into <see cref="SimdGemm"/>.</summary>
    // SAFETY: the caller guarantees the three matrices lie inside pinned memory and C overlaps neither A nor B.
    private static unsafe void GemmPtr<T>(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            SimdGemm.Gemm(transA, transB, m, n, k, (float*)a, lda, (float*)b, ldb, Unsafe.As<T, float>(ref beta), (float*)c, ldc, threads);
        else
            SimdGemm.Gemm(transA, transB, m, n, k, (double*)a, lda, (double*)b, ldb, Unsafe.As<T, double>(ref beta), (double*)c, ldc, threads);
    }

    // ---- convolution: im2col + GEMM over chunks of images ----

    /// <summary>
    /// Most GEMM columns (images × OH·OW) in one chunk. A few small images are lowered into one column matrix so that
    /// each GEMM is wider than one 14×14 image's 196 columns; much wider chunks measured slower, as the column matrix
    /// then no longer stays in L2 next to the GEMM's packed panels.
    /// </summary>
    private const int ChunkColumns = 784;

    /// <summary>Most elements in one chunk's column matrix, so that it is still in cache when the GEMM packs it.</summary>
    private const int ChunkElements = 1 << 18;

    /// <summary>Most elements of the filter-gradient partials of one wave of chunks (4 MiB of floats).</summary>
    private const int PartialElements = 1 << 20;

    /// <summary>1×1 filters with stride 1 and no padding read the input directly as the GEMM operand (no im2col).</summary>
    private static bool IsPointwise(Conv2dGeometry g) => g.R == 1 && g.S == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0;

    /// <summary>
    /// Images per chunk, as even as the budgets allow. It depends on the geometry only, never on the thread count: the
    /// filter gradient is summed chunk by chunk in chunk order, so it is the same for every thread count.
    /// </summary>
    private static int ChunkImages(Conv2dGeometry g)
    {
        long cols = Math.Max(1, g.OH * g.OW);
        long rows = Math.Max(1, Math.Max(g.C * g.R * g.S, g.K));
        int most = (int)Math.Clamp(Math.Min(ChunkColumns / cols, ChunkElements / (rows * cols)), 1, Math.Max(1, g.N));
        int chunks = (g.N + most - 1) / most;
        return (g.N + chunks - 1) / chunks;
    }

    /// <summary>
    /// Chunks spread over threads when there are enough to share evenly; otherwise one chunk at a time with every
    /// thread inside its GEMM (3 chunks on 2 threads would leave one thread idle for a third of the time).
    /// </summary>
    private static (int Workers, int GemmThreads) ChunkThreads(int chunks, double flops)
    {
        int threads = Threads;
        if (threads <= 1 || flops < 2e6) return (1, 1);
        if (chunks % threads == 0 || chunks >= 4 * threads) return (threads, 1);
        return (1, threads);
    }

    /// <summary>Runs body(chunk) for every chunk; in parallel on the worker pool (chunks claimed as threads come free) when workers &gt; 1.</summary>
    private static void ForEachChunk<TBody>(int chunks, int workers, ref TBody body) where TBody : struct, IParallelBody
    {
        if (workers <= 1)
        {
            for (int ci = 0; ci < chunks; ci++) body.Run(ci);
            return;
        }
        WorkerPool.Run(chunks, ref body);
    }

    /// <inheritdoc/>
    public override void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g) =>
        ByFloatType(x.DType, "Conv2dForward",
            IsDepthwise(g) ? () => DepthwiseForward<float>(x, w, bias, y, g) : !g.IsDenseUndilated ? () => GeneralConvForward<float>(x, w, bias, y, g) : () => ConvForwardCore<float>(x, w, bias, y, g),
            IsDepthwise(g) ? () => DepthwiseForward<double>(x, w, bias, y, g) : !g.IsDenseUndilated ? () => GeneralConvForward<double>(x, w, bias, y, g) : () => ConvForwardCore<double>(x, w, bias, y, g));

    private static unsafe void ConvForwardCore<T>(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int crs = g.C * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw;
        if (g.N == 0 || g.K == 0 || ohw == 0) return;
        if (WinogradApplies<T>(g))
        {
            WinogradForward(x, w, bias, y, g);
            return;
        }
        T[] xs = x.HostData<T>(), ws = w.HostData<T>(), ys = y.HostData<T>();
        T[]? bs = bias?.HostData<T>();
        int bo = bias?.Offset ?? 0;
        if (crs == 0)
        {
            // no input channels: an empty sum, so each output plane is its bias (or zero), as in the reference
            for (int n = 0; n < g.N; n++)
            for (int kf = 0; kf < g.K; kf++)
                new Span<T>(ys, y.Offset + n * kohw + kf * ohw, ohw).Fill(bs is null ? T.Zero : bs[bo + kf]);
            return;
        }
        int nb = ChunkImages(g), chunks = (g.N + nb - 1) / nb;
        var (workers, gemmThreads) = ChunkThreads(chunks, g.ForwardFlops);
        bool pointwise = IsPointwise(g);
        // SAFETY: arrays pinned for the whole call; every chunk's images lie inside x and y (contiguous NCHW); the
        // scratch arrays are pinned per-thread arrays of at least crs·cols and K·cols elements.
        fixed (T* px0 = xs) fixed (T* pw0 = ws) fixed (T* py0 = ys)
        {
            var body = new ForwardChunk<T>
            {
                G = g, Images = nb, X = px0 + x.Offset, W = pw0 + w.Offset, Y = py0 + y.Offset, Bias = bs, BiasOffset = bo,
                Pointwise = pointwise, GemmThreads = gemmThreads,
            };
            ForEachChunk(chunks, workers, ref body);
        }
    }

    private unsafe struct ForwardChunk<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Conv2dGeometry G;
        public int Images, BiasOffset, GemmThreads;
        public T* X, W, Y;
        public T[]? Bias;
        public bool Pointwise;

        // SAFETY: chunk ci covers images [ci·Images, ci·Images + count) of the pinned contiguous NCHW x and y; the
        // scratch arrays are pinned per-thread arrays of at least crs·cols and K·cols elements.
        public readonly void Run(int ci)
        {
            var g = G;
            int crs = g.C * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw, nb = Images;
            T[]? bs = Bias;
            int bo = BiasOffset;
            int n0 = ci * nb, count = Math.Min(nb, g.N - n0), cols = count * ohw;
            T* xn = X + (long)n0 * chw, yn = Y + (long)n0 * kohw;
            // one image writes straight into y; a chunk computes y as [K, images·OH·OW] and scatters it to NCHW
            T* product = count == 1 ? yn : (T*)Pin(ThreadScratch<T>.Second(g.K * cols));
            if (Pointwise && count == 1)
                GemmPtr(false, false, g.K, cols, crs, W, crs, xn, cols, T.Zero, product, cols, GemmThreads);
            else if (GemmThreads == 1 && SimdConvPack.Handles<T>(g.K, cols, crs))
            {
                var rows = new ChunkTapRows<T> { G = g, X = xn, Count = count, Chw = chw, OH = g.OH, OW = g.OW, Flat = IsFlatRows(g) };
                SimdConvPack.Forward(g.K, cols, crs, W, ref rows, product, cols);
            }
            else
            {
                T* b = (T*)Pin(ThreadScratch<T>.First(crs * cols));
                for (int i = 0; i < count; i++) Im2Col(xn + (long)i * chw, g, b + i * ohw, cols);
                GemmPtr(false, false, g.K, cols, crs, W, crs, b, cols, T.Zero, product, cols, GemmThreads);
            }
            for (int i = 0; i < count; i++)
            for (int kf = 0; kf < g.K; kf++)
            {
                var src = new ReadOnlySpan<T>(product + (long)kf * cols + i * ohw, ohw);
                var dst = new Span<T>(yn + (long)i * kohw + (long)kf * ohw, ohw);
                if (bs is not null) TensorPrimitives.Add(src, bs[bo + kf], dst);
                else if (count > 1) src.CopyTo(dst);
            }
        }
    }

    /// <summary>buf[k, i·OH·OW + q] = dy[n0 + i, k, q] for the images of one chunk: its gradient as one [K, images·OH·OW] matrix.</summary>
    // SAFETY: dy points to count consecutive K×OH·OW images, buf to K·count·ohw writable elements.
    private static unsafe void GatherChunk<T>(T* dy, int count, int k, int ohw, T* buf) where T : unmanaged
    {
        int cols = count * ohw;
        for (int i = 0; i < count; i++)
        for (int kf = 0; kf < k; kf++)
            new ReadOnlySpan<T>(dy + ((long)i * k + kf) * ohw, ohw).CopyTo(new Span<T>(buf + (long)kf * cols + i * ohw, ohw));
    }

    /// <summary>Address of a pinned (POH) array's first element; valid for the array's lifetime.</summary>
    // SAFETY: only called on arrays allocated with pinned: true (ThreadScratch), which never move.
    private static unsafe void* Pin<T>(T[] pinned) where T : unmanaged => Unsafe.AsPointer(ref pinned[0]);

    /// <summary>col[(c·R + r)·S + s, i·OW + j] = x[c, i·sh − ph + r, j·sw − pw + s] (0 outside the image); rows of
    /// col are <paramref name="ld"/> apart, so the images of a chunk sit side by side.</summary>
    // SAFETY: x points to one C×H×W image, col to crs rows of ohw writable elements, ld apart; indices are range-checked per row.
    private static unsafe void Im2Col<T>(T* x, Conv2dGeometry g, T* col, int ld) where T : unmanaged
    {
        int oh = g.OH, ow = g.OW;
        bool flat = IsFlatRows(g);
        for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
            Im2ColTap(x, g, c, r, s, col + (long)((c * g.R + r) * g.S + s) * ld, flat, oh, ow);
    }

    /// <summary>One row of <see cref="Im2Col"/>: dst[i·OW + j] = x[c, i·sh − ph + r, j·sw − pw + s] (0 outside the image).</summary>
    // SAFETY: x points to one C×H×W image, dst to OH·OW writable elements; indices are range-checked per row.
    private static unsafe void Im2ColTap<T>(T* x, Conv2dGeometry g, int c, int r, int s, T* dst, bool flat, int oh, int ow) where T : unmanaged
    {
        ValidColumns(g.W, ow, g.StrideW, g.PadW, s, out int j0, out int j1);
        if (flat)
        {
            Im2ColPlaneFlat(x + (long)c * g.H * g.W, g, r, s, j0, j1, dst);
            return;
        }
        for (int i = 0; i < oh; i++)
        {
            T* d = dst + i * ow;
            int h = i * g.StrideH - g.PadH + r;
            if (h < 0 || h >= g.H || j0 >= j1)
            {
                new Span<T>(d, ow).Clear();
                continue;
            }
            T* src = x + ((long)c * g.H + h) * g.W - g.PadW + s;
            if (j0 > 0) new Span<T>(d, j0).Clear();
            if (g.StrideW == 1) new ReadOnlySpan<T>(src + j0, j1 - j0).CopyTo(new Span<T>(d + j0, j1 - j0));
            else for (int j = j0; j < j1; j++) d[j] = src[(long)j * g.StrideW];
            if (j1 < ow) new Span<T>(d + j1, ow - j1).Clear();
        }
    }

    /// <summary>The column-matrix rows of one chunk for <see cref="SimdConvPack"/>: tap p's row over every image of the chunk.</summary>
    private unsafe struct ChunkTapRows<T> : ITapRowLowering<T> where T : unmanaged
    {
        public Conv2dGeometry G;
        public T* X;
        public int Count, Chw, OH, OW;
        public bool Flat;

        // SAFETY: X points to Count consecutive C×H×W images; dst holds Count·OH·OW writable elements.
        public readonly void Lower(int tap, T* dst)
        {
            var g = G;
            int rs = g.R * g.S, c = tap / rs, r = tap % rs / g.S, s = tap % g.S, ohw = OH * OW;
            for (int i = 0; i < Count; i++) Im2ColTap(X + (long)i * Chw, g, c, r, s, dst + (long)i * ohw, Flat, OH, OW);
        }
    }

    /// <summary>
    /// Stride 1 and an output as wide as the input: each filter tap's plane of the column matrix is the channel read
    /// as one flat run shifted by (r − ph)·W + (s − pw), with the columns that fall outside the image zeroed. Rows of a
    /// 14-wide image are too short for one copy per row to pay.
    /// </summary>
    private static bool IsFlatRows(Conv2dGeometry g) => g.StrideH == 1 && g.StrideW == 1 && g.OW == g.W;

    /// <summary>Valid output rows i in [i0, i1) whose input row i − ph + r lies inside [0, h) (stride 1).</summary>
    private static void ValidRows(Conv2dGeometry g, int r, out int i0, out int i1)
    {
        i0 = Math.Max(0, g.PadH - r);
        i1 = Math.Min(g.OH, g.H + g.PadH - r);
        if (i1 < i0) i1 = i0;
    }

    // SAFETY: xc points to one H×W channel, dst to OH·OW writable elements; the flat run starts at the first valid
    // (i0, j0) and ends after the last valid (i1 − 1, j1 − 1), so it reads only inside the channel (OW = W).
    private static unsafe void Im2ColPlaneFlat<T>(T* xc, Conv2dGeometry g, int r, int s, int j0, int j1, T* dst) where T : unmanaged
    {
        int ow = g.OW;
        ValidRows(g, r, out int i0, out int i1);
        if (i0 >= i1 || j0 >= j1)
        {
            new Span<T>(dst, g.OH * ow).Clear();
            return;
        }
        if (i0 > 0) new Span<T>(dst, i0 * ow).Clear();
        int start = i0 * ow + j0, end = (i1 - 1) * ow + j1;
        T* src = xc + (long)(i0 - g.PadH + r) * g.W + (j0 - g.PadW + s);
        new ReadOnlySpan<T>(src, end - start).CopyTo(new Span<T>(dst + start, end - start));
        if (j0 > 0 || j1 < ow)
        {
            for (int i = i0; i < i1; i++)
            {
                T* d = dst + i * ow;
                for (int j = 0; j < j0; j++) d[j] = default;
                for (int j = j1; j < ow; j++) d[j] = default;
            }
        }
        if (i1 < g.OH) new Span<T>(dst + i1 * ow, (g.OH - i1) * ow).Clear();
    }

    /// <summary>Output columns j in [j0, j1) whose input column j·stride − pad + s lies inside [0, w).</summary>
    private static void ValidColumns(int w, int ow, int stride, int pad, int s, out int j0, out int j1)
    {
        int off = s - pad;
        j0 = off >= 0 ? 0 : (-off + stride - 1) / stride;
        j1 = w - 1 - off < 0 ? 0 : Math.Min(ow, (w - 1 - off) / stride + 1);
        if (j1 < j0) j1 = j0;
    }

    /// <summary>x[c, h, w] += col[(c·R + r)·S + s, i·OW + j] for every in-image position (the adjoint of <see cref="Im2Col"/>).</summary>
    // SAFETY: as Im2Col, with x written.
    private static unsafe void Col2Im<T>(T* col, Conv2dGeometry g, T* x, int ld) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW;
        new Span<T>(x, g.C * g.H * g.W).Clear();
        bool flat = IsFlatRows(g);
        for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
        {
            T* src = col + (long)((c * g.R + r) * g.S + s) * ld;
            ValidColumns(g.W, ow, g.StrideW, g.PadW, s, out int j0, out int j1);
            if (j0 >= j1) continue;
            if (flat)
            {
                Col2ImPlaneFlat(src, g, r, s, j0, j1, x + (long)c * g.H * g.W);
                continue;
            }
            for (int i = 0; i < oh; i++)
            {
                int h = i * g.StrideH - g.PadH + r;
                if (h < 0 || h >= g.H) continue;
                T* dst = x + ((long)c * g.H + h) * g.W - g.PadW + s;
                T* srow = src + i * ow;
                if (g.StrideW == 1)
                {
                    var d = new Span<T>(dst + j0, j1 - j0);
                    TensorPrimitives.Add(d, new ReadOnlySpan<T>(srow + j0, j1 - j0), d);
                }
                else for (int j = j0; j < j1; j++) dst[(long)j * g.StrideW] += srow[j];
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2ColPlaneFlat"/>: zeroes the out-of-image columns of the plane, then adds
    /// it to the channel as one flat run (adding those zeros leaves the neighbouring row's ends as they were).</summary>
    // SAFETY: src is one OH·OW plane of the scratch column matrix (written here), xc one H×W channel; the run is the
    // same in-channel range that Im2ColPlaneFlat reads.
    private static unsafe void Col2ImPlaneFlat<T>(T* src, Conv2dGeometry g, int r, int s, int j0, int j1, T* xc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ow = g.OW;
        ValidRows(g, r, out int i0, out int i1);
        if (i0 >= i1) return;
        if (j0 > 0 || j1 < ow)
        {
            for (int i = i0; i < i1; i++)
            {
                T* d = src + i * ow;
                for (int j = 0; j < j0; j++) d[j] = T.Zero;
                for (int j = j1; j < ow; j++) d[j] = T.Zero;
            }
        }
        int start = i0 * ow + j0, end = (i1 - 1) * ow + j1;
        var dst = new Span<T>(xc + (long)(i0 - g.PadH + r) * g.W + (j0 - g.PadW + s), end - start);
        TensorPrimitives.Add(dst, new ReadOnlySpan<T>(src + start, end - start), dst);
    }

    /// <inheritdoc/>
    public override void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g) =>
        ByFloatType(dy.DType, "Conv2dBackwardData",
            IsDepthwise(g) ? () => DepthwiseBackwardData<float>(dy, w, dx, g) : !g.IsDenseUndilated ? () => GeneralConvBackwardData<float>(dy, w, dx, g) : () => ConvBackwardDataCore<float>(dy, w, dx, g),
            IsDepthwise(g) ? () => DepthwiseBackwardData<double>(dy, w, dx, g) : !g.IsDenseUndilated ? () => GeneralConvBackwardData<double>(dy, w, dx, g) : () => ConvBackwardDataCore<double>(dy, w, dx, g));

    private static unsafe void ConvBackwardDataCore<T>(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int crs = g.C * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw;
        if (g.N == 0 || chw == 0) return;
        if (WinogradApplies<T>(g))
        {
            WinogradBackwardData(dy, w, dx, g);
            return;
        }
        T[] gs = dy.HostData<T>(), ws = w.HostData<T>(), xs = dx.HostData<T>();
        int nb = ChunkImages(g), chunks = (g.N + nb - 1) / nb;
        var (workers, gemmThreads) = ChunkThreads(chunks, g.ForwardFlops);
        bool pointwise = IsPointwise(g);
        // SAFETY: arrays pinned for the whole call; every chunk's images lie inside dy and dx, and chunks write
        // disjoint images of dx; the scratch is a pinned per-thread array of at least (crs + K)·cols elements.
        fixed (T* pg0 = gs) fixed (T* pw0 = ws) fixed (T* px0 = xs)
        {
            var body = new BackwardDataChunk<T> { G = g, Images = nb, Dy = pg0 + dy.Offset, W = pw0 + w.Offset, Dx = px0 + dx.Offset, Pointwise = pointwise, GemmThreads = gemmThreads };
            ForEachChunk(chunks, workers, ref body);
        }
    }

    private unsafe struct BackwardDataChunk<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Conv2dGeometry G;
        public int Images, GemmThreads;
        public T* Dy, W, Dx;
        public bool Pointwise;

        // SAFETY: chunk ci covers images [ci·Images, ci·Images + count) of the pinned contiguous dy and dx, and chunks
        // write disjoint images of dx; the scratch is a pinned per-thread array of at least (crs + K)·cols elements.
        public readonly void Run(int ci)
        {
            var g = G;
            int crs = g.C * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw, nb = Images;
            int n0 = ci * nb, count = Math.Min(nb, g.N - n0), cols = count * ohw;
            T* gn = Dy + (long)n0 * kohw, xn = Dx + (long)n0 * chw;
            if (Pointwise && count == 1)
            {
                GemmPtr(true, false, g.C, ohw, g.K, W, crs, gn, ohw, T.Zero, xn, ohw, GemmThreads);
                return;
            }
            T* col = (T*)Pin(ThreadScratch<T>.First(crs * cols + (count > 1 ? g.K * cols : 0)));
            T* a = gn;
            if (count > 1)
            {
                a = col + (long)crs * cols;
                GatherChunk(gn, count, g.K, ohw, a);
            }
            // col[CRS, images·OHW] = Wᵀ · dy_chunk[K, images·OHW]
            GemmPtr(true, false, crs, cols, g.K, W, crs, a, cols, T.Zero, col, cols, GemmThreads);
            for (int i = 0; i < count; i++) Col2Im(col + i * ohw, g, xn + (long)i * chw, cols);
        }
    }

    /// <inheritdoc/>
    public override void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g) =>
        ByFloatType(x.DType, "Conv2dBackwardFilter",
            IsDepthwise(g) ? () => DepthwiseBackwardFilter<float>(x, dy, dw, db, g) : !g.IsDenseUndilated ? () => GeneralConvBackwardFilter<float>(x, dy, dw, db, g) : () => ConvBackwardFilterCore<float>(x, dy, dw, db, g),
            IsDepthwise(g) ? () => DepthwiseBackwardFilter<double>(x, dy, dw, db, g) : !g.IsDenseUndilated ? () => GeneralConvBackwardFilter<double>(x, dy, dw, db, g) : () => ConvBackwardFilterCore<double>(x, dy, dw, db, g));

    private static unsafe void ConvBackwardFilterCore<T>(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int crs = g.C * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw, kcrs = g.K * crs;
        T[] xs = x.HostData<T>(), gs = dy.HostData<T>(), ws = dw.HostData<T>();
        if (FirstLayerFilterGradientApplies<T>(g))
        {
            FirstLayerFilterGradient(x, dy, dw, db, g);
            return;
        }
        var dwSpan = new Span<T>(ws, dw.Offset, kcrs);
        if (db is not null) BiasGradient(gs, dy.Offset, db, g.N, g.K, ohw);
        if (g.N == 0 || ohw == 0 || kcrs == 0)
        {
            dwSpan.Clear();
            return;
        }
        if (WinogradApplies<T>(g))
        {
            WinogradBackwardFilter(x, dy, dw, g);
            return;
        }
        int nb = ChunkImages(g), chunks = (g.N + nb - 1) / nb;
        var (workers, gemmThreads) = ChunkThreads(chunks, g.ForwardFlops);
        // Chunk 0 writes dw; every later chunk writes its own partial, added to dw in chunk order once the chunks of a
        // wave are done, so dw does not depend on which thread ran which chunk. One wave holds every chunk unless the
        // partials would pass PartialElements: each wave ends in a join, where a preempted worker holds everyone up.
        int wave = Math.Min(chunks, Math.Max(workers, PartialElements / kcrs));
        T[]? partials = chunks == 1 ? null : ThreadScratch<T>.Second(wave * kcrs);
        bool pointwise = IsPointwise(g);
        // with fewer filter taps than filters (a first layer: C·R·S = 9, K = 32) the product is formed as dWᵀ, so
        // that the wider of the two is the GEMM's n and fewer of the micro-kernel's 32 columns are padding; unless the
        // taps fit the narrow GEMM's one vector, which measured 4× faster on 32×9×784 than the tile kernel on 9×32×784
        bool transposed = crs < g.K && !SimdGemmNarrow.Handles<T>(g.K, crs, nb * ohw);
        // SAFETY: arrays pinned for the whole call; every chunk's images lie inside x and dy; each chunk of a wave
        // writes only dw (chunk 0) or its own partial; the scratch is a pinned per-thread array of at least
        // (crs + K)·cols + K·crs elements, and the partials (the calling thread's second scratch) are not used by the workers.
        fixed (T* px0 = xs) fixed (T* pg0 = gs) fixed (T* pw0 = ws) fixed (T* pp0 = partials)
        {
            var body = new BackwardFilterChunk<T> { G = g, Images = nb, X = px0 + x.Offset, Dy = pg0 + dy.Offset, Dw = pw0 + dw.Offset, Partials = pp0, Pointwise = pointwise, Transposed = transposed, GemmThreads = gemmThreads };
            for (int first = 0; first < chunks; first += wave)
            {
                int inWave = Math.Min(wave, chunks - first);
                body.WaveStart = first;
                ForEachChunk(inWave, workers, ref body);
                for (int j = 0; j < inWave; j++)
                    if (first + j > 0) TensorPrimitives.Add(dwSpan, new ReadOnlySpan<T>(partials, j * kcrs, kcrs), dwSpan);
            }
        }
    }

    private unsafe struct BackwardFilterChunk<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Conv2dGeometry G;
        public int Images, GemmThreads, WaveStart;
        public T* X, Dy, Dw, Partials;
        public bool Pointwise, Transposed;

        // SAFETY: chunk WaveStart + j covers images of the pinned contiguous x and dy; it writes only dw (chunk 0) or
        // its own partial j; the scratch is a pinned per-thread array of at least (crs + K)·cols + K·crs elements.
        public readonly void Run(int j)
        {
            var g = G;
            int crs = g.C * g.R * g.S, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, kohw = g.K * ohw, kcrs = g.K * crs, nb = Images;
            int ci = WaveStart + j, n0 = ci * nb, count = Math.Min(nb, g.N - n0), cols = count * ohw;
            T* xn = X + (long)n0 * chw, gn = Dy + (long)n0 * kohw;
            T* target = ci == 0 ? Dw : Partials + (long)j * kcrs;
            T* a = gn, b = xn;
            bool lower = !(Pointwise && count == 1);
            int scratch = (lower ? crs * cols : 0) + (count > 1 ? g.K * cols : 0) + (Transposed ? kcrs : 0);
            T* free = scratch == 0 ? null : (T*)Pin(ThreadScratch<T>.First(scratch));
            if (lower)
            {
                b = free;
                for (int i = 0; i < count; i++) Im2Col(xn + (long)i * chw, g, b + i * ohw, cols);
                free += (long)crs * cols;
            }
            if (count > 1)
            {
                a = free;
                GatherChunk(gn, count, g.K, ohw, a);
                free += (long)g.K * cols;
            }
            if (Transposed)
            {
                // dW_chunkᵀ[CRS, K] = col_chunk[CRS, images·OHW] · dy_chunkᵀ
                GemmPtr(false, true, crs, g.K, cols, b, cols, a, cols, T.Zero, free, g.K, GemmThreads);
                for (int kf = 0; kf < g.K; kf++)
                for (int rc = 0; rc < crs; rc++)
                    target[(long)kf * crs + rc] = free[(long)rc * g.K + kf];
            }
            else
            {
                // dW_chunk[K, CRS] = dy_chunk[K, images·OHW] · col_chunkᵀ
                GemmPtr(false, true, g.K, crs, cols, a, cols, b, cols, T.Zero, target, crs, GemmThreads);
            }
        }
    }

    /// <summary>db[k] = Σ over images and positions of dy[n, k, ·]: per-row vector sums added in double, in image order;
    /// filters are split over threads (each filter's sum is the same whichever thread forms it).</summary>
    private static void BiasGradient<T>(T[] gs, int offset, Tensor db, int n, int k, int ohw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new BiasGradientBody<T> { Gradient = gs, Offset = offset, Bias = db.HostData<T>(), BiasOffset = db.Offset, Images = n, Filters = k, Plane = ohw };
        SimdParallel.ForRanges(k, SimdParallel.PartsFor((long)n * k * ohw), ref body);
    }

    private struct BiasGradientBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] Gradient, Bias;
        public int Offset, BiasOffset, Images, Filters, Plane;

        public readonly void Run(long start, long end)
        {
            for (int kf = (int)start; kf < end; kf++)
            {
                double acc = 0;
                for (int img = 0; img < Images; img++)
                    acc += double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(Gradient, Offset + (img * Filters + kf) * Plane, Plane)));
                Bias[BiasOffset + kf] = T.CreateTruncating(acc);
            }
        }
    }
}
