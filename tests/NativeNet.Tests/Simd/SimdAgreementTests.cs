using NativeNet.Backends;
using NativeNet.Backends.Simd;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>Elementwise primitives of the Simd backend against the Naive reference.</summary>
[TestFixture]
public class SimdAgreementTests
{
    private static readonly (UnaryOp Op, double A, double B)[] AllUnary =
    [
        (UnaryOp.Neg, 0, 0), (UnaryOp.Abs, 0, 0), (UnaryOp.Sign, 0, 0), (UnaryOp.Exp, 0, 0), (UnaryOp.Log, 0, 0),
        (UnaryOp.Sqrt, 0, 0), (UnaryOp.Reciprocal, 0, 0), (UnaryOp.Sigmoid, 0, 0), (UnaryOp.Tanh, 0, 0),
        (UnaryOp.Relu, 0, 0), (UnaryOp.LeakyRelu, 0.1, 0), (UnaryOp.Elu, 1.3, 0), (UnaryOp.Square, 0, 0),
        (UnaryOp.PowScalar, 2.5, 0), (UnaryOp.PowScalar, 3, 0), (UnaryOp.AddScalar, 0.7, 0), (UnaryOp.MulScalar, -1.5, 0),
        (UnaryOp.Clip, -0.5, 0.8), (UnaryOp.Gelu, 0, 0), (UnaryOp.GeluTanh, 0, 0), (UnaryOp.Silu, 0, 0),
        (UnaryOp.Softplus, 1, 20), (UnaryOp.Softplus, 2.5, 3), (UnaryOp.Softplus, -1.5, 2),
    ];

    /// <summary>
    /// Transcendentals: float within 1e-6 relative (TensorPrimitives Exp/Log/Sigmoid and the double-evaluated float Tanh
    /// are within a few ulp); the absolute part only covers results that underflow to 0 or denormals. Double: TensorPrimitives'
    /// double tanh is within 2.3e-9 relative of Math.Tanh, hence 1e-8.
    /// </summary>
    private static (double Abs, double Rel) UnaryTol(UnaryOp op, DType dtype) => op switch
    {
        UnaryOp.Exp or UnaryOp.Log or UnaryOp.Sigmoid or UnaryOp.Tanh or UnaryOp.PowScalar =>
            dtype == DType.Float32 ? (1e-37, 1e-6) : (1e-300, 1e-8),
        UnaryOp.Elu => dtype == DType.Float32 ? (1e-6, 1e-6) : (1e-14, 1e-8),
        // Both evaluate SmoothMath's double expressions (float rounds once); they differ by the vector e^x and tanh only,
        // and the absolute part covers 1 + tanh cancelling in GELU's tanh form for very negative x.
        UnaryOp.Gelu or UnaryOp.GeluTanh or UnaryOp.Silu or UnaryOp.Softplus => dtype == DType.Float32 ? (1e-37, 1e-6) : (1e-14, 1e-10),
        UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Relu or UnaryOp.Clip or UnaryOp.Sqrt or UnaryOp.Reciprocal
            or UnaryOp.Square or UnaryOp.AddScalar or UnaryOp.MulScalar or UnaryOp.LeakyRelu => (0, 0), // exact
        _ => Tol(dtype),
    };

