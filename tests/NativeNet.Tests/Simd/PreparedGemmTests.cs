using NativeNet.Backends;
using NativeNet.Backends.Simd;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>
/// <see cref="Backend.GemmPrepared"/> with op(B) packed once (<see cref="SimdGemmPrepacked"/>) against the Naive GEMM on the
/// same operands, over shapes with edge tiles on both axes, several KC and MC blocks, every transpose, beta 0 (over NaN), 1
/// and 0.5, padded leading dimensions, one and two threads, Float32 and Float64; and against the plain Simd GEMM, which it
/// must equal bit for bit wherever that runs the register tile.
/// </summary>
[TestFixture]
public class PreparedGemmTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (3, 5, 7), (8, 32, 16), (9, 33, 17), (64, 128, 256), (64, 40, 1024), (13, 200, 300), (520, 40, 300), (7, 16, 600),
        (31, 3, 2), (65, 100, 0),
    ];

    [Test]
    public void MatchesNaiveAndPlainSimd([Values(DType.Float32, DType.Float64)] DType dtype, [Values] bool transA, [Values] bool transB)
    {
        int combo = 0;
        foreach (var (m, n, k) in Shapes)
        {
            double beta = (combo % 3) switch { 0 => 0.0, 1 => 1.0, _ => 0.5 };
            int pad = combo % 2 == 0 ? 0 : 3;
            int threads = 1 + combo % 2;
            Check(dtype, transA, transB, m, n, k, beta, pad, threads, seed: 100 * combo + (transA ? 1 : 0) + (transB ? 2 : 0));
            combo++;
        }
    }

    [Test]
    public void ReusedForManyProductsAndThreadCounts([Values(DType.Float32, DType.Float64)] DType dtype)
    {
        // The recurrent use: one W_hh packed, many left operands, accumulating into C.
        using var b = Random([256, 96], dtype, 5, -1, 1);
        using var prepared = SimdB.PrepareGemmB(dtype, 96, 256, Operand(b, 96, true));
        for (int step = 0; step < 4; step++)
        {
            using var a = Random([64, 96], dtype, 10 + step, -1, 1);
            using var want = Random([64, 256], dtype, 20 + step, -1, 1);
            using var got = want.Clone();
            Naive.Gemm(dtype, 1, 64, 256, 96, Operand(a, 96, false), Operand(b, 96, true), want.Storage, 0, 256, 0, 1);
            int saved = SimdBackend.Threads;
            try
            {
                SimdBackend.Threads = 1 + step % 2;
                SimdB.GemmPrepared(dtype, 64, Operand(a, 96, false), prepared, got.Storage, 0, 256, 1);
            }
            finally { SimdBackend.Threads = saved; }
            AssertClose(got, want, GemmTol(dtype, 96).Abs, GemmTol(dtype, 96).Rel, $"step {step}");
        }
    }

    /// <summary>op(B) = [B₀ | B₁ | …]: blocks that start on a panel boundary and blocks that start inside one, mixed transposes.</summary>
    [TestCase(DType.Float32, new[] { 128, 256 }, 64, 300)]
    [TestCase(DType.Float64, new[] { 16, 48 }, 33, 70)]
    [TestCase(DType.Float32, new[] { 5, 40, 3 }, 17, 200)]
    [TestCase(DType.Float64, new[] { 33, 1, 30 }, 9, 5)]
    [TestCase(DType.Float32, new[] { 7 }, 3, 2)]
    public void SideBySideBlocksMatchOneNaiveProductPerBlock(DType dtype, int[] widths, int m, int k)
    {
        int n = widths.Sum(), pad = 2;
        using var a = Random([k, m + pad], dtype, 3, -1, 1); // op(A) = Aᵀ, as for the recurrent weight gradients
        var opA = Operand(a, m + pad, true);
        var stored = new List<Tensor>();
        var operands = new MatrixOperand[widths.Length];
        for (int i = 0; i < widths.Length; i++)
        {
            bool trans = i % 2 == 1;
            var b = Random(trans ? [widths[i], k + pad] : [k, widths[i] + pad], dtype, 10 + i, -1, 1);
            stored.Add(b);
            operands[i] = Operand(b, trans ? k + pad : widths[i] + pad, trans);
        }
        using var want = Random([m, n + pad], dtype, 4, -1, 1);
        using var got = want.Clone();
        using var viaBase = want.Clone();
        for (int i = 0, column = 0; i < widths.Length; column += widths[i], i++)
            Naive.Gemm(dtype, 1, m, widths[i], k, opA, operands[i], want.Storage, column, n + pad, 0, 0.5);
        foreach (int threads in new[] { 1, 2 })
        {
            int saved = SimdBackend.Threads;
            try
            {
                SimdBackend.Threads = threads;
                using var prepared = SimdB.PrepareGemmB(dtype, k, operands, widths);
                got.CopyFrom(viaBase);
                SimdB.GemmPrepared(dtype, m, opA, prepared, got.Storage, 0, n + pad, 0.5);
            }
            finally { SimdBackend.Threads = saved; }
            AssertClose(got, want, GemmTol(dtype, k).Abs, GemmTol(dtype, k).Rel, $"{dtype} widths [{string.Join(", ", widths)}] threads {threads}");
        }
        using (var prepared = Naive.PrepareGemmB(dtype, k, operands, widths))
            Naive.GemmPrepared(dtype, m, opA, prepared, viaBase.Storage, 0, n + pad, 0.5);
        AssertClose(viaBase, want, GemmTol(dtype, k).Abs, GemmTol(dtype, k).Rel, "the base (unpacked) form");
        foreach (var t in stored) t.Dispose();
    }

    [Test]
    public void BadUseIsRejected()
    {
        using var b = Random([4, 6], DType.Float32, 1);
        using var a = Random([3, 4], DType.Float32, 2);
        using var c = Tensor.Zeros([3, 6], DType.Float32);
        var prepared = SimdB.PrepareGemmB(DType.Float32, 4, 6, Operand(b, 6, false));
        Assert.Throws<DTypeMismatchException>(() => SimdB.GemmPrepared(DType.Float64, 3, Operand(a, 4, false), prepared, c.Storage, 0, 6, 0));
        prepared.Dispose();
        Assert.Throws<ObjectDisposedException>(() => SimdB.GemmPrepared(DType.Float32, 3, Operand(a, 4, false), prepared, c.Storage, 0, 6, 0));
        Assert.Throws<DTypeMismatchException>(() => SimdB.PrepareGemmB(DType.Float64, 4, 6, Operand(b, 6, false)));
        using var ints = Tensor.FromArray(new int[24], [4, 6]);
        Assert.Throws<DTypeMismatchException>(() => Naive.PrepareGemmB(DType.Int32, 4, 6, Operand(ints, 6, false)));
        Assert.Throws<ArgumentException>(() => SimdB.PrepareGemmB(DType.Float32, 4, [Operand(b, 6, false)], [6, 6]));
        Assert.Throws<ArgumentException>(() => SimdB.PrepareGemmB(DType.Float32, 4, [], []));
    }

    private static MatrixOperand Operand(Tensor t, int ld, bool trans) => new(t.Storage, t.Offset, ld, 0, trans);

    /// <summary>Float: sums of up to 1024 products of values in [−1, 1]; double: 1e-12.</summary>
    private static (double Abs, double Rel) GemmTol(DType dtype, int k) => dtype == DType.Float32 ? (1e-6 * Math.Max(1, k), 1e-5) : (1e-12 * Math.Max(1, k), 1e-10);

    private static void Check(DType dtype, bool transA, bool transB, int m, int n, int k, double beta, int pad, int threads, int seed)
    {
        // Stored shapes: A is m×k (k×m when transposed), B is k×n (n×k when transposed), C m×n; each row padded by pad.
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        using var a = Random([Math.Max(1, transA ? k : m), lda], dtype, seed, -1, 1);
        using var b = Random([Math.Max(1, transB ? n : k), ldb], dtype, seed + 1, -1, 1);
        using var c0 = beta == 0 ? Tensor.Full([m, ldc], double.NaN, dtype) : Random([m, ldc], dtype, seed + 2, -1, 1);
        using var want = c0.Clone();
        using var plain = c0.Clone();
        using var got = c0.Clone();
        var opA = Operand(a, lda, transA);
        var opB = Operand(b, ldb, transB);
        string ctx = $"{dtype} tA={transA} tB={transB} m={m} n={n} k={k} beta={beta} pad={pad} threads={threads}";
        int saved = SimdBackend.Threads;
        try
        {
            SimdBackend.Threads = threads;
            Naive.Gemm(dtype, 1, m, n, k, opA, opB, want.Storage, 0, ldc, 0, beta);
            SimdB.Gemm(dtype, 1, m, n, k, opA, opB, plain.Storage, 0, ldc, 0, beta);
            using (var prepared = SimdB.PrepareGemmB(dtype, k, n, opB))
                SimdB.GemmPrepared(dtype, m, opA, prepared, got.Storage, 0, ldc, beta);
        }
        finally { SimdBackend.Threads = saved; }

        var (abs, rel) = GemmTol(dtype, k);
        AssertClose(got, want, abs, rel, ctx);
        bool registerTile = !(dtype == DType.Float32 ? SimdGemmNarrow.Handles<float>(m, n, k) : SimdGemmNarrow.Handles<double>(m, n, k));
        if (registerTile && k > 0)
        {
            var g = Values(got);
            var p = Values(plain);
            for (int i = 0; i < g.Length; i++)
                if (!g[i].Equals(p[i]))
                    Assert.Fail($"{ctx}: element {i} = {g[i]}, the plain Simd GEMM gives {p[i]}");
        }
        // Padding between the rows of C stays as it was.
        var before = Values(c0);
        var after = Values(got);
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                if (!after[i * ldc + j].Equals(before[i * ldc + j]))
                    Assert.Fail($"{ctx}: padding C[{i},{j}] was written");
    }
}
