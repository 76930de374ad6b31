using NativeNet.Backends;
using NativeNet.Backends.Simd;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>The direct depthwise kernels (SimdBackend.Depthwise.cs) against the Naive reference: planes wide enough for
/// the vector runs, channel multipliers, strides, dilations and asymmetric padding.</summary>
[TestFixture]
public class SimdDepthwiseAgreementTests
{
    private static IEnumerable<Conv2dGeometry> Geometries(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int c = rng.Next(1, 6) + 1, kg = made % 3 == 0 ? rng.Next(2, 4) : 1;
            int r = rng.Next(1, 6), s = rng.Next(1, 6), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int sh = made % 2 == 0 ? 1 : rng.Next(1, 4), sw = made % 2 == 0 ? 1 : rng.Next(1, 4);
            int h = rng.Next(1, 34), w = rng.Next(1, 34), ph = rng.Next(0, 4), pw = rng.Next(0, 4);
            if (h + 2 * ph < dh * (r - 1) + 1 || w + 2 * pw < dw * (s - 1) + 1) continue;
            made++;
            yield return new Conv2dGeometry(rng.Next(1, 4), c, h, w, c * kg, r, s, sh, sw, ph, pw, dh, dw, c);
        }
    }

    [Test]
    public void DepthwiseConvolutionAgreesWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int seed = 700;
        foreach (var g in Geometries(40, dtype == DType.Float32 ? 3 : 4))
        {
            var x = Random([g.N, g.C, g.H, g.W], dtype, ++seed);
            var w = Random([g.K, 1, g.R, g.S], dtype, ++seed);
            var bias = Random([g.K], dtype, ++seed);
            var dy = Random([g.N, g.K, g.OH, g.OW], dtype, ++seed);
            double abs = dtype == DType.Float32 ? 1e-4 : 1e-11;
            string name = $"{g} {dtype}";
            Agree([g.N, g.K, g.OH, g.OW], dtype, (be, y) => { Naive.Fill(y, double.NaN); be.Conv2dForward(x, w, bias, y, g); }, abs, 1e-4, "fwd " + name);
            Agree([g.N, g.C, g.H, g.W], dtype, (be, dx) => { Naive.Fill(dx, double.NaN); be.Conv2dBackwardData(dy, w, dx, g); }, abs, 1e-4, "bwd data " + name);
            Agree([g.K, 1, g.R, g.S], dtype, (be, dwt) => { Naive.Fill(dwt, double.NaN); be.Conv2dBackwardFilter(x, dy, dwt, null, g); }, abs * 10, 1e-4, "bwd filter " + name);
        }
    }

    [Test]
    public void DepthwiseConvolutionIsTheSameAtEveryThreadCount()
    {
        int saved = SimdBackend.Threads;
        try
        {
            // stride 1 and stride 2, enough work to be split over threads
            foreach (var g in new[] { new Conv2dGeometry(8, 16, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 16), new Conv2dGeometry(8, 16, 28, 28, 16, 3, 3, 2, 2, 1, 1, 1, 1, 16) })
            {
                var x = Random([g.N, g.C, g.H, g.W], DType.Float32, 1);
                var w = Random([g.K, 1, g.R, g.S], DType.Float32, 2);
                var dy = Random([g.N, g.K, g.OH, g.OW], DType.Float32, 3);
                float[][]? first = null;
                foreach (int t in new[] { 1, 2, 3 })
                {
                    SimdBackend.Threads = t;
                    var y = Tensor.Zeros([g.N, g.K, g.OH, g.OW], DType.Float32);
                    var dx = Tensor.Zeros([g.N, g.C, g.H, g.W], DType.Float32);
                    var dwt = Tensor.Zeros([g.K, 1, g.R, g.S], DType.Float32);
                    SimdB.Conv2dForward(x, w, null, y, g);
                    SimdB.Conv2dBackwardData(dy, w, dx, g);
                    SimdB.Conv2dBackwardFilter(x, dy, dwt, null, g);
                    float[][] results = [y.ToArray<float>(), dx.ToArray<float>(), dwt.ToArray<float>()];
                    if (first is null) first = results;
                    else for (int i = 0; i < 3; i++) Assert.That(results[i], Is.EqualTo(first[i]), $"result {i} at {t} threads, {g}");
                }
            }
        }
        finally { SimdBackend.Threads = saved; }
    }
}
