using FsCheck;
using FsCheck.Fluent;
using NativeNet.Backends;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>The Simd row normalisation (LayerNorm, GroupNorm) against the Naive reference over random shapes.</summary>
[TestFixture]
public class NormAgreementTests
{
    [Test]
    public void RandomRowShapesAgree()
    {
        // rows 0..40, cols 1..300 (crossing the vector widths), shifted and scaled rows; big enough cases split over threads.
        var gen =
            from rows in Gen.Choose(0, 40)
            from cols in Gen.Elements(1, 2, 3, 7, 8, 15, 16, 17, 31, 64, 100, 257, 300)
            from shift in Gen.Choose(-50, 50)
            from f64 in Gen.Elements(false, true)
            select (rows, cols, shift, f64);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(80), Prop.ForAll(Arb.From(gen), t =>
        {
            var (rows, cols, shift, f64) = t;
            var dtype = f64 ? DType.Float64 : DType.Float32;
            var x = Random([rows, cols], dtype, rows * 1000 + cols, shift - 3, shift + 3);
            var g = Random([rows, cols], dtype, rows * 7 + cols + 1);
            var outputs = new Dictionary<string, (Tensor XHat, Tensor Rstd, Tensor Dx)>();
            foreach (var backend in new Backend[] { Naive, SimdB })
            {
                var xHat = Tensor.Zeros([rows, cols], dtype);
                var rstd = Tensor.Zeros([rows], dtype);
                var dx = Tensor.Zeros([rows, cols], dtype);
                backend.NormalizeRows(x, xHat, rstd, 1e-5);
                backend.NormalizeRowsBackward(g, xHat, rstd, dx);
                outputs[backend.Name] = (xHat, rstd, dx);
            }
            var (want, got) = (outputs[Naive.Name], outputs[SimdB.Name]);
            string context = $"[{rows}, {cols}] shift {shift} {dtype}";
            // Summation order differs, so the mean differs by a few ulp of |x| ≤ |shift| + 3, which x̂ and dx see scaled by rstd.
            double maxRstd = rows == 0 ? 1 : want.Rstd.ToArray<double>().Max();
            double ulp = f64 ? 2.2e-16 : 1.2e-7;
            double abs = 1e-12 + 8 * ulp * (Math.Abs(shift) + 3) * maxRstd, rel = f64 ? 1e-10 : 1e-4;
            AssertClose(got.XHat, want.XHat, abs, rel, "x̂ " + context);
            AssertClose(got.Rstd, want.Rstd, abs, rel, "rstd " + context);
            // dx = rstd·(g − mean g − x̂·mean(g·x̂)) with |g| < 3: an error δ in x̂ reaches dx as up to about 2·3·rstd·δ.
            AssertClose(got.Dx, want.Dx, abs * (1 + 12 * maxRstd), rel, "dx " + context);
            return true;
        }));
    }

    [Test]
    public void RandomAffineRowShapesAgree()
    {
        // The fused LayerNorm rows (x̂·γ + β forward; dx, dγ, dβ backward) against the Naive composition of its own ops,
        // with and without each parameter and each wanted gradient; rows up to 200 cross the float block sums of dγ, dβ.
        var gen =
            from rows in Gen.Elements(0, 1, 5, 31, 32, 33, 200)
            from cols in Gen.Elements(1, 3, 8, 17, 64, 128, 257)
            from flags in Gen.Choose(0, 31)
            from f64 in Gen.Elements(false, true)
            select (rows, cols, flags, f64);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(Arb.From(gen), t =>
        {
            var (rows, cols, flags, f64) = t;
            var dtype = f64 ? DType.Float64 : DType.Float32;
            bool hasWeight = (flags & 1) != 0, hasBias = (flags & 2) != 0, wantDx = (flags & 4) != 0 || flags < 8;
            bool wantDw = hasWeight && (flags & 8) != 0, wantDb = hasBias && (flags & 16) != 0;
            var x = Random([rows, cols], dtype, rows * 1000 + cols, -3, 3);
            var w = hasWeight ? Random([cols], dtype, cols + 5) : null;
            var b = hasBias ? Random([cols], dtype, cols + 6) : null;
            var g = Random([rows, cols], dtype, rows * 7 + cols + 1);
            var outputs = new Dictionary<string, Tensor?[]>();
            foreach (var backend in new Backend[] { Naive, SimdB })
            {
                var y = Tensor.Zeros([rows, cols], dtype);
                var xHat = Tensor.Zeros([rows, cols], dtype);
                var rstd = Tensor.Zeros([rows], dtype);
                var dx = wantDx ? Tensor.Zeros([rows, cols], dtype) : null;
                var dw = wantDw ? Tensor.Zeros([cols], dtype) : null;
                var db = wantDb ? Tensor.Zeros([cols], dtype) : null;
                backend.NormalizeRowsAffine(x, w, b, y, xHat, rstd, 1e-5);
                backend.NormalizeRowsAffineBackward(g, xHat, rstd, w, dx, dw, db);
                outputs[backend.Name] = [y, xHat, rstd, dx, dw, db];
            }
            var (want, got) = (outputs[Naive.Name], outputs[SimdB.Name]);
            string[] names = ["y", "x̂", "rstd", "dx", "dγ", "dβ"];
            // dγ and dβ sum up to 200 rows of |g·x̂| < 3·3: float block sums round at about 32·9·6e-8 absolute.
            double abs = f64 ? 1e-11 : 1e-4, rel = f64 ? 1e-10 : 1e-4;
            for (int i = 0; i < names.Length; i++)
                if (want[i] is { } expected) AssertClose(got[i]!, expected, abs, rel, $"{names[i]} [{rows}, {cols}] flags {flags} {dtype}");
            return true;
        }));
    }

    [Test]
    public void LargeInputSplitOverThreadsAgrees([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        var x = Random([300, 513], dtype, 5);
        var w = Random([513], dtype, 6);
        var b = Random([513], dtype, 7);
        var dy = Random([300, 513], dtype, 8);
        double[][] Run(Backend backend)
        {
            using var _ = Backend.Use(backend);
            using var scope = new TensorScope();
            var xs = x.Clone().RequireGrad();
            var ws = w.Clone().RequireGrad();
            var bs = b.Clone().RequireGrad();
            var y = Ops.LayerNorm(xs, [513], ws, bs);
            y.Backward(dy);
            return [y.ToArray<double>(), xs.Grad!.ToArray<double>(), ws.Grad!.ToArray<double>(), bs.Grad!.ToArray<double>()];
        }
        var want = Run(Naive);
        var got = Run(SimdB);
        var (abs, rel) = dtype == DType.Float64 ? (1e-11, 1e-9) : (1e-4, 1e-4);
        for (int k = 0; k < want.Length; k++)
            for (int i = 0; i < want[k].Length; i++)
                Assert.That(Math.Abs(got[k][i] - want[k][i]), Is.LessThanOrEqualTo(abs + rel * Math.Abs(want[k][i])), $"output {k} element {i}");
    }
}
