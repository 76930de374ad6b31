using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

/// <summary>
/// GEMM for a narrow C (n at most one AVX-512 vector: 16 floats or 8 doubles), such as a classifier's 10 logits:
/// op(B) is packed once into k rows of one zero-padded vector, and each group of <see cref="Rows"/> rows of C is
/// accumulated in one vector per row (op(A) values broadcast), over the whole of k in one pass.
/// </summary>
/// <remarks>The register-tiled kernel would spend two thirds of its 32-column tile on padding at n = 10; here 10 of 16
/// lanes work. Rows of C are independent and summed in k order, so the result does not depend on the thread split.</remarks>
internal static unsafe class SimdGemmNarrow
{
    /// <summary>Rows of C per register group: 8 accumulators cover the FMA latency (4 cycles × 2 pipes).</summary>
    private const int Rows = 8;

    /// <summary>Below this many multiply-adds the product stays on one thread (measured: 128×10×256 gains from a second thread).</summary>
    private const double ParallelThreshold = 1 << 17;

    [ThreadStatic] private static object? t_panel;

    /// <summary>Whether this path takes the product (AVX-512 present and n fits one vector).</summary>
    public static bool Handles<T>(int m, int n, int k) where T : unmanaged =>
        Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported && n <= Vector512<T>.Count && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    // SAFETY: same contract as SimdGemm.Gemm (m, n, k ≥ 1); the packed panel is a per-thread pinned array of k full vectors.
    public static void Gemm<T>(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
        where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count;
        T* panel = Panel<T>((long)k * w);
        Pack(transB, b, ldb, k, n, panel);
        int groups = (m + Rows - 1) / Rows;
        int parts = (double)m * n * k < ParallelThreshold ? 1 : Math.Min(Math.Max(1, threads), groups);
        var job = new Job<T>
        {
            A = a, RowStride = transA ? 1 : lda, StepStride = transA ? lda : 1, Panel = panel, C = c, Ldc = ldc,
            M = m, N = n, K = k, Beta = beta, Groups = groups, Parts = parts,
        };
        if (parts <= 1) job.Run(0);
        else WorkerPool.Run(parts, ref job);
    }

