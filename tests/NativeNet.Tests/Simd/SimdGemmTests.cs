using System.Numerics;
using NativeNet.Backends.Simd;
using NUnit.Framework;

namespace NativeNet.Tests.Simd;

/// <summary>Checks <see cref="SimdGemm"/> against a double-precision triple loop.</summary>
[TestFixture]
public class SimdGemmTests
{
    private static readonly int[] Sizes = [1, 2, 3, 5, 7, 13, 31, 33, 63, 65, 100, 129];
    private static readonly int[] Depths = [1, 7, 33, 129];

    private const double FloatTol = 1e-5;
    private const double DoubleTol = 1e-12;

    [Test]
    public void SmallShapesAllTransposesFloat([Values] bool transA, [Values] bool transB) => SmallShapes<float>(transA, transB, FloatTol);

    [Test]
    public void SmallShapesAllTransposesDouble([Values] bool transA, [Values] bool transB) => SmallShapes<double>(transA, transB, DoubleTol);

    private static void SmallShapes<T>(bool transA, bool transB, double tol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(1234 + (transA ? 1 : 0) + (transB ? 2 : 0));
        int combo = 0;
        foreach (int m in Sizes)
        {
            foreach (int n in Sizes)
            {
                foreach (int k in Depths)
                {
                    // Rotate beta, padding and thread count through the combinations instead of multiplying them out.
                    double beta = (combo % 3) switch { 0 => 0.0, 1 => 1.0, _ => 0.5 };
                    int pad = combo % 4 == 3 ? 3 : 0;
                    int threads = 1 + combo % 2;
                    Run<T>(rng, transA, transB, m, n, k, pad, beta, threads, tol);
                    combo++;
                }
            }
        }
    }

    [TestCase(257, 131, 300)]
    [TestCase(131, 257, 300)]
    [TestCase(600, 40, 520)]
    [TestCase(3, 8300, 5)]
    [TestCase(200, 300, 150)]
    [TestCase(300, 70, 90)]
    [TestCase(300, 10, 520)]
    [TestCase(129, 16, 300)]
    [TestCase(17, 700, 400)]   // one MC block: several L2-sized NC blocks, each with its own A packing, and two KC steps
    [TestCase(20, 90, 1200)]   // several KC steps accumulating into C
    public void LargerShapes(int m, int n, int k)
    {
        var rng = new Random(m * 31 + n * 7 + k);
        foreach (bool transA in new[] { false, true })
        {
            foreach (bool transB in new[] { false, true })
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    double beta = threads == 1 ? 0.0 : 0.5;
                    Run<float>(rng, transA, transB, m, n, k, 5, beta, threads, FloatTol);
                    Run<double>(rng, transA, transB, m, n, k, 2, 1.0 - beta, threads, DoubleTol);
                }
            }
        }
    }

    [TestCase(0.0)]
    [TestCase(1.0)]
    [TestCase(0.5)]
    public void BetaVariantsLargeEnoughForTwoThreads(double beta)
    {
        var rng = new Random(99);
        Run<float>(rng, false, false, 129, 129, 129, 1, beta, 2, FloatTol);
        Run<double>(rng, true, true, 129, 129, 129, 1, beta, 2, DoubleTol);
    }

    [TestCase(0.0)]
    [TestCase(1.0)]
    [TestCase(0.5)]
    public void ZeroDepthScalesC(double beta)
    {
        var rng = new Random(7);
        foreach (int threads in new[] { 1, 2 })
        {
            Run<float>(rng, false, false, 13, 33, 0, 2, beta, threads, FloatTol);
            Run<double>(rng, true, false, 65, 7, 0, 0, beta, threads, DoubleTol);
        }
    }

    [Test]
    public unsafe void EmptyOutputIsANoOp()
    {
        float[] c = [42f];
        fixed (float* pc = c)
        {
            SimdGemm.Gemm(false, false, 0, 1, 5, null, 5, null, 1, 0f, pc, 1, 1);
            SimdGemm.Gemm(false, false, 1, 0, 5, null, 5, null, 1, 0f, pc, 1, 2);
        }

        Assert.That(c[0], Is.EqualTo(42f));
    }

    /// <summary>Runs one GEMM with random operands and compares every element of C with the reference.</summary>
    private static unsafe void Run<T>(Random rng, bool transA, bool transB, int m, int n, int k, int pad, double beta, int threads, double tol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Stored shapes: A is m x k (k x m when transposed), B is k x n (n x k when transposed).
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        T[] a = RandomArray<T>(rng, Math.Max(1, aRows * lda));
        T[] b = RandomArray<T>(rng, Math.Max(1, bRows * ldb));
        T[] c = RandomArray<T>(rng, m * ldc);
        if (beta == 0)
            Array.Fill(c, T.NaN);
        T[] c0 = (T[])c.Clone();

        fixed (T* pa = a, pb = b, pc = c)
        {
            if (typeof(T) == typeof(float))
                SimdGemm.Gemm(transA, transB, m, n, k, (float*)pa, lda, (float*)pb, ldb, (float)beta, (float*)pc, ldc, threads);
            else
                SimdGemm.Gemm(transA, transB, m, n, k, (double*)pa, lda, (double*)pb, ldb, beta, (double*)pc, ldc, threads);
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = double.CreateChecked(transA ? a[p * lda + i] : a[i * lda + p]);
                    double bv = double.CreateChecked(transB ? b[j * ldb + p] : b[p * ldb + j]);
                    sum += av * bv;
                    mag += Math.Abs(av * bv);
                }

                if (beta != 0)
                {
                    double cv = double.CreateChecked(c0[i * ldc + j]);
                    sum += beta * cv;
                    mag += Math.Abs(beta * cv);
                }

                double got = double.CreateChecked(c[i * ldc + j]);
                if (!(Math.Abs(got - sum) <= tol * mag + 1e-30))
                {
                    Assert.Fail($"{typeof(T).Name} tA={transA} tB={transB} m={m} n={n} k={k} pad={pad} beta={beta} threads={threads}: " +
                                $"C[{i},{j}] = {got}, expected {sum} (|terms| {mag})");
                }
            }

            // Padding between rows of C must be untouched.
            for (int j = n; j < ldc && i < m - 1; j++)
            {
                if (!c[i * ldc + j].Equals(c0[i * ldc + j]))
                    Assert.Fail($"padding C[{i},{j}] was written (m={m} n={n} k={k})");
            }
        }
    }

    private static T[] RandomArray<T>(Random rng, int count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new T[count];
        for (int i = 0; i < count; i++)
            r[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        return r;
    }
}
