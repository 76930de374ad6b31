using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    // ---- filter and bias gradient of a one-channel 3×3 convolution (a first layer) ----
    //
    // dW[k, t] = Σ over images and positions of dy[n, k, q]·col_n[t, q], with the image's 9 im2col rows col_n. With 9 taps
    // the GEMM's tiles are mostly padding; here two filters at a time keep 9 + 9 tap accumulators and two bias
    // accumulators in vector registers over one image's positions and carry them from image to image in memory. Fixed
    // groups of images are the parallel parts, summed in group order, so the sums are the same for every thread count.

    /// <summary>Filters whose accumulators one pass over an image's positions keeps in registers.</summary>
    private const int FirstLayerFilterBlock = 2;

    /// <summary>One input channel, a 3×3 filter, dense and undilated, float: the direct filter gradient applies.</summary>
    private static bool FirstLayerFilterGradientApplies<T>(Conv2dGeometry g) =>
        typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated && g.IsDenseUndilated && g.Groups == 1 && g.C == 1 && g.R == 3 && g.S == 3
        && g.N > 0 && g.K > 0 && g.OH * g.OW >= Vector256<float>.Count;

    /// <summary>Images per group: groups are the parallel parts, and their number depends on N only, never on the thread count.</summary>
    private const int FirstLayerGroupImages = 8;

    /// <summary>dw and (when not null) db of a one-channel 3×3 convolution.</summary>
    private static unsafe void FirstLayerFilterGradient(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g)
    {
        float[] xs = x.HostData<float>(), gs = dy.HostData<float>(), ws = dw.HostData<float>();
        float[]? bs = db?.HostData<float>();
        int lanes = Vector256<float>.Count, groups = (g.N + FirstLayerGroupImages - 1) / FirstLayerGroupImages;
        // per group and filter: 9 tap accumulators and one bias accumulator, each a vector of lanes, and one scratch set
        int groupLength = (g.K + 1) * 10 * lanes;
        float[] sums = ThreadScratch<float>.Second(groups * groupLength);
        bool parallel = Threads > 1 && groups > 1 && (double)g.N * g.K * g.OH * g.OW * 20 >= 2e6;
        // SAFETY: arrays pinned for the call; group i writes only its own accumulators; each group's im2col rows are its
        // thread's first scratch (the accumulators are the calling thread's second, which the workers do not use).
        fixed (float* px = xs) fixed (float* pg = gs) fixed (float* pw = ws) fixed (float* pb = bs) fixed (float* ps = sums)
        {
            var body = new FirstLayerFilterGroup { G = g, X = px + x.Offset, Dy = pg + dy.Offset, Sums = ps, GroupLength = groupLength };
            if (parallel) WorkerPool.Run(groups, ref body);
            else for (int i = 0; i < groups; i++) body.Run(i);
            // the groups' lanes added in group order, then across lanes: the same sums for every thread count
            float* dwp = pw + dw.Offset;
            for (int k = 0; k < g.K; k++)
            for (int t = 0; t < 10; t++)
            {
                var total = Vector256.Load(ps + (k * 10 + t) * lanes);
                for (int i = 1; i < groups; i++) total += Vector256.Load(ps + (long)i * groupLength + (k * 10 + t) * lanes);
                float value = Vector256.Sum(total);
                if (t < 9) dwp[k * 9 + t] = value;
                else if (pb is not null) pb[db!.Offset + k] = value;
            }
        }
    }

    private unsafe struct FirstLayerFilterGroup : IParallelBody
    {
        public Conv2dGeometry G;
        public float* X, Dy, Sums;
        public int GroupLength;

        // SAFETY: x and dy are the pinned contiguous NCHW tensors; group i covers images [8i, 8i + 8) and writes only its
        // GroupLength accumulators; the scratch holds one image's 9 im2col rows.
        public readonly void Run(int group)
        {
            var g = G;
            int ohw = g.OH * g.OW, kohw = g.K * ohw, hw = g.H * g.W, lanes = Vector256<float>.Count;
            float* col = (float*)Pin(ThreadScratch<float>.First(9 * ohw));
            float* acc = Sums + (long)group * GroupLength, spare = acc + g.K * 10 * lanes;
            new Span<float>(acc, GroupLength).Clear();
            bool flat = IsFlatRows(g);
            for (int n = group * FirstLayerGroupImages, end = Math.Min(g.N, n + FirstLayerGroupImages); n < end; n++)
            {
                float* xn = X + (long)n * hw;
                for (int t = 0; t < 9; t++) Im2ColTap(xn, g, 0, t / 3, t % 3, col + t * ohw, flat, g.OH, g.OW);
                float* gn = Dy + (long)n * kohw;
                for (int k = 0; k < g.K; k += FirstLayerFilterBlock)
                {
                    // an odd last filter pairs with the spare accumulators, fed by the same gradient row
                    bool pair = k + 1 < g.K;
                    float* a0 = acc + k * 10 * lanes, a1 = pair ? a0 + 10 * lanes : spare;
                    AccumulatePair(col, gn + (long)k * ohw, gn + (long)(pair ? k + 1 : k) * ohw, ohw, a0, a1);
                }
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
        for (int v = 0; v < ohw; v += L)
        {
            var keep = Vector256<float>.AllBitsSet;
            if (v + L > ohw)
            {
                // the tail: the last full vector of positions (ohw ≥ L), with the lanes already counted masked out
                keep = Vector256.GreaterThanOrEqual(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(v + L - ohw)).AsSingle();
                v = ohw - L;
            }
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
