using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    // ---- filter and bias gradient of a one-channel 3×3 convolution (a first layer) ----
    //
    // dW[k, t] = Σ over images and positions of dy[n, k, q]·col_n[t, q], with the image's 9 im2col rows col_n. With 9 taps
    // the GEMM's tiles are mostly padding; here two filters at a time keep 9 + 9 tap accumulators and two bias
    // accumulators in vector registers over one image's positions, and carry them from image to image in memory, so each
    // filter's sums run in the same order whatever the thread count (threads split the filters, not the images).

    /// <summary>Filters whose accumulators one pass over an image's positions keeps in registers.</summary>
    private const int FirstLayerFilterBlock = 2;

    /// <summary>One input channel, a 3×3 filter, dense and undilated, float: the direct filter gradient applies.</summary>
    private static bool FirstLayerFilterGradientApplies<T>(Conv2dGeometry g) =>
        typeof(T) == typeof(float) && g.IsDenseUndilated && g.Groups == 1 && g.C == 1 && g.R == 3 && g.S == 3
        && g.N > 0 && g.K > 0 && g.OH * g.OW >= Vector256<float>.Count;

    /// <summary>dw and (when not null) db of a one-channel 3×3 convolution.</summary>
    private static unsafe void FirstLayerFilterGradient(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g)
    {
        float[] xs = x.HostData<float>(), gs = dy.HostData<float>(), ws = dw.HostData<float>();
        float[]? bs = db?.HostData<float>();
        int blocks = (g.K + FirstLayerFilterBlock - 1) / FirstLayerFilterBlock;
        int parts = Math.Min(Threads, blocks);
        if ((double)g.N * g.K * g.OH * g.OW * 20 < 2e6) parts = 1;
        // SAFETY: arrays pinned for the call; part p writes only the filters of its blocks; each part's scratch is its
        // own thread's first buffer.
        fixed (float* px = xs) fixed (float* pg = gs) fixed (float* pw = ws) fixed (float* pb = bs)
        {
            var body = new FirstLayerFilterPart
            {
                G = g, Parts = parts, Blocks = blocks, X = px + x.Offset, Dy = pg + dy.Offset, Dw = pw + dw.Offset,
                Db = pb is null ? null : pb + db!.Offset,
            };
            if (parts == 1) body.Run(0);
            else WorkerPool.Run(parts, ref body);
        }
    }

    private unsafe struct FirstLayerFilterPart : IParallelBody
    {
        public Conv2dGeometry G;
        public int Parts, Blocks;
        public float* X, Dy, Dw, Db;

        // SAFETY: x and dy are the pinned contiguous NCHW tensors; part p owns the filters of blocks
        // [Blocks·p/Parts, Blocks·(p + 1)/Parts); the scratch holds one image's 9 im2col rows and the accumulators.
        public readonly void Run(int part)
        {
            var g = G;
            int ohw = g.OH * g.OW, kohw = g.K * ohw, hw = g.H * g.W, lanes = Vector256<float>.Count;
            int b0 = Blocks * part / Parts, b1 = Blocks * (part + 1) / Parts;
            int k0 = b0 * FirstLayerFilterBlock, k1 = Math.Min(g.K, b1 * FirstLayerFilterBlock);
            if (k0 >= k1) return;
            // per filter: 9 tap accumulators and one bias accumulator, each a vector of lanes
            int accLength = (k1 - k0) * 10 * lanes;
            float* col = (float*)Pin(ThreadScratch<float>.First(9 * ohw + accLength + 2 * 10 * lanes));
            float* acc = col + 9 * ohw;
            new Span<float>(acc, accLength + 2 * 10 * lanes).Clear();
            bool flat = IsFlatRows(g);
            for (int n = 0; n < g.N; n++)
            {
                float* xn = X + (long)n * hw;
                for (int t = 0; t < 9; t++) Im2ColTap(xn, g, 0, t / 3, t % 3, col + t * ohw, flat, g.OH, g.OW);
                float* gn = Dy + (long)n * kohw;
                for (int k = k0; k < k1; k += FirstLayerFilterBlock)
                {
                    // an odd last filter pairs with a scratch accumulator set (past the used ones) fed by the same gradient row
                    bool pair = k + 1 < k1;
                    float* a0 = acc + (k - k0) * 10 * lanes, a1 = pair ? a0 + 10 * lanes : acc + accLength + 10 * lanes;
                    AccumulatePair(col, gn + (long)k * ohw, gn + (long)(pair ? k + 1 : k) * ohw, ohw, a0, a1);
                }
            }
            for (int k = k0; k < k1; k++)
            {
                float* a = acc + (k - k0) * 10 * lanes;
                for (int t = 0; t < 9; t++) Dw[(long)k * 9 + t] = Vector256.Sum(Vector256.Load(a + t * lanes));
                if (Db is not null) Db[k] = Vector256.Sum(Vector256.Load(a + 9 * lanes));
            }
        }
    }

    /// <summary>a_f[t] += Σ_q dy_f[q]·col[t, q] (t &lt; 9) and a_f[9] += Σ_q dy_f[q], lane by lane, for the two filters f.</summary>
    // SAFETY: col holds 9 rows of ohw elements, dy0 and dy1 ohw elements each, a0 and a1 10 vectors each.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AccumulatePair(float* col, float* dy0, float* dy1, int ohw, float* a0, float* a1)
    {
        const int L = 8;
        Vector256<float> p0 = Vector256.Load(a0), p1 = Vector256.Load(a0 + L), p2 = Vector256.Load(a0 + 2 * L), p3 = Vector256.Load(a0 + 3 * L),
            p4 = Vector256.Load(a0 + 4 * L), p5 = Vector256.Load(a0 + 5 * L), p6 = Vector256.Load(a0 + 6 * L), p7 = Vector256.Load(a0 + 7 * L),
            p8 = Vector256.Load(a0 + 8 * L), pb = Vector256.Load(a0 + 9 * L);
        Vector256<float> q0 = Vector256.Load(a1), q1 = Vector256.Load(a1 + L), q2 = Vector256.Load(a1 + 2 * L), q3 = Vector256.Load(a1 + 3 * L),
            q4 = Vector256.Load(a1 + 4 * L), q5 = Vector256.Load(a1 + 5 * L), q6 = Vector256.Load(a1 + 6 * L), q7 = Vector256.Load(a1 + 7 * L),
            q8 = Vector256.Load(a1 + 8 * L), qb = Vector256.Load(a1 + 9 * L);
        int v = 0;
        for (; v + L <= ohw; v += L)
        {
            Vector256<float> d0 = Vector256.Load(dy0 + v), d1 = Vector256.Load(dy1 + v), c;
            c = Vector256.Load(col + v); p0 = Vector256.FusedMultiplyAdd(d0, c, p0); q0 = Vector256.FusedMultiplyAdd(d1, c, q0);
            c = Vector256.Load(col + ohw + v); p1 = Vector256.FusedMultiplyAdd(d0, c, p1); q1 = Vector256.FusedMultiplyAdd(d1, c, q1);
            c = Vector256.Load(col + 2 * ohw + v); p2 = Vector256.FusedMultiplyAdd(d0, c, p2); q2 = Vector256.FusedMultiplyAdd(d1, c, q2);
            c = Vector256.Load(col + 3 * ohw + v); p3 = Vector256.FusedMultiplyAdd(d0, c, p3); q3 = Vector256.FusedMultiplyAdd(d1, c, q3);
            c = Vector256.Load(col + 4 * ohw + v); p4 = Vector256.FusedMultiplyAdd(d0, c, p4); q4 = Vector256.FusedMultiplyAdd(d1, c, q4);
            c = Vector256.Load(col + 5 * ohw + v); p5 = Vector256.FusedMultiplyAdd(d0, c, p5); q5 = Vector256.FusedMultiplyAdd(d1, c, q5);
            c = Vector256.Load(col + 6 * ohw + v); p6 = Vector256.FusedMultiplyAdd(d0, c, p6); q6 = Vector256.FusedMultiplyAdd(d1, c, q6);
            c = Vector256.Load(col + 7 * ohw + v); p7 = Vector256.FusedMultiplyAdd(d0, c, p7); q7 = Vector256.FusedMultiplyAdd(d1, c, q7);
            c = Vector256.Load(col + 8 * ohw + v); p8 = Vector256.FusedMultiplyAdd(d0, c, p8); q8 = Vector256.FusedMultiplyAdd(d1, c, q8);
            pb += d0;
            qb += d1;
        }
        if (v < ohw)
        {
            // the tail: the last full vector of positions with the lanes already counted masked out
            v = ohw - L;
            var keep = Vector256.GreaterThanOrEqual(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(L - ohw % L)).AsSingle();
            Vector256<float> d0 = Vector256.Load(dy0 + v) & keep, d1 = Vector256.Load(dy1 + v) & keep, c;
            c = Vector256.Load(col + v); p0 = Vector256.FusedMultiplyAdd(d0, c, p0); q0 = Vector256.FusedMultiplyAdd(d1, c, q0);
            c = Vector256.Load(col + ohw + v); p1 = Vector256.FusedMultiplyAdd(d0, c, p1); q1 = Vector256.FusedMultiplyAdd(d1, c, q1);
            c = Vector256.Load(col + 2 * ohw + v); p2 = Vector256.FusedMultiplyAdd(d0, c, p2); q2 = Vector256.FusedMultiplyAdd(d1, c, q2);
            c = Vector256.Load(col + 3 * ohw + v); p3 = Vector256.FusedMultiplyAdd(d0, c, p3); q3 = Vector256.FusedMultiplyAdd(d1, c, q3);
            c = Vector256.Load(col + 4 * ohw + v); p4 = Vector256.FusedMultiplyAdd(d0, c, p4); q4 = Vector256.FusedMultiplyAdd(d1, c, q4);
            c = Vector256.Load(col + 5 * ohw + v); p5 = Vector256.FusedMultiplyAdd(d0, c, p5); q5 = Vector256.FusedMultiplyAdd(d1, c, q5);
            c = Vector256.Load(col + 6 * ohw + v); p6 = Vector256.FusedMultiplyAdd(d0, c, p6); q6 = Vector256.FusedMultiplyAdd(d1, c, q6);
            c = Vector256.Load(col + 7 * ohw + v); p7 = Vector256.FusedMultiplyAdd(d0, c, p7); q7 = Vector256.FusedMultiplyAdd(d1, c, q7);
            c = Vector256.Load(col + 8 * ohw + v); p8 = Vector256.FusedMultiplyAdd(d0, c, p8); q8 = Vector256.FusedMultiplyAdd(d1, c, q8);
            pb += d0;
            qb += d1;
        }
        p0.Store(a0); p1.Store(a0 + L); p2.Store(a0 + 2 * L); p3.Store(a0 + 3 * L); p4.Store(a0 + 4 * L);
        p5.Store(a0 + 5 * L); p6.Store(a0 + 6 * L); p7.Store(a0 + 7 * L); p8.Store(a0 + 8 * L); pb.Store(a0 + 9 * L);
        q0.Store(a1); q1.Store(a1 + L); q2.Store(a1 + 2 * L); q3.Store(a1 + 3 * L); q4.Store(a1 + 4 * L);
        q5.Store(a1 + 5 * L); q6.Store(a1 + 6 * L); q7.Store(a1 + 7 * L); q8.Store(a1 + 8 * L); qb.Store(a1 + 9 * L);
    }
}