    [Test]
    public void UnaryEveryLength0To257([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        foreach (var (op, a, b) in AllUnary)
        {
            var (abs, rel) = UnaryTol(op, dtype);
            for (int n = 0; n <= 257; n++)
            {
                // Log/Sqrt/Pow get mostly positive inputs so that not everything is NaN
                double lo = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.PowScalar ? -0.5 : -4;
                var x = Random([n], dtype, n * 31 + (int)op, lo, 4, specials: true);
                Agree([n], dtype, (be, y) => be.Unary(op, x, y, a, b), abs, rel, $"{op} {dtype} n={n}");
            }
        }
    }

    [Test]
    public void TranscendentalsNearZeroAndLarge([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        // tanh/sigmoid/exp across magnitudes 1e-8 .. 1e2 (TensorPrimitives' float tanh loses relative accuracy below 1e-2)
        var v = Enumerable.Range(0, 400).Select(i => Math.Pow(10, -8 + i * 0.025) * (i % 2 == 0 ? 1 : -1)).ToArray();
        var x = dtype == DType.Float32 ? Tensor.FromArray(v.Select(d => (float)d).ToArray(), v.Length) : Tensor.FromArray(v, v.Length);
        foreach (var op in new[] { UnaryOp.Tanh, UnaryOp.Sigmoid, UnaryOp.Exp, UnaryOp.Elu })
        {
            var (abs, rel) = UnaryTol(op, dtype);
            Agree([v.Length], dtype, (be, y) => be.Unary(op, x, y, 1, 0), abs, rel, $"{op} {dtype}");
        }
        var pos = dtype == DType.Float32 ? Tensor.FromArray(v.Select(d => (float)Math.Abs(d)).ToArray(), v.Length) : Tensor.FromArray(v.Select(Math.Abs).ToArray(), v.Length);
        Agree([v.Length], dtype, (be, y) => be.Unary(UnaryOp.Log, pos, y, 0, 0), 0, 1e-6, $"Log {dtype}");
    }

    [Test]
    public void GeluAndItsGradientAcrossBothTails([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        // Float lanes use FloatGelu's fitted erfc and split e^(−x²/2): x from −15 (Φ ≈ 4e-51, GELU far below float's
        // normal range) to 15 in steps of 0.01, through GELU′'s zero near −0.7518 and the underflow of e^(−x²/2) near
        // |x| = 13.2; GELU within 1e-6 relative throughout, GELU′ within 1e-6 of its terms (AgreeGeluGrad).
        var v = Enumerable.Range(0, 3001).Select(i => -15 + i * 0.01).Concat([-40, -13.9, -9.3, -3.5355, 3.5355, 40]).ToArray();
        var dy = Enumerable.Range(0, v.Length).Select(i => 0.5 + (i % 7) * 0.25).ToArray();
        Tensor Make(double[] d) => dtype == DType.Float32 ? Tensor.FromArray(d.Select(e => (float)e).ToArray(), d.Length) : Tensor.FromArray(d, d.Length);
        var x = Make(v);
        var g = Make(dy);
        var (abs, rel) = UnaryTol(UnaryOp.Gelu, dtype);
        Agree([v.Length], dtype, (be, y) => be.Unary(UnaryOp.Gelu, x, y, 0, 0), abs, rel, $"Gelu {dtype}");
        AgreeGeluGrad(g, x, dtype, $"GeluGrad {dtype}");
    }

    [Test]
    public void UnaryStridedAndBroadcastInputs([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        var inputs = new (string Name, Tensor X)[]
        {
            ("transposed", Random([19, 23], dtype, 1, specials: true).T),
            ("narrowed", Random([5, 40], dtype, 2).Narrow(1, 3, 33)),
            ("expanded", Random([1, 37], dtype, 3).Expand(6, 37)),
            ("column-expanded", Random([6, 1], dtype, 4).Expand(6, 37)),
            ("permuted3", Random([4, 5, 6], dtype, 5).Permute(2, 0, 1)),
        };
        foreach (var (name, x) in inputs)
        foreach (var (op, a, b) in AllUnary)
        {
            var (abs, rel) = UnaryTol(op, dtype);
            Agree(x.ShapeArray, dtype, (be, y) => be.Unary(op, x, y, a, b), abs, rel, $"{op} {name} {dtype}");
        }
    }

    [Test]
    public void UnaryInPlace([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        foreach (var (op, a, b) in AllUnary)
        for (int n = 1; n <= 70; n += 3)
        {
            var x1 = Random([n], dtype, n, -0.2, 3);
            var x2 = Random([n], dtype, n, -0.2, 3);
            SimdB.Unary(op, x1, x1, a, b);
            Naive.Unary(op, x2, x2, a, b);
            var (abs, rel) = UnaryTol(op, dtype);
            AssertClose(x1, x2, abs, rel, $"in-place {op} n={n}");
        }
    }

    private static bool IsExactBinary(BinaryOp op) =>
        op is not (BinaryOp.Pow or BinaryOp.EluGrad or BinaryOp.GeluGrad or BinaryOp.GeluTanhGrad or BinaryOp.SiluGrad);

    private static (double Abs, double Rel) BinaryTol(BinaryOp op, DType dtype) =>
        IsExactBinary(op) ? (0, 0) : dtype == DType.Float32 ? (1e-37, 1e-6) : (1e-300, 1e-10);

    [Test]
    public void BinaryEveryLength0To257([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            var (abs, rel) = BinaryTol(op, dtype);
            for (int n = 0; n <= 257; n++)
            {
                var a = Random([n], dtype, n * 7 + (int)op, op == BinaryOp.Pow ? 0 : -3, 3, specials: true, ties: true);
                var b = Random([n], dtype, n * 13 + (int)op, -3, 3, specials: true, ties: true);
                if (op == BinaryOp.GeluGrad) AgreeGeluGrad(a, b, dtype, $"{op} {dtype} n={n}");
                else Agree([n], dtype, (be, y) => be.Binary(op, a, b, y, 0.3), abs, rel, $"{op} {dtype} n={n}");
            }
        }
    }

    [Test]
    public void BinaryBroadcastAndStrided([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        var cases = new (string Name, Tensor A, Tensor B)[]
        {
            ("[m,n] op [n]", Random([37, 45], dtype, 1), Random([45], dtype, 2)),
            ("[n] op [m,n]", Random([45], dtype, 3), Random([37, 45], dtype, 4)),
            ("[m,n] op [m,1]", Random([37, 45], dtype, 5), Random([37, 1], dtype, 6)),
            ("[m,1] op [m,n]", Random([37, 1], dtype, 7), Random([37, 45], dtype, 8)),
            ("scalar", Random([7, 33], dtype, 9), Random([], dtype, 10)),
            ("[3,1,5] op [1,4,1]", Random([3, 1, 5], dtype, 11), Random([1, 4, 1], dtype, 12)),
            ("transposed", Random([21, 17], dtype, 13).T, Random([17, 21], dtype, 14)),
            ("both transposed", Random([21, 17], dtype, 15).T, Random([21, 17], dtype, 16).T),
            ("narrowed", Random([9, 40], dtype, 17).Narrow(1, 5, 30), Random([30], dtype, 18)),
            ("big row-broadcast", Random([300, 301], dtype, 19), Random([301], dtype, 20)),
            ("big contiguous", Random([70001], dtype, 21), Random([70001], dtype, 22)),
        };
        foreach (var (name, a, b) in cases)
        {
            var shape = ShapeUtil.Broadcast("test", a.Shape, b.Shape);
            using var ea = Raw.BroadcastTo("test", a, shape);
            using var eb = Raw.BroadcastTo("test", b, shape);
            foreach (var op in Enum.GetValues<BinaryOp>())
            {
                var (abs, rel) = BinaryTol(op, dtype);
                if (op == BinaryOp.GeluGrad) AgreeGeluGrad(ea, eb, dtype, $"{op} {name} {dtype}");
                else Agree(shape, dtype, (be, y) => be.Binary(op, ea, eb, y, 0.3), abs, rel, $"{op} {name} {dtype}");
            }
        }
    }

    [Test]
    public void AddInPlaceAliasesOutputEveryLength([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        for (int n = 0; n <= 257; n++)
        {
            var src = Random([n], dtype, n + 1000);
            var d1 = Random([n], dtype, n);
            var d2 = Random([n], dtype, n);
            using (Backend.Use(SimdB)) Raw.AddInPlace(d1, src);
            using (Backend.Use(Naive)) Raw.AddInPlace(d2, src);
            AssertClose(d1, d2, 0, 0, $"AddInPlace n={n}");
        }
        // broadcast source into a matrix, and a row-broadcast in place
        var m1 = Random([13, 29], dtype, 1);
        var m2 = Random([13, 29], dtype, 1);
        var row = Random([29], dtype, 2);
        using (Backend.Use(SimdB)) Raw.AddInPlace(m1, row);
        using (Backend.Use(Naive)) Raw.AddInPlace(m2, row);
        AssertClose(m1, m2, 0, 0, "AddInPlace row broadcast");
    }

    [Test]
    public void PartiallyOverlappingOutputFallsBackToSequentialSemantics()
    {
        // y = a shifted by one element inside the same storage: reading and writing overlap in a staggered way
        var s1 = Random([100], DType.Float32, 1);
        var s2 = Random([100], DType.Float32, 1);
        SimdB.Binary(BinaryOp.Add, s1.Narrow(0, 0, 99), s1.Narrow(0, 1, 99), s1.Narrow(0, 1, 99).Detach(), 0);
        Naive.Binary(BinaryOp.Add, s2.Narrow(0, 0, 99), s2.Narrow(0, 1, 99), s2.Narrow(0, 1, 99).Detach(), 0);
        AssertClose(s1, s2, 0, 0, "staggered overlap");
    }

    [Test]
    public void WhereBroadcastAndLengths([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        for (int n = 0; n <= 257; n += 1)
        {
            var c = Random([n], dtype, n, -1, 1, specials: true, ties: true);
            var a = Random([n], dtype, n + 1, specials: true);
            var b = Random([n], dtype, n + 2);
            Agree([n], dtype, (be, y) => be.Where(c, a, b, y), 0, 0, $"Where n={n}");
        }
        int[] shape = [11, 35];
        var cond = Random([11, 35], dtype, 5, -1, 1, ties: true);
        var scalar = Random([], dtype, 6);
        var rowB = Random([35], dtype, 7);
        using var es = Raw.BroadcastTo("t", scalar, shape);
        using var er = Raw.BroadcastTo("t", rowB, shape);
        var tr = Random([35, 11], dtype, 8).T;
        Agree(shape, dtype, (be, y) => be.Where(cond, es, er, y), 0, 0, "Where broadcast");
        Agree(shape, dtype, (be, y) => be.Where(tr, cond, es, y), 0, 0, "Where strided cond");
    }

    [Test]
    public void FillAndCopyStridedAndCasting()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var a = Tensor.Zeros([9, 14], dt);
            var b = Tensor.Zeros([9, 14], dt);
            SimdB.Fill(a.Narrow(1, 2, 9).T, 3);
            Naive.Fill(b.Narrow(1, 2, 9).T, 3);
            AssertClose(a, b, 0, 0, $"Fill strided {dt}");
            SimdB.Fill(a, -2);
            Naive.Fill(b, -2);
            AssertClose(a, b, 0, 0, $"Fill {dt}");
        }
        foreach (var from in new[] { DType.Float32, DType.Float64 })
        foreach (var to in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var srcs = new[]
            {
                Random([300], from, 1, -1e3, 1e3, specials: true),
                Random([17, 23], from, 2, -50, 50).T,
                Random([1, 23], from, 3).Expand(5, 23),
                Random([4, 30], from, 4).Narrow(1, 1, 27),
            };
            foreach (var src in srcs)
            {
                if (to == DType.Int32 && src.Numel == 300) continue; // NaN/inf to int: covered separately below
                Agree(src.ShapeArray, to, (be, y) => be.Copy(src, y), 0, 0, $"Copy {from}->{to} {ShapeUtil.Format(src.Shape)}");
            }
        }
        var ints = Tensor.FromArray(Enumerable.Range(-150, 300).ToArray(), 300);
        Agree([300], DType.Float32, (be, y) => be.Copy(ints, y), 0, 0, "Copy int->float");
        var big = Random([100000], DType.Float32, 9);
        Agree([100000], DType.Float64, (be, y) => be.Copy(big, y), 0, 0, "Copy big float->double");
        Agree([317, 319], DType.Float32, (be, y) => be.Copy(Random([319, 317], DType.Float32, 10).T, y), 0, 0, "Copy big transposed");
    }

    [Test]
    public void LargeOpsAgreeAtEveryThreadCount()
    {
        int saved = SimdBackend.Threads;
        try
        {
            var a = Random([300, 700], DType.Float32, 1);
            var b = Random([700], DType.Float32, 2);
            using var eb = Raw.BroadcastTo("t", b, [300, 700]);
            Tensor? first = null;
            foreach (int t in new[] { 1, 2, 3 })
            {
                SimdBackend.Threads = t;
                var y = Tensor.Zeros([300, 700], DType.Float32);
                SimdB.Binary(BinaryOp.Mul, a, eb, y, 0);
                var s = Tensor.Zeros([1], DType.Float32);
                SimdB.Reduce(ReduceOp.Sum, y.Reshape(1, 210000, 1), s, 1, 210000, 1);
                if (first is null) first = s;
                else AssertClose(s, first, 0, 0, $"sum at {t} threads");
                var yn = Tensor.Zeros([300, 700], DType.Float32);
                Naive.Binary(BinaryOp.Mul, a, eb, yn, 0);
                AssertClose(y, yn, 0, 0, $"mul at {t} threads");
            }
        }
        finally { SimdBackend.Threads = saved; }
    }

    [Test]
    public void BackendSelection()
    {
        Assert.That(Backend.FromName("simd"), Is.SameAs(SimdBackend.Instance));
        Assert.That(Backend.DefaultCpu, Is.SameAs(SimdBackend.Instance));
        Assert.That(SimdBackend.Instance.Name, Is.EqualTo("simd"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SimdBackend.Threads = 0);
    }
}
