using System.Diagnostics;
using System.Numerics.Tensors;
using NativeNet.Backends;
using NativeNet.Backends.Simd;

namespace NativeNet.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench/NativeNet.Bench -- grain</c>: the grain of each op family that runs on
/// <see cref="WorkerPool"/>, i.e. the least work per part for which handing half of it to a second thread beats doing
/// all of it on the calling one. For a ladder of sizes it times one call of the family's kernel on one part (the
/// calling thread alone) and the same work split into two parts on the pool, interleaved, and prints the best and the
/// median of both; the grain is the smallest size whose split median is below the single-part median.
/// </summary>
/// <remarks>The kernels are called below the backend's own thresholds (WorkerPool directly, one part each), so the
/// ladder also covers the sizes that the backend keeps on one thread today.</remarks>
internal static unsafe class GrainProbe
{
    /// <summary>Runs the probe; returns the exit code.</summary>
    public static int Run(int reps)
    {
        SimdBackend.Threads = 2;
        Console.WriteLine($"grain probe: 1 part vs 2 parts on the worker pool, {reps} interleaved calls each; load {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("family\tsize\twork per part\t1 part best µs\t2 parts best µs\t1 part median µs\t2 parts median µs\tmedian speed-up");
        HandOff(reps);
        foreach (int n in new[] { 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18 }) Elementwise(n, reps);
        foreach (int n in new[] { 1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19 }) Sum(n, reps);
        foreach (int n in new[] { 32, 48, 64, 80, 96, 128, 160 }) Gemm(n, reps);
        foreach (int images in new[] { 1, 2, 4, 8, 16 }) Conv(images, reps, interleaved: true);
        foreach (int images in new[] { 1, 2, 4, 8, 16 }) Conv(images, reps, interleaved: false);
        return 0;
    }

    private static void HandOff(int reps)
    {
        var body = new EmptyBody();
        Report("hand-off (empty parts)", 0, "0", reps, () => { body.Run(0); body.Run(1); }, () => WorkerPool.Run(2, ref body));
    }

    private static void Elementwise(int n, int reps)
    {
        float[] a = Filled(n), b = Filled(n), y = new float[n];
        var body = new AddBody { A = a, B = b, Y = y, Parts = 2 };
        Report("elementwise add (float)", n, $"{n / 2} elements", reps, () => TensorPrimitives.Add(a, b, y), () => WorkerPool.Run(2, ref body));
    }

    private static void Sum(int n, int reps)
    {
        float[] a = Filled(n);
        var body = new SumBody { A = a, Parts = 2, Sums = new float[2] };
        Report("sum (float)", n, $"{n / 2} elements", reps, () => TensorPrimitives.Sum(a), () => WorkerPool.Run(2, ref body));
    }

    private static void Gemm(int n, int reps)
    {
        float[] a = Filled(n * n), b = Filled(n * n), c = new float[n * n];
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
        {
            float* ca = pa, cb = pb, cc = pc;
            var body = new GemmBody { A = pa, B = pb, C = pc, N = n };
            Report("GEMM n×n×n (float, rows split)", n, $"{(long)n * n * n / 2} multiply-adds", reps,
                () => SimdGemm.Gemm(false, false, n, n, n, ca, n, cb, n, 0f, cc, n, 1), () => WorkerPool.Run(2, ref body));
        }
    }

    private static void Conv(int images, int reps, bool interleaved)
    {
        // the conv2 layer (32→64, 14×14, 3×3, pad 1) through the backend at 1 and 2 threads (its own chunking and
        // thresholds: one chunk is split inside its GEMM, several are spread over the threads)
        var g = new Conv2dGeometry(images, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1);
        var gen = new Generator(1);
        var x = Tensor.Normal([g.N, g.C, g.H, g.W], 0, 1, gen);
        var w = Tensor.Normal([g.K, g.C, g.R, g.S], 0, 1, gen);
        var y = Tensor.Zeros([g.N, g.K, g.OH, g.OW]);
        var be = SimdBackend.Instance;
        Report(interleaved ? "conv forward 32→64 14×14 (images)" : "conv forward 32→64 14×14 (images), each build's calls back to back", images, $"{(long)(g.ForwardFlops / 4)} multiply-adds", reps,
            () => { SimdBackend.Threads = 1; be.Conv2dForward(x, w, null, y, g); SimdBackend.Threads = 2; },
            () => be.Conv2dForward(x, w, null, y, g), interleaved);
    }

    private static float[] Filled(int n)
    {
        var rng = new Random(n);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)rng.NextDouble();
        return v;
    }

    /// <summary>Times one and two; interleaved (one call of each in turn), or all calls of one and then all of two, so
    /// that the pool's worker is still spinning from the previous call when the next one starts (as between the ops of a step).</summary>
    private static void Report(string family, long size, string perPart, int reps, Action one, Action two, bool interleaved = true)
    {
        // long enough for tiered compilation to reach the optimised code of every kernel
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        while (Stopwatch.GetTimestamp() < until) { one(); two(); }
        var t1 = new double[reps];
        var t2 = new double[reps];
        if (!interleaved)
        {
            Time(one, t1);
            Time(two, t2);
        }
        for (int r = 0; r < reps && interleaved; r++)
        {
            long s = Stopwatch.GetTimestamp();
            one();
            long m = Stopwatch.GetTimestamp();
            two();
            long e = Stopwatch.GetTimestamp();
            t1[r] = (m - s) * 1e6 / Stopwatch.Frequency;
            t2[r] = (e - m) * 1e6 / Stopwatch.Frequency;
        }
        Array.Sort(t1);
        Array.Sort(t2);
        double m1 = t1[reps / 2], m2 = t2[reps / 2];
        Console.WriteLine($"{family}\t{size}\t{perPart}\t{t1[0]:F2}\t{t2[0]:F2}\t{m1:F2}\t{m2:F2}\t{m1 / m2:F2}");
    }

    private static void Time(Action f, double[] times)
    {
        for (int r = 0; r < times.Length; r++)
        {
            long s = Stopwatch.GetTimestamp();
            f();
            times[r] = (Stopwatch.GetTimestamp() - s) * 1e6 / Stopwatch.Frequency;
        }
    }

    private struct EmptyBody : IParallelBody
    {
        public readonly void Run(int part) { }
    }

    private struct AddBody : IParallelBody
    {
        public float[] A, B, Y;
        public int Parts;

        public readonly void Run(int part)
        {
            int n = A.Length, s = n * part / Parts, e = n * (part + 1) / Parts;
            TensorPrimitives.Add(A.AsSpan(s, e - s), B.AsSpan(s, e - s), Y.AsSpan(s, e - s));
        }
    }

    private struct SumBody : IParallelBody
    {
        public float[] A, Sums;
        public int Parts;

        public readonly void Run(int part)
        {
            int n = A.Length, s = n * part / Parts, e = n * (part + 1) / Parts;
            Sums[part] = TensorPrimitives.Sum(A.AsSpan(s, e - s));
        }
    }

    private struct GemmBody : IParallelBody
    {
        public float* A, B, C;
        public int N;

        // SAFETY: rows [i0, i1) of the pinned n×n A and C; B whole.
        public readonly void Run(int part)
        {
            int i0 = N * part / 2, i1 = N * (part + 1) / 2;
            SimdGemm.Gemm(false, false, i1 - i0, N, N, A + (long)i0 * N, N, B, N, 0f, C + (long)i0 * N, N, 1);
        }
    }
}