    /// <summary>panel[p·w + j] = op(B)(p, j) for j &lt; n, zero for n ≤ j &lt; w (w = one vector).</summary>
    // SAFETY: op(B) is k×n inside the caller's view (b[p·ldb + j], or b[j·ldb + p] when transposed); panel holds k·w
    // elements. The full-vector loads of a row stay inside the view: they end at or before the last element of op(B).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pack<T>(bool transB, T* b, int ldb, int k, int n, T* panel) where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count;
        if (transB)
        {
            for (int p = 0; p < k; p++) Vector512<T>.Zero.Store(panel + (long)p * w);
            for (int j = 0; j < n; j++)
            {
                T* row = b + (long)j * ldb;
                T* dst = panel + j;
                for (int p = 0; p < k; p++) dst[(long)p * w] = row[p];
            }
            return;
        }
        var keep = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n));
        var mask = Vector512<T>.Count == 16 ? keep.As<int, T>() : Vector512.LessThan(Vector512<long>.Indices, Vector512.Create((long)n)).As<long, T>();
        long last = (long)(k - 1) * ldb + n;
        int p0 = 0;
        for (; p0 < k && (long)p0 * ldb + w <= last; p0++)
            (Vector512.Load(b + (long)p0 * ldb) & mask).Store(panel + (long)p0 * w);
        for (; p0 < k; p0++)
        {
            T* src = b + (long)p0 * ldb, dst = panel + (long)p0 * w;
            Vector512<T>.Zero.Store(dst);
            for (int j = 0; j < n; j++) dst[j] = src[j];
        }
    }

    private static T* Panel<T>(long elements) where T : unmanaged
    {
        if (t_panel is not T[] panel || panel.Length < elements)
        {
            panel = GC.AllocateUninitializedArray<T>((int)Math.Max(elements, 4096), pinned: true);
            t_panel = panel;
        }
        // SAFETY: the array is pinned (POH) and kept alive by the thread-static field for the thread's lifetime.
        return (T*)Unsafe.AsPointer(ref panel[0]);
    }

    private struct Job<T> : IParallelBody where T : unmanaged, INumber<T>
    {
        public T* A, Panel, C;
        public nint RowStride, StepStride;
        public int Ldc, M, N, K, Groups, Parts;
        public T Beta;

        // SAFETY: part p covers row groups [Groups·p/Parts, Groups·(p+1)/Parts), clamped to m; op(A)(i, p) is
        // A[i·RowStride + p·StepStride] inside the caller's view.
        public readonly void Run(int part)
        {
            int g0 = (int)((long)Groups * part / Parts), g1 = (int)((long)Groups * (part + 1) / Parts);
            for (int g = g0; g < g1; g++)
            {
                int i = g * Rows, rows = Math.Min(Rows, M - i);
                T* ai = A + i * RowStride, ci = C + (long)i * Ldc;
                if (rows == Rows) Group8(K, ai, RowStride, StepStride, Panel, ci, Ldc, N, Beta);
                else for (int r = 0; r < rows; r++) Single(K, ai + r * RowStride, StepStride, Panel, ci + (long)r * Ldc, N, Beta);
            }
        }
    }

    // SAFETY: a covers 8 rows (rs apart) of k steps (ps apart); panel holds k vectors; c covers 8 rows of n elements.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group8<T>(int k, T* a, nint rs, nint ps, T* panel, T* c, int ldc, int n, T beta) where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        T* a0 = a, a4 = a + 4 * rs;
        nint rs2 = 2 * rs, rs3 = 3 * rs;
        for (int p = 0; p < k; p++)
        {
            var bv = Vector512.Load(panel + (long)p * w);
            c0 = Fma(Vector512.Create(a0[0]), bv, c0);
            c1 = Fma(Vector512.Create(a0[rs]), bv, c1);
            c2 = Fma(Vector512.Create(a0[rs2]), bv, c2);
            c3 = Fma(Vector512.Create(a0[rs3]), bv, c3);
            c4 = Fma(Vector512.Create(a4[0]), bv, c4);
            c5 = Fma(Vector512.Create(a4[rs]), bv, c5);
            c6 = Fma(Vector512.Create(a4[rs2]), bv, c6);
            c7 = Fma(Vector512.Create(a4[rs3]), bv, c7);
            a0 += ps;
            a4 += ps;
        }
        // through a stack tile: no call may sit between the loop and the accumulators, or they are spilled in the loop
        T* tile = stackalloc T[Rows * Vector512<T>.Count];
        c0.Store(tile);
        c1.Store(tile + w);
        c2.Store(tile + 2 * w);
        c3.Store(tile + 3 * w);
        c4.Store(tile + 4 * w);
        c5.Store(tile + 5 * w);
        c6.Store(tile + 6 * w);
        c7.Store(tile + 7 * w);
        for (int r = 0; r < Rows; r++) Merge(tile + r * w, c + (long)r * ldc, n, beta);
    }

    // SAFETY: as Group8 for one row.
    private static void Single<T>(int k, T* a, nint ps, T* panel, T* c, int n, T beta) where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> acc0 = default, acc1 = default;
        int p = 0;
        for (; p + 2 <= k; p += 2)
        {
            acc0 = Fma(Vector512.Create(a[p * ps]), Vector512.Load(panel + (long)p * w), acc0);
            acc1 = Fma(Vector512.Create(a[(p + 1) * ps]), Vector512.Load(panel + (long)(p + 1) * w), acc1);
        }
        if (p < k) acc0 = Fma(Vector512.Create(a[p * ps]), Vector512.Load(panel + (long)p * w), acc0);
        T* tile = stackalloc T[Vector512<T>.Count];
        (acc0 + acc1).Store(tile);
        Merge(tile, c, n, beta);
    }

    /// <summary>c[0..n) = tile (beta = 0) or tile + beta·c; never touches c[n..).</summary>
    // SAFETY: tile holds n values, c covers n writable elements.
    private static void Merge<T>(T* tile, T* c, int n, T beta) where T : unmanaged, INumber<T>
    {
        if (T.IsZero(beta)) for (int j = 0; j < n; j++) c[j] = tile[j];
        else if (beta == T.One) for (int j = 0; j < n; j++) c[j] += tile[j];
        else for (int j = 0; j < n; j++) c[j] = beta * c[j] + tile[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }
}
