using FsCheck;
using FsCheck.Fluent;
using NativeNet.Backends;
using NativeNet.Backends.Simd;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>Reductions, softmax, GEMM, convolution and pooling of the Simd backend against the Naive reference.</summary>
[TestFixture]
public class SimdLayerAgreementTests
{
    private static readonly int[][] Rank3Shapes = [[3, 4, 5], [2, 33, 7], [1, 1, 1], [5, 1, 300], [7, 129, 1], [2, 3, 1000]];

    /// <summary>Float sums are compared with the double-accumulated reference relative to Σ|x| (the scale of rounding errors).</summary>
    private static void CheckReduce(Tensor x, int axis, DType dtype, string context)
    {
        var shape = x.ShapeArray;
        int outer = 1, inner = 1, dim = shape[axis];
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        double scale = Values(x).Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max() * dim;
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            if (dim == 0 && op != ReduceOp.Sum) continue;
            double abs = op == ReduceOp.Sum ? (dtype == DType.Float32 ? 1e-6 : 1e-14) * scale + 1e-30 : 0;
            Agree([outer * inner], dtype, (be, y) => be.Reduce(op, x, y, outer, dim, inner), abs, op == ReduceOp.Sum ? Tol(dtype).Rel : 0, $"{op} axis {axis} {context}");
        }
        Agree([outer * inner], DType.Int32, (be, y) => be.ArgMax(x, y, outer, dim, inner), 0, 0, $"ArgMax axis {axis} {context}");
    }

    [Test]
    public void ReductionsAlongEveryAxisOfRank3([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int seed = 0;
        foreach (var shape in Rank3Shapes)
        for (int axis = 0; axis < 3; axis++)
        {
            CheckReduce(Random(shape, dtype, ++seed, ties: true), axis, dtype, $"{ShapeUtil.Format(shape)} {dtype}");
            CheckReduce(Random(shape, dtype, ++seed, specials: true), axis, dtype, $"{ShapeUtil.Format(shape)} specials {dtype}");
        }
    }

    [Test]
    public void ArgMaxTiesZerosAndNaN()
    {
        var x = Tensor.FromArray(new float[] { -0f, 0f, 1, 1, float.NaN, 2, float.NaN, float.NegativeInfinity, float.NegativeInfinity, 0 }, 10);
        foreach (int n in new[] { 2, 4, 5, 7, 8, 10 })
        {
            var v = x.Narrow(0, 0, n).Contiguous();
            Agree([1], DType.Int32, (be, y) => be.ArgMax(v, y, 1, n, 1), 0, 0, $"ArgMax n={n}");
        }
        var longRow = Random([1000], DType.Float32, 3, ties: true);
        Agree([1], DType.Int32, (be, y) => be.ArgMax(longRow, y, 1, 1000, 1), 0, 0, "ArgMax long row");
    }

    [Test]
    public void SumOfAMillionFloatsStaysCloseToTheDoubleSum()
    {
        var x = Random([1 << 20], DType.Float32, 1, 0, 1);
        var got = Tensor.Zeros([1], DType.Float32);
        var want = Tensor.Zeros([1], DType.Float32);
        SimdB.Reduce(ReduceOp.Sum, x, got, 1, 1 << 20, 1);
        Naive.Reduce(ReduceOp.Sum, x, want, 1, 1 << 20, 1);
        // a naive float running sum is off by ~1e-4 relative here; blockwise summation stays at float resolution
        AssertClose(got, want, 0, 1e-6, "1M sum");
        var col = Random([1 << 16, 3], DType.Float32, 2, 0, 1);
        Agree([3], DType.Float32, (be, y) => be.Reduce(ReduceOp.Sum, col, y, 1, 1 << 16, 3), 0, 1e-6, "64K x 3 column sum");
    }

    [Test]
    public void SoftmaxAndLogSoftmaxWithExtremeLogits([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        var rows = new double[]
        {
            1e4, -1e4, 0, 3, 1e4, 2, -5, 7, 1, 0.5, 9999, 10000.5,
            double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity,
            double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity,
            1, 2, double.NaN, 3, 4, 5, 6, 7, 8, 9, 10, 11,
            0, -0.0, 1e-30, -1e4, -1e4, -1e4, 5, double.NegativeInfinity, 5, 5, 5, 5,
        };
        var x = dtype == DType.Float32 ? Tensor.FromArray(rows.Select(v => (float)v).ToArray(), 4, 12) : Tensor.FromArray(rows, 4, 12);
        var (abs, rel) = dtype == DType.Float32 ? (1e-6, 1e-5) : (1e-14, 1e-10);
        foreach (bool log in new[] { false, true })
        {
            Agree([4, 12], dtype, (be, y) => be.Softmax(x, y, 4, 12, 1, log), abs, rel, $"softmax rows log={log}");
            Agree([4, 12], dtype, (be, y) => be.Softmax(x, y, 1, 4, 12, log), abs, rel, $"softmax columns log={log}");
        }
    }

    [Test]
    public void SoftmaxForwardBackwardShapes([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        var (abs, rel) = dtype == DType.Float32 ? (1e-6, 1e-4) : (1e-14, 1e-10);
        foreach (var (outer, dim, inner) in new[] { (1, 1, 1), (3, 10, 1), (7, 37, 1), (2, 1000, 1), (3, 5, 4), (2, 17, 33), (300, 300, 1) })
        {
            int[] shape = [outer, dim, inner];
            var x = Random(shape, dtype, outer * dim + inner, -6, 6);
            var dy = Random(shape, dtype, outer + dim * inner, -1, 1);
            foreach (bool log in new[] { false, true })
            {
                var y = Tensor.Zeros(shape, dtype);
                Naive.Softmax(x, y, outer, dim, inner, log);
                Agree(shape, dtype, (be, o) => be.Softmax(x, o, outer, dim, inner, log), abs, rel, $"softmax {outer}x{dim}x{inner} log={log}");
                Agree(shape, dtype, (be, o) => be.SoftmaxBackward(y, dy, o, outer, dim, inner, log), abs, rel, $"softmax bwd {outer}x{dim}x{inner} log={log}");
            }
        }
    }

    [Test]
    public void GemmBatchedAllTransposes([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        foreach (var (batch, m, n, k) in new[] { (1, 1, 1, 1), (3, 5, 7, 9), (2, 33, 17, 65), (4, 8, 8, 8), (1, 70, 130, 40), (2, 0, 3, 4), (2, 3, 4, 0) })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (double beta in new[] { 0.0, 1.0, 0.5 })
        {
            var a = Random(ta ? [batch, k, m] : [batch, m, k], dtype, m + k);
            var b = Random(tb ? [batch, n, k] : [batch, k, n], dtype, n + k + 1);
            var c0 = Random([batch, m, n], dtype, 5);
            var ma = new MatrixOperand(a.Storage, 0, ta ? m : k, m * k, ta);
            var mb = new MatrixOperand(b.Storage, 0, tb ? k : n, k * n, tb);
            Agree([batch, m, n], dtype, (be, c) =>
            {
                Naive.Copy(c0, c);
                be.Gemm(dtype, batch, m, n, k, ma, mb, c.Storage, 0, n, m * n, beta);
            }, dtype == DType.Float32 ? 1e-4 : 1e-11, Tol(dtype).Rel, $"gemm b={batch} {m}x{n}x{k} ta={ta} tb={tb} beta={beta}");
        }
    }

    private static readonly (int N, int C, int H, int W, int K, int R, int S, int Stride, int Pad)[] ConvCases =
    [
        (1, 1, 5, 5, 1, 1, 1, 1, 0),
        (3, 3, 8, 7, 5, 1, 1, 1, 0),
        (3, 3, 8, 8, 5, 1, 1, 2, 0),
        (1, 5, 9, 9, 7, 3, 3, 1, 1),
        (3, 17, 7, 6, 19, 3, 3, 1, 0),
        (3, 3, 9, 9, 4, 3, 3, 2, 1),
        (1, 2, 11, 11, 3, 5, 5, 1, 2),
        (3, 4, 10, 10, 6, 5, 5, 1, 0),
        (3, 3, 13, 13, 33, 5, 5, 2, 2),
        (2, 1, 28, 28, 8, 3, 3, 1, 1),
        (2, 3, 6, 6, 2, 3, 3, 1, 2),
        (9, 4, 6, 6, 3, 3, 3, 1, 1),
        // several images per chunk, the last chunk shorter: 37 = 9·4 + 1, 7 = 4 + 3 (dW formed transposed: 9 taps < 16 filters), 11 = 6 + 5 (1×1)
        (37, 8, 14, 14, 16, 3, 3, 1, 1),
        (7, 1, 12, 12, 16, 3, 3, 1, 1),
        (11, 6, 10, 10, 4, 1, 1, 1, 0),
        // Winograd F(2,3) in float (3×3, stride 1, ≥ 16 channels): several chunks with a shorter last one, odd and even
        // output sizes, tile rows wider than one vector, and the paddings 0, 1, 2 (backward data pads 2, 1, 0)
        (9, 32, 14, 14, 64, 3, 3, 1, 1),
        (2, 16, 9, 21, 20, 3, 3, 1, 2),
        (3, 20, 8, 19, 16, 3, 3, 1, 0),
        // the direct one-channel filter gradient: an odd filter count, a tail of positions past the last full vector, stride 2
        (3, 1, 13, 12, 5, 3, 3, 1, 1),
        (2, 1, 9, 7, 3, 3, 3, 2, 1),
    ];

    [Test]
    public void Conv2dForwardAndBackward([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int seed = 0;
        foreach (var c in ConvCases)
        {
            var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.K, c.R, c.S, c.Stride, c.Stride, c.Pad, c.Pad);
            var x = Random([c.N, c.C, c.H, c.W], dtype, ++seed);
            var w = Random([c.K, c.C, c.R, c.S], dtype, ++seed);
            var bias = Random([c.K], dtype, ++seed);
            var dy = Random([c.N, c.K, g.OH, g.OW], dtype, ++seed);
            double abs = dtype == DType.Float32 ? 1e-4 : 1e-11;
            string name = $"{g} {dtype}";
            Agree([c.N, c.K, g.OH, g.OW], dtype, (be, y) => be.Conv2dForward(x, w, bias, y, g), abs, 1e-4, "fwd " + name);
            Agree([c.N, c.K, g.OH, g.OW], dtype, (be, y) => be.Conv2dForward(x, w, null, y, g), abs, 1e-4, "fwd no bias " + name);
            Agree([c.N, c.C, c.H, c.W], dtype, (be, dx) => { Naive.Fill(dx, double.NaN); be.Conv2dBackwardData(dy, w, dx, g); }, abs, 1e-4, "bwd data " + name);
            Agree([c.K, c.C, c.R, c.S], dtype, (be, dw) => { Naive.Fill(dw, double.NaN); be.Conv2dBackwardFilter(x, dy, dw, null, g); }, abs * 10, 1e-4, "bwd filter " + name);
            Agree([c.K], dtype, (be, db) =>
            {
                var dw = Tensor.Zeros([c.K, c.C, c.R, c.S], dtype);
                be.Conv2dBackwardFilter(x, dy, dw, db, g);
            }, abs * 10, 1e-4, "bwd bias " + name);
        }
    }

    [Test]
    public void Conv2dIsTheSameAtEveryThreadCount([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int saved = SimdBackend.Threads;
        try
        {
            // big enough to run chunks on several threads; 37 images give chunks that do not divide evenly over 2 or 3;
            // the second geometry takes the Winograd path in float (16 channels), whose chunks split images mid-row; the
            // third the direct one-channel filter gradient, which splits the filters over threads
            foreach (var g in new[] { new Conv2dGeometry(37, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1), new Conv2dGeometry(13, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1),
                         new Conv2dGeometry(20, 1, 28, 27, 7, 3, 3, 1, 1, 1, 1) })
                SameAtEveryThreadCount(dtype, g);
        }
        finally { SimdBackend.Threads = saved; }
    }

    private static void SameAtEveryThreadCount(DType dtype, Conv2dGeometry g)
    {
        var x = Random([g.N, g.C, g.H, g.W], dtype, 1);
        var w = Random([g.K, g.C, g.R, g.S], dtype, 2);
        var bias = Random([g.K], dtype, 3);
        var dy = Random([g.N, g.K, g.OH, g.OW], dtype, 4);
        Tensor[]? first = null;
        foreach (int t in new[] { 1, 2, 3 })
        {
            SimdBackend.Threads = t;
            var y = Tensor.Zeros([g.N, g.K, g.OH, g.OW], dtype);
            var dx = Tensor.Zeros([g.N, g.C, g.H, g.W], dtype);
            var dw = Tensor.Zeros([g.K, g.C, g.R, g.S], dtype);
            var db = Tensor.Zeros([g.K], dtype);
            SimdB.Conv2dForward(x, w, bias, y, g);
            SimdB.Conv2dBackwardData(dy, w, dx, g);
            SimdB.Conv2dBackwardFilter(x, dy, dw, db, g);
            Tensor[] results = [y, dx, dw, db];
            if (first is null) first = results;
            else
            {
                string[] names = ["y", "dx", "dw", "db"];
                for (int i = 0; i < results.Length; i++) AssertClose(results[i], first[i], 0, 0, $"conv {names[i]} {g} at {t} threads vs 1");
            }
        }
    }

    private static readonly (int N, int C, int H, int W, int K, int Stride, int Pad)[] PoolCases =
    [
        (2, 3, 8, 8, 2, 2, 0),
        (64, 3, 28, 28, 2, 2, 0),
        (1, 1, 2, 2, 2, 2, 0),
        (3, 5, 6, 30, 2, 2, 0),
        (2, 3, 7, 7, 3, 2, 0),
        (2, 3, 7, 9, 3, 2, 1),
        (2, 2, 6, 6, 3, 1, 1),
        (1, 2, 8, 8, 2, 2, 1),
        (2, 3, 9, 9, 3, 3, 0),
        (1, 1, 40, 44, 4, 4, 2),
    ];

    [Test]
    public void PoolingForwardAndBackward([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype, [Values] PoolMode mode)
    {
        int seed = 0;
        foreach (var c in PoolCases)
        foreach (bool specials in new[] { false, true })
        {
            var g = new Pool2dGeometry(c.N, c.C, c.H, c.W, c.K, c.K, c.Stride, c.Stride, c.Pad, c.Pad);
            // ties (values on a 0.5 grid) check that the gradient goes to the first maximum
            var x = Random([c.N, c.C, c.H, c.W], dtype, ++seed, -2, 2, specials, ties: true);
            var dy = Random([c.N, c.C, g.OH, g.OW], dtype, ++seed);
            var y = Tensor.Zeros([c.N, c.C, g.OH, g.OW], dtype);
            Naive.Pool2dForward(mode, x, y, g);
            string name = $"{mode} {g} specials={specials} {dtype}";
            var (abs, rel) = mode == PoolMode.Max ? (0.0, 0.0) : Tol(dtype);
            Agree([c.N, c.C, g.OH, g.OW], dtype, (be, o) => be.Pool2dForward(mode, x, o, g), abs, rel, "fwd " + name);
            Agree([c.N, c.C, c.H, c.W], dtype, (be, dx) => { Naive.Fill(dx, double.NaN); be.Pool2dBackward(mode, x, y, dy, dx, g); }, abs, rel, "bwd " + name);
        }
    }

    [Test]
    public void MaxPoolGradientGoesToFirstOfEqualCorners([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        // every 2x2 window holds the same four values in different orders, including -0/+0 and -inf ties
        double[][] windows = [[1, 1, 1, 1], [0, -0.0, 0, -0.0], [-0.0, 0, 0, 0], [double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity],
            [2, 5, 5, 1], [double.NaN, 3, double.NaN, 1], [3, double.NaN, 4, double.NaN], [1, 2, 3, 3]];
        int ow = windows.Length;
        var v = new double[2 * 2 * ow];
        for (int j = 0; j < ow; j++)
        {
            v[2 * j] = windows[j][0]; v[2 * j + 1] = windows[j][1];
            v[2 * ow + 2 * j] = windows[j][2]; v[2 * ow + 2 * j + 1] = windows[j][3];
        }
        var x = dtype == DType.Float32 ? Tensor.FromArray(v.Select(d => (float)d).ToArray(), 1, 1, 2, 2 * ow) : Tensor.FromArray(v, 1, 1, 2, 2 * ow);
        var g = new Pool2dGeometry(1, 1, 2, 2 * ow, 2, 2, 2, 2, 0, 0);
        var dy = Random([1, 1, 1, ow], dtype, 3, 1, 2);
        var y = Tensor.Zeros([1, 1, 1, ow], dtype);
        Naive.Pool2dForward(PoolMode.Max, x, y, g);
        Agree([1, 1, 2, 2 * ow], dtype, (be, dx) => be.Pool2dBackward(PoolMode.Max, x, y, dy, dx, g), 0, 0, "first max");
    }

    [Test]
    public void RandomBroadcastShapesAgree()
    {
        // rank 1..4, each dimension 1..5 (sometimes 17 to cross vector widths); each operand keeps or drops leading
        // dimensions and collapses some to 1
        var gen =
            from rank in Gen.Choose(1, 4)
            from dims in Gen.Elements(1, 2, 3, 4, 5, 17).ArrayOf(rank)
            from maskA in Gen.Choose(0, 15)
            from maskB in Gen.Choose(0, 15)
            from dropA in Gen.Choose(0, rank)
            from op in Gen.Elements(Enum.GetValues<BinaryOp>())
            from f64 in Gen.Elements(false, true)
            select (dims, maskA, maskB, dropA, op, f64);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(Arb.From(gen), t =>
        {
            var (dims, maskA, maskB, dropA, op, f64) = t;
            var dtype = f64 ? DType.Float64 : DType.Float32;
            int[] sa = dims.Skip(dropA).Select((d, i) => (maskA >> i & 1) == 1 ? 1 : d).ToArray();
            int[] sb = dims.Select((d, i) => (maskB >> i & 1) == 1 ? 1 : d).ToArray();
            var shape = ShapeUtil.Broadcast("test", sa, sb);
            using var ea = Raw.BroadcastTo("t", Random(sa, dtype, maskA * 31 + dropA, specials: true, ties: true), shape);
            using var eb = Raw.BroadcastTo("t", Random(sb, dtype, maskB * 17 + 5, specials: true, ties: true), shape);
            double rel = op is BinaryOp.Pow or BinaryOp.EluGrad or BinaryOp.GeluGrad or BinaryOp.GeluTanhGrad or BinaryOp.SiluGrad ? (f64 ? 1e-10 : 1e-6) : 0;
            if (op == BinaryOp.GeluGrad) AgreeGeluGrad(ea, eb, dtype, $"{op} {ShapeUtil.Format(sa)} with {ShapeUtil.Format(sb)}");
            else Agree(shape, dtype, (be, y) => be.Binary(op, ea, eb, y, 0.3), rel == 0 ? 0 : 1e-300, rel, $"{op} {ShapeUtil.Format(sa)} with {ShapeUtil.Format(sb)}");
            return true;
        }));
    }

    [Test]
    public void RandomReductionShapesAgree()
    {
        var gen =
            from rank in Gen.Choose(1, 4)
            from dims in Gen.Elements(1, 2, 3, 5, 16, 33, 70).ArrayOf(rank)
            from axis in Gen.Choose(0, rank - 1)
            from seed in Gen.Choose(0, 1000)
            from f64 in Gen.Elements(false, true)
            select (dims, axis, seed, f64);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(50), Prop.ForAll(Arb.From(gen), t =>
        {
            var (dims, axis, seed, f64) = t;
            var dtype = f64 ? DType.Float64 : DType.Float32;
            CheckReduce(Random(dims, dtype, seed, ties: seed % 2 == 0), axis, dtype, $"{ShapeUtil.Format(dims)} seed {seed}");
            return true;
        }));
    }
}
