using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    // ---- Winograd F(2×2, 3×3): 3×3 stride-1 float convolutions with many channels ----
    //
    // Each 2×2 output tile is A^T [ (G g G^T) ⊙ (B^T d B) ] A summed over input channels, with d the 4×4 input patch. The
    // sum over channels of the 16 element-wise products is 16 GEMMs [out, in]·[in, tiles], so the multiplications
    // drop from 36 to 16 per tile and channel pair (2.25×), for the price of the two tile transforms. The transforms'
    // coefficients are 0, ±½ and ±1 (exact in float), so the rounding stays of the order of the direct sum's: the
    // agreement tests against the Naive backend pass at the tolerances of the im2col path.
    // The backward-data pass is the same convolution of dy with the filters transposed and turned by 180° and the
    // padding 2 − p, so one kernel serves both.

    /// <summary>Fewest input and output channels for the Winograd path: each transformed input tile serves every output
    /// channel and each output transform sums every input channel, so with few channels (a first layer: C = 1) the
    /// transforms outweigh the saved multiplications. Measured faster at 32→64 and 64→32; 16 is not tuned.</summary>
    private const int WinogradMinChannels = 16;

    /// <summary>Aim for tiles per chunk: the best of 49–392 measured on 32→64 channels, 14×14 (conv-passes probe); fewer
    /// make the 16 GEMMs too narrow, more push the transformed tiles (16·(in + out)·tiles floats) out of L2.</summary>
    private const int WinogradChunkTiles = 200;

    /// <summary>Lanes of one vector of the tile transforms.</summary>
    private const int WinogradLanes = 8;

    /// <summary>Whether a dense convolution takes the Winograd path (float, 3×3, stride 1, padding at most 2, enough channels).</summary>
    private static bool WinogradApplies<T>(Conv2dGeometry g) =>
        typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated && g.IsDenseUndilated && g.Groups == 1 && g.R == 3 && g.S == 3 && g.StrideH == 1 && g.StrideW == 1
        && g.PadH <= 2 && g.PadW <= 2 && g.C >= WinogradMinChannels && g.K >= WinogradMinChannels && g.OH > 0 && g.OW > 0 && g.N > 0;

    /// <summary>The forward pass by Winograd F(2,3).</summary>
    private static unsafe void WinogradForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g)
    {
        float[] xs = x.HostData<float>(), ws = w.HostData<float>(), ys = y.HostData<float>();
        float[]? bs = bias?.HostData<float>();
        // SAFETY: the arrays are pinned for the call; the shapes were checked by the caller (contiguous NCHW / KCRS).
        fixed (float* px = xs) fixed (float* pw = ws) fixed (float* py = ys) fixed (float* pb = bs)
        {
            float* u = (float*)Pin(ThreadScratch<float>.Second(16 * g.K * g.C));
            TransformFilters(pw + w.Offset, g.K, g.C, false, u);
            var shape = new WinogradShape(g.N, g.C, g.H, g.W, g.K, g.OH, g.OW, g.PadH, g.PadW);
            WinogradRun(shape, px + x.Offset, u, pb is null ? null : pb + bias!.Offset, py + y.Offset, g.ForwardFlops);
        }
    }

    /// <summary>The data gradient by Winograd F(2,3): dx = dy ⋆ rot180(W)ᵀ with padding 2 − p.</summary>
    private static unsafe void WinogradBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g)
    {
        float[] gs = dy.HostData<float>(), ws = w.HostData<float>(), xs = dx.HostData<float>();
        // SAFETY: as WinogradForward.
        fixed (float* pg = gs) fixed (float* pw = ws) fixed (float* px = xs)
        {
            float* u = (float*)Pin(ThreadScratch<float>.Second(16 * g.K * g.C));
            TransformFilters(pw + w.Offset, g.K, g.C, true, u);
            var shape = new WinogradShape(g.N, g.K, g.OH, g.OW, g.C, g.H, g.W, 2 - g.PadH, 2 - g.PadW);
            WinogradRun(shape, pg + dy.Offset, u, null, px + dx.Offset, g.ForwardFlops);
        }
    }

    /// <summary>One stride-1 3×3 convolution of N images: In channels of InH×InW into Out channels of OutH×OutW.</summary>
    private readonly record struct WinogradShape(int N, int In, int InH, int InW, int Out, int OutH, int OutW, int PadH, int PadW)
    {
        public int TilesH => (OutH + 1) / 2;
        public int TilesW => (OutW + 1) / 2;
        public int TilesPerImage => TilesH * TilesW;
    }

    /// <summary>
    /// u[p, o, i] = (G g G^T)[p] for the filter g that maps input channel i to output channel o, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    /// Forward: g = w[o, i]. Backward data (<paramref name="transposed"/>): input channels are the K filters, and
    /// g[r, s] = w[i, o, 2 − r, 2 − s].
    /// </summary>
    // SAFETY: w points to K·C·9 elements, u to 16·K·C writable ones.
    private static unsafe void TransformFilters(float* w, int k, int c, bool transposed, float* u)
    {
        int outs = transposed ? c : k, ins = transposed ? k : c, plane = outs * ins;
        double* t = stackalloc double[12];
        for (int o = 0; o < outs; o++)
        for (int i = 0; i < ins; i++)
        {
            float* f = transposed ? w + ((long)i * c + o) * 9 : w + ((long)o * c + i) * 9;
            double F(int r, int s) => transposed ? f[(2 - r) * 3 + 2 - s] : f[r * 3 + s];
            // t = G g (4×3), then u = t G^T (4×4)
            for (int s = 0; s < 3; s++)
            {
                double g0 = F(0, s), g1 = F(1, s), g2 = F(2, s);
                t[s] = g0;
                t[3 + s] = 0.5 * (g0 + g1 + g2);
                t[6 + s] = 0.5 * (g0 - g1 + g2);
                t[9 + s] = g2;
            }
            for (int a = 0; a < 4; a++)
            {
                double t0 = t[a * 3], t1 = t[a * 3 + 1], t2 = t[a * 3 + 2];
                long at = (long)o * ins + i;
                u[(a * 4 + 0) * (long)plane + at] = (float)t0;
                u[(a * 4 + 1) * (long)plane + at] = (float)(0.5 * (t0 + t1 + t2));
                u[(a * 4 + 2) * (long)plane + at] = (float)(0.5 * (t0 - t1 + t2));
                u[(a * 4 + 3) * (long)plane + at] = (float)t2;
            }
        }
    }

    // SAFETY: input/output point to N contiguous images of the shape; u to the 16 transformed filter planes; bias to Out elements or null.
    private static unsafe void WinogradRun(WinogradShape s, float* input, float* u, float* bias, float* output, double flops)
    {
        var (tiles, chunks, total) = WinogradChunks(s);
        var (workers, gemmThreads) = ChunkThreads(chunks, flops);
        var body = new WinogradChunk { S = s, Tiles = tiles, Total = total, Input = input, U = u, Bias = bias, Output = output, GemmThreads = gemmThreads };
        ForEachChunk(chunks, workers, ref body);
    }

    /// <summary>
    /// Tiles per chunk, as even as <see cref="WinogradChunkTiles"/> allows and rounded up to the GEMM's 32-column
    /// micro-panels (a chunk of whole panels wastes none of them). It depends on the shape only, never on the thread
    /// count, so the filter gradient, summed chunk by chunk, is the same for every thread count.
    /// </summary>
    private static (int Tiles, int Chunks, long Total) WinogradChunks(WinogradShape s)
    {
        long total = (long)s.N * s.TilesPerImage;
        long chunks = (total + WinogradChunkTiles - 1) / WinogradChunkTiles;
        int tiles = (int)Math.Min(total, ((total + chunks - 1) / chunks + 31) / 32 * 32);
        return (tiles, (int)((total + tiles - 1) / tiles), total);
    }

    /// <summary>
    /// The filter gradient by Winograd F(2,3): per chunk, dU[p] = dM[p] · V[p]ᵀ with dM = A dY A^T of every 2×2 gradient
    /// tile and V = B^T d B of its input patch (the adjoint of the forward's product); the chunks' dU are summed in chunk
    /// order and dW = G^T dU G.
    /// </summary>
    private static unsafe void WinogradBackwardFilter(Tensor x, Tensor dy, Tensor dw, Conv2dGeometry g)
    {
        float[] xs = x.HostData<float>(), gs = dy.HostData<float>(), ws = dw.HostData<float>();
        var s = new WinogradShape(g.N, g.C, g.H, g.W, g.K, g.OH, g.OW, g.PadH, g.PadW);
        var (tiles, chunks, total) = WinogradChunks(s);
        var (workers, gemmThreads) = ChunkThreads(chunks, g.ForwardFlops);
        int ukc = 16 * g.K * g.C;
        int wave = Math.Min(chunks, Math.Max(workers, PartialElements / ukc));
        // the sum (first ukc elements) and one partial per chunk of a wave; the workers use only their first scratch
        float[] partials = ThreadScratch<float>.Second((wave + 1) * ukc);
        // SAFETY: arrays pinned for the call; each chunk of a wave writes only its own partial.
        fixed (float* px = xs) fixed (float* pg = gs) fixed (float* pw = ws) fixed (float* pp = partials)
        {
            var body = new WinogradFilterChunk { S = s, Tiles = tiles, Total = total, X = px + x.Offset, Dy = pg + dy.Offset, Partials = pp + ukc, GemmThreads = gemmThreads };
            var sum = new Span<float>(pp, ukc);
            for (int start = 0; start < chunks; start += wave)
            {
                int inWave = Math.Min(wave, chunks - start);
                body.WaveStart = start;
                ForEachChunk(inWave, workers, ref body);
                for (int j = 0; j < inWave; j++)
                {
                    var part = new ReadOnlySpan<float>(pp + (long)(j + 1) * ukc, ukc);
                    if (start + j == 0) part.CopyTo(sum);
                    else TensorPrimitives.Add(sum, part, sum);
                }
            }
            FilterGradientFromTransform(pp, g.K, g.C, pw + dw.Offset);
        }
    }

    /// <summary>dw[k, c] = G^T dU[k, c] G, G^T = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1].</summary>
    // SAFETY: du points to 16 planes of K·C elements, dw to K·C·9 writable ones.
    private static unsafe void FilterGradientFromTransform(float* du, int k, int c, float* dw)
    {
        long plane = (long)k * c;
        double* t = stackalloc double[12];
        for (long at = 0; at < plane; at++)
        {
            // t = G^T dU (3×4), then dw = t G (3×3)
            for (int b = 0; b < 4; b++)
            {
                double u0 = du[(0 + b) * plane + at], u1 = du[(4 + b) * plane + at], u2 = du[(8 + b) * plane + at], u3 = du[(12 + b) * plane + at];
                t[b] = u0 + 0.5 * (u1 + u2);
                t[4 + b] = 0.5 * (u1 - u2);
                t[8 + b] = 0.5 * (u1 + u2) + u3;
            }
            float* f = dw + at * 9;
            for (int r = 0; r < 3; r++)
            {
                double t0 = t[r * 4], t1 = t[r * 4 + 1], t2 = t[r * 4 + 2], t3 = t[r * 4 + 3];
                f[r * 3] = (float)(t0 + 0.5 * (t1 + t2));
                f[r * 3 + 1] = (float)(0.5 * (t1 - t2));
                f[r * 3 + 2] = (float)(0.5 * (t1 + t2) + t3);
            }
        }
    }

    private unsafe struct WinogradFilterChunk : IParallelBody
    {
        public WinogradShape S;
        public int Tiles, GemmThreads, WaveStart;
        public long Total;
        public float* X, Dy, Partials;

        // SAFETY: chunk WaveStart + j covers the tiles [ci·Tiles, ci·Tiles + tiles) of x and dy and writes only partial j;
        // the scratch (this thread's first buffer) holds V, dM and the deinterleaved rows.
        public readonly void Run(int j)
        {
            var s = S;
            var c = new WinogradChunkSpace(s, WaveStart + j, Tiles, Total);
            long inImage = (long)s.In * s.InH * s.InW, outImage = (long)s.Out * s.OutH * s.OutW;
            for (int i = c.FirstImage; i <= c.LastImage; i++)
            {
                var (at, from, to) = c.ImageTiles(s, i);
                TransformInput(s, X + i * inImage, c.V, c.Ld, at, from, to, c.Rows, c.RowLen);
                TransformGradient(s, Dy + i * outImage, c.M, c.Ld, at, from, to, c.Rows, c.RowLen);
            }
            float* target = Partials + (long)j * 16 * s.Out * s.In;
            for (int p = 0; p < 16; p++)
                SimdGemm.Gemm(false, true, s.Out, s.In, c.Tiles, c.M + p * (long)s.Out * c.Ld, c.Ld, c.V + p * (long)s.In * c.Ld, c.Ld,
                    0f, target + (long)p * s.Out * s.In, s.In, GemmThreads);
        }
    }

    /// <summary>
    /// dm[p, k, at + ty·TW + tx] = (A dY A^T)[p] for the 2×2 gradient tile dY at (ty, tx) of every filter k of one image,
    /// A = [1 0; 1 1; 1 −1; 0 −1]; positions past an odd-sized output are zero.
    /// </summary>
    // SAFETY: dy points to one Out×OutH×OutW image, dm to 16 planes of Out rows of ld elements, rows to the scratch of
    // TransformInput (the lines are not shared with it: it has finished). Vector tails as in TransformInput.
    private static unsafe void TransformGradient(WinogradShape s, float* dy, float* dm, int ld, int at, int from, int to, float* rows, int rowLen)
    {
        int tw = s.TilesW, oh = s.OutH, ow = s.OutW;
        long pstride = (long)s.Out * ld;
        float* line = rows, e0 = line + 2 * rowLen, o0 = e0 + rowLen, e1 = o0 + rowLen, o1 = e1 + rowLen;
        new Span<float>(rows, 6 * rowLen).Clear();
        int ty0 = from / tw, ty1 = (to - 1) / tw;
        for (int k = 0; k < s.Out; k++)
        {
            float* yk = dy + (long)k * oh * ow;
            for (int ty = ty0; ty <= ty1; ty++)
            {
                new ReadOnlySpan<float>(yk + (long)2 * ty * ow, ow).CopyTo(new Span<float>(line, ow));
                Deinterleave(line, tw, e0, o0);
                if (2 * ty + 1 < oh)
                {
                    new ReadOnlySpan<float>(yk + (long)(2 * ty + 1) * ow, ow).CopyTo(new Span<float>(line, ow));
                    Deinterleave(line, tw, e1, o1);
                }
                else
                {
                    new Span<float>(e1, rowLen).Clear();
                    new Span<float>(o1, rowLen).Clear();
                }
                float* dst = dm + (long)k * ld + at + ty * tw;
                for (int jx = Math.Max(0, from - ty * tw), jEnd = Math.Min(tw, to - ty * tw); jx < jEnd; jx += WinogradLanes)
                {
                    Vector256<float> a = Vector256.Load(e0 + jx), b = Vector256.Load(o0 + jx), c = Vector256.Load(e1 + jx), d = Vector256.Load(o1 + jx);
                    // rows of A dY: (a, b), (a + c, b + d), (a − c, b − d), (−c, −d); each row (x, z) → (x, x + z, x − z, −z)
                    float* q = dst + jx;
                    StoreRow(q, pstride, a, b);
                    StoreRow(q + 4 * pstride, pstride, a + c, b + d);
                    StoreRow(q + 8 * pstride, pstride, a - c, b - d);
                    StoreRow(q + 12 * pstride, pstride, -c, -d);
                }
            }
        }
    }

    // SAFETY: q points to point (a, 0) of a vector of tiles; the four points are pstride apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow(float* q, long pstride, Vector256<float> x, Vector256<float> z)
    {
        x.Store(q);
        (x + z).Store(q + pstride);
        (x - z).Store(q + 2 * pstride);
        (-z).Store(q + 3 * pstride);
    }

    private unsafe struct WinogradChunk : IParallelBody
    {
        public WinogradShape S;
        public int Tiles, GemmThreads;
        public long Total;
        public float* Input, U, Bias, Output;

        // SAFETY: chunk ci covers the tiles [ci·Tiles, ci·Tiles + tiles) of all images (image-major, then tile rows), so
        // chunks write disjoint output pixels; the scratch (this thread's first buffer) holds V, M and the deinterleaved rows.
        public readonly void Run(int ci)
        {
            var s = S;
            var c = new WinogradChunkSpace(s, ci, Tiles, Total);
            long inImage = (long)s.In * s.InH * s.InW, outImage = (long)s.Out * s.OutH * s.OutW;
            for (int i = c.FirstImage; i <= c.LastImage; i++)
            {
                var (at, from, to) = c.ImageTiles(s, i);
                TransformInput(s, Input + i * inImage, c.V, c.Ld, at, from, to, c.Rows, c.RowLen);
            }
            for (int p = 0; p < 16; p++)
                SimdGemm.Gemm(false, false, s.Out, c.Tiles, s.In, U + (long)p * s.Out * s.In, s.In, c.V + p * (long)s.In * c.Ld, c.Ld,
                    0f, c.M + p * (long)s.Out * c.Ld, c.Ld, GemmThreads);
            for (int i = c.FirstImage; i <= c.LastImage; i++)
            {
                var (at, from, to) = c.ImageTiles(s, i);
                TransformOutput(s, c.M, c.Ld, at, from, to, Bias, Output + i * outImage, c.Rows);
            }
        }
    }

    /// <summary>
    /// One chunk's tiles and its scratch, this thread's first buffer: V (16 planes of In rows), M (16 planes of Out rows),
    /// both of row stride Ld, then the rows the transforms deinterleave.
    /// </summary>
    private readonly unsafe struct WinogradChunkSpace
    {
        public readonly long First;
        public readonly int Tiles, Ld, RowLen, FirstImage, LastImage;
        public readonly float* V, M, Rows;

        // SAFETY: the buffer is the calling thread's (pinned, reused only by its next chunk) and sized for V, M and the rows.
        public WinogradChunkSpace(WinogradShape s, int chunk, int chunkTiles, long total)
        {
            First = (long)chunk * chunkTiles;
            Tiles = (int)Math.Min(chunkTiles, total - First);
            Ld = Tiles + WinogradLanes;
            RowLen = (s.TilesW + WinogradLanes) / WinogradLanes * WinogradLanes + WinogradLanes;
            long vLen = 16L * s.In * Ld, mLen = 16L * s.Out * Ld;
            V = (float*)Pin(ThreadScratch<float>.First((int)(vLen + mLen + WinogradPlaneLength(s, RowLen))));
            M = V + vLen;
            Rows = M + mLen;
            FirstImage = (int)(First / s.TilesPerImage);
            LastImage = (int)((First + Tiles - 1) / s.TilesPerImage);
        }

        /// <summary>Image i's first tile relative to the chunk's first, and the range of its tiles the chunk holds.</summary>
        public (int At, int From, int To) ImageTiles(WinogradShape s, int i)
        {
            long at = (long)i * s.TilesPerImage - First;
            return ((int)at, (int)Math.Max(0, -at), (int)Math.Min(s.TilesPerImage, Tiles - at));
        }
    }

    /// <summary>
    /// v[p, c, first + ty·TW + tx] = (B^T d B)[p] for every channel c and tile (ty, tx) of one image, B^T = [1 0 −1 0; 0 1 1 0;
    /// 0 −1 1 0; 0 1 0 −1]. Each padded input row is split once into its even and odd columns, so that the patches of a
    /// tile row are plain vector loads at tile offsets j and j + 1.
    /// </summary>
    // SAFETY: x points to one In×InH×InW image, v to 16 planes of In rows of ld ≥ first + TilesPerImage + 8 elements,
    // planes to WinogradPlaneLength scratch elements. The vector tail past TW writes lanes of the next tile row (written
    // after it) or of the row's slack (ld − tiles ≥ 8), never another channel's row.
    private static unsafe void TransformInput(WinogradShape s, float* x, float* v, int ld, int at, int from, int to, float* planes, int rowLen)
    {
        int tw = s.TilesW, plane = s.InH * s.InW, paddedRows = 2 * s.TilesH + 2;
        int ty0 = from / tw, ty1 = (to - 1) / tw;
        long pstride = (long)s.In * ld;
        // line: one padded input row; its margins stay zero, only [PadW, PadW + InW) is ever written
        float* line = planes, even = line + 2 * rowLen, odd = even + (long)paddedRows * rowLen;
        new Span<float>(planes, WinogradPlaneLength(s, rowLen)).Clear();
        for (int c = 0; c < s.In; c++)
        {
            float* xc = x + (long)c * plane;
            for (int rr = 2 * ty0; rr < 2 * ty1 + 4; rr++)
            {
                int h = rr - s.PadH;
                if (h < 0 || h >= s.InH) continue; // stays zero from the clear (padding rows are the same for every channel)
                new ReadOnlySpan<float>(xc + (long)h * s.InW, s.InW).CopyTo(new Span<float>(line + s.PadW, s.InW));
                Deinterleave(line, tw + 1, even + (long)rr * rowLen, odd + (long)rr * rowLen);
            }
            for (int ty = ty0; ty <= ty1; ty++)
            {
                float* dst = v + (long)c * ld + at + ty * tw;
                for (int j = Math.Max(0, from - ty * tw), jEnd = Math.Min(tw, to - ty * tw); j < jEnd; j += WinogradLanes)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        // vertical B^T on the even (half 0) and odd (half 1) columns of patch rows 2ty .. 2ty + 3
                        float* e0 = (half == 0 ? even : odd) + (long)2 * ty * rowLen + j;
                        Vector256<float> d0 = Vector256.Load(e0), d1 = Vector256.Load(e0 + rowLen),
                            d2 = Vector256.Load(e0 + 2 * rowLen), d3 = Vector256.Load(e0 + 3 * rowLen);
                        Vector256<float> n0 = Vector256.Load(e0 + 1), n1 = Vector256.Load(e0 + rowLen + 1),
                            n2 = Vector256.Load(e0 + 2 * rowLen + 1), n3 = Vector256.Load(e0 + 3 * rowLen + 1);
                        Store4(dst + j, pstride, half, d0 - d2, n0 - n2);
                        Store4(dst + j + 4 * pstride, pstride, half, d1 + d2, n1 + n2);
                        Store4(dst + j + 8 * pstride, pstride, half, d2 - d1, n2 - n1);
                        Store4(dst + j + 12 * pstride, pstride, half, d1 - d3, n1 - n3);
                    }
                }
            }
        }
    }

    /// <summary>Scratch of <see cref="TransformInput"/>: one padded line, then the even and the odd planes.</summary>
    private static int WinogradPlaneLength(WinogradShape s, int rowLen) => (2 + 2 * (2 * s.TilesH + 2)) * rowLen;

    /// <summary>even[j] = line[2j], odd[j] = line[2j + 1] for j &lt; count.</summary>
    // SAFETY: line holds 2·count readable elements (rounded up to 16 when AVX2 is used), even and odd count writable
    // ones (rounded up to 8).
    private static unsafe void Deinterleave(float* line, int count, float* even, float* odd)
    {
        int j = 0;
        if (Avx2.IsSupported)
        {
            for (; j < count; j += 8)
            {
                Vector256<float> a = Avx.LoadVector256(line + 2 * j), b = Avx.LoadVector256(line + 2 * j + 8);
                // within each 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs reordered to a0 a2 a4 a6 b0 b2 b4 b6
                Vector256<float> e = Avx.Shuffle(a, b, 0b10_00_10_00), o = Avx.Shuffle(a, b, 0b11_01_11_01);
                Avx.Store(even + j, Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle());
                Avx.Store(odd + j, Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle());
            }
            return;
        }
        for (; j < count; j++)
        {
            even[j] = line[2 * j];
            odd[j] = line[2 * j + 1];
        }
    }

    /// <summary>
    /// The horizontal B^T on one transformed row a of the patches: with the even columns e (patch columns 0, 2) and the odd
    /// columns o (1, 3), v[a,0] = e_j − e_{j+1}, v[a,1] = o_j + e_{j+1}, v[a,2] = e_{j+1} − o_j, v[a,3] = o_j − o_{j+1}.
    /// Called once per half: the even half writes point 0 and its parts of points 1 and 2, the odd half adds its parts to
    /// points 1 and 2 and writes point 3.
    /// </summary>
    // SAFETY: dst points to point (a, 0) of a vector of tiles; the four points are pstride apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store4(float* dst, long pstride, int half, Vector256<float> cur, Vector256<float> next)
    {
        if (half == 0)
        {
            // even columns: e_j = cur, e_{j+1} = next
            (cur - next).Store(dst);
            next.Store(dst + pstride);
            next.Store(dst + 2 * pstride);
        }
        else
        {
            // odd columns: o_j = cur, o_{j+1} = next
            (Vector256.Load(dst + pstride) + cur).Store(dst + pstride);
            (Vector256.Load(dst + 2 * pstride) - cur).Store(dst + 2 * pstride);
            (cur - next).Store(dst + 3 * pstride);
        }
    }

    /// <summary>
    /// y[o, 2ty + a, 2tx + b] = (A^T m A)[a, b] + bias[o] for every output channel o and tile of one image, A^T = [1 1 1 0; 0 1 −1 −1];
    /// the odd last row and column of an odd-sized output are dropped.
    /// </summary>
    // SAFETY: m points to the 16 product planes (Out rows of ld elements each), y to one Out×OutH×OutW image; vector loads
    // past the tile row read the next row's or the slack's elements, whose results are not stored.
    private static unsafe void TransformOutput(WinogradShape s, float* m, int ld, int at, int from, int to, float* bias, float* y, float* lines)
    {
        int tw = s.TilesW, oh = s.OutH, ow = s.OutW;
        long pstride = (long)s.Out * ld;
        float* line0 = lines, line1 = lines + 2 * ((tw + WinogradLanes - 1) / WinogradLanes * WinogradLanes);
        for (int o = 0; o < s.Out; o++)
        {
            var b = Vector256.Create(bias is null ? 0f : bias[o]);
            float* yo = y + (long)o * oh * ow;
            for (int ty = from / tw, ty1 = (to - 1) / tw; ty <= ty1; ty++)
            {
                float* src = m + (long)o * ld + at + ty * tw;
                int j0 = Math.Max(0, from - ty * tw), jEnd = Math.Min(tw, to - ty * tw);
                for (int j = j0; j < jEnd; j += WinogradLanes)
                {
                    float* q = src + j;
                    // rows of A^T applied over a (points a·4 + b), then over b
                    Vector256<float> r00 = Vector256.Load(q), r01 = Vector256.Load(q + pstride), r02 = Vector256.Load(q + 2 * pstride), r03 = Vector256.Load(q + 3 * pstride);
                    Vector256<float> r10 = Vector256.Load(q + 4 * pstride), r11 = Vector256.Load(q + 5 * pstride), r12 = Vector256.Load(q + 6 * pstride), r13 = Vector256.Load(q + 7 * pstride);
                    Vector256<float> r20 = Vector256.Load(q + 8 * pstride), r21 = Vector256.Load(q + 9 * pstride), r22 = Vector256.Load(q + 10 * pstride), r23 = Vector256.Load(q + 11 * pstride);
                    Vector256<float> r30 = Vector256.Load(q + 12 * pstride), r31 = Vector256.Load(q + 13 * pstride), r32 = Vector256.Load(q + 14 * pstride), r33 = Vector256.Load(q + 15 * pstride);
                    Vector256<float> s00 = r00 + r10 + r20, s01 = r01 + r11 + r21, s02 = r02 + r12 + r22, s03 = r03 + r13 + r23;
                    Vector256<float> s10 = r10 - r20 - r30, s11 = r11 - r21 - r31, s12 = r12 - r22 - r32, s13 = r13 - r23 - r33;
                    Interleave(s00 + s01 + s02 + b, s01 - s02 - s03 + b, line0 + 2 * (j - j0));
                    Interleave(s10 + s11 + s12 + b, s11 - s12 - s13 + b, line1 + 2 * (j - j0));
                }
                // the output columns of tiles [j0, jEnd); an odd-width output drops the last tile's second column
                int col0 = 2 * j0, cols = Math.Min(ow, 2 * jEnd) - col0;
                float* y0 = yo + (long)2 * ty * ow + col0;
                new ReadOnlySpan<float>(line0, cols).CopyTo(new Span<float>(y0, cols));
                if (2 * ty + 1 < oh) new ReadOnlySpan<float>(line1, cols).CopyTo(new Span<float>(y0 + ow, cols));
            }
        }
    }

    /// <summary>dst[2l] = a[l], dst[2l + 1] = b[l]: the two columns of a row of output tiles, side by side.</summary>
    // SAFETY: dst holds 16 writable elements.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Interleave(Vector256<float> a, Vector256<float> b, float* dst)
    {
        if (Avx.IsSupported)
        {
            // within each 128-bit lane a0 b0 a1 b1 | a4 b4 a5 b5 and a2 b2 a3 b3 | a6 b6 a7 b7, then the lanes put in order
            Vector256<float> lo = Avx.UnpackLow(a, b), hi = Avx.UnpackHigh(a, b);
            Avx.Store(dst, Avx.Permute2x128(lo, hi, 0x20));
            Avx.Store(dst + 8, Avx.Permute2x128(lo, hi, 0x31));
            return;
        }
        for (int l = 0; l < WinogradLanes; l++)
        {
            dst[2 * l] = a.GetElement(l);
            dst[2 * l + 1] = b.GetElement(l);
        }
    }
}
