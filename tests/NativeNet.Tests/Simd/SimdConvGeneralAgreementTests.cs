using NativeNet.Backends;
using NativeNet.Backends.Simd;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>Dilated, grouped and depthwise convolutions (SimdBackend.ConvGeneral.cs) against the Naive reference over random geometries.</summary>
[TestFixture]
public class SimdConvGeneralAgreementTests
{
    /// <summary>Random valid geometries: per-axis kernel, stride, padding and dilation, groups dividing channels and filters.</summary>
    private static IEnumerable<Conv2dGeometry> Geometries(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int groups = rng.Next(1, 5), cg = rng.Next(1, 4), kg = rng.Next(1, 4);
            if (made % 4 == 0) (cg, kg) = (1, 1); // depthwise
            int r = rng.Next(1, 4), s = rng.Next(1, 4), dh = rng.Next(1, 4), dw = rng.Next(1, 4);
            if (groups == 1 && dh == 1 && dw == 1) dh = 2; // the dense undilated case is the other path's
            int h = rng.Next(1, 12), w = rng.Next(1, 12), ph = rng.Next(0, 3), pw = rng.Next(0, 3);
            int sh = rng.Next(1, 4), sw = rng.Next(1, 4);
            if (h + 2 * ph < dh * (r - 1) + 1 || w + 2 * pw < dw * (s - 1) + 1) continue;
            made++;
            yield return new Conv2dGeometry(rng.Next(1, 4), groups * cg, h, w, groups * kg, r, s, sh, sw, ph, pw, dh, dw, groups);
        }
    }

    [Test]
    public void GeneralConvolutionAgreesWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int seed = 100;
        foreach (var g in Geometries(60, dtype == DType.Float32 ? 1 : 2))
        {
            var x = Random([g.N, g.C, g.H, g.W], dtype, ++seed);
            var w = Random([g.K, g.GroupChannels, g.R, g.S], dtype, ++seed);
            var bias = Random([g.K], dtype, ++seed);
            var dy = Random([g.N, g.K, g.OH, g.OW], dtype, ++seed);
            double abs = dtype == DType.Float32 ? 1e-4 : 1e-11;
            string name = $"{g} {dtype}";
            Agree([g.N, g.K, g.OH, g.OW], dtype, (be, y) => be.Conv2dForward(x, w, bias, y, g), abs, 1e-4, "fwd " + name);
            Agree([g.N, g.K, g.OH, g.OW], dtype, (be, y) => be.Conv2dForward(x, w, null, y, g), abs, 1e-4, "fwd no bias " + name);
            Agree([g.N, g.C, g.H, g.W], dtype, (be, dx) => { Naive.Fill(dx, double.NaN); be.Conv2dBackwardData(dy, w, dx, g); }, abs, 1e-4, "bwd data " + name);
            Agree([g.K, g.GroupChannels, g.R, g.S], dtype, (be, dwt) => { Naive.Fill(dwt, double.NaN); be.Conv2dBackwardFilter(x, dy, dwt, null, g); }, abs * 10, 1e-4, "bwd filter " + name);
            Agree([g.K], dtype, (be, db) => be.Conv2dBackwardFilter(x, dy, Tensor.Zeros([g.K, g.GroupChannels, g.R, g.S], dtype), db, g), abs * 10, 1e-4, "bwd bias " + name);
        }
    }

    [Test]
    public void PlaneGatherAndScatterAgreeWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 30; trial++)
        {
            int planes = rng.Next(1, 40), inPlane = rng.Next(1, 50), outPlane = rng.Next(1, 60), taps = rng.Next(1, 5);
            bool perPlane = trial % 2 == 1, weighted = trial % 3 != 0;
            var map = new PlaneMap(planes, inPlane, outPlane, taps, perPlane);
            var index = Tensor.FromArray(Enumerable.Range(0, (int)map.IndexCount).Select(_ => rng.Next(inPlane)).ToArray());
            var weight = weighted ? Random([outPlane * taps], dtype, 1000 + trial) : null;
            var x = Random([planes, inPlane], dtype, 2000 + trial);
            var dy = Random([planes, outPlane], dtype, 3000 + trial);
            double abs = dtype == DType.Float32 ? 1e-5 : 1e-12;
            string name = $"{map} weighted {weighted} {dtype}";
            Agree([planes, outPlane], dtype, (be, y) => be.PlaneGather(x, index, weight, y, map), abs, 1e-5, "gather " + name);
            Agree([planes, inPlane], dtype, (be, dx) => { Naive.Fill(dx, double.NaN); be.PlaneScatter(dy, index, weight, dx, map, accumulate: true); }, abs, 1e-5, "scatter-add " + name);
        }
    }

    [Test]
    public void MaxPoolIndicesAgreeWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int seed = 500;
        foreach (var (k, st, pad, h, w) in new[] { (2, 2, 0, 6, 6), (3, 2, 1, 7, 9), (3, 1, 1, 5, 4), (2, 1, 0, 3, 8), (4, 3, 2, 11, 10) })
        {
            var g = Pool2dGeometry.Create("MaxPool2d", [3, 4, h, w], k, k, st, st, pad, pad, floor: true);
            // ties (few distinct values) and NaNs, where the rule for the first maximum matters
            var x = Random([3, 4, h, w], dtype, ++seed, specials: true, ties: true);
            Agree([3, 4, g.OH, g.OW], DType.Int32, (be, idx) => be.MaxPool2dIndices(x, idx, g), 0, 0, $"indices {g} {dtype}");
        }
    }

    [Test]
    public void GeneralConvolutionIsTheSameAtEveryThreadCount()
    {
        int saved = SimdBackend.Threads;
        try
        {
            // depthwise, enough work for the threaded paths (images in parallel, threaded GEMMs for the filter gradient)
            var g = new Conv2dGeometry(6, 32, 20, 20, 32, 3, 3, 1, 1, 2, 2, 2, 2, 32);
            var x = Random([g.N, g.C, g.H, g.W], DType.Float32, 1);
            var w = Random([g.K, g.GroupChannels, g.R, g.S], DType.Float32, 2);
            var dy = Random([g.N, g.K, g.OH, g.OW], DType.Float32, 3);
            float[][]? first = null;
            foreach (int t in new[] { 1, 2, 3 })
            {
                SimdBackend.Threads = t;
                var y = Tensor.Zeros([g.N, g.K, g.OH, g.OW], DType.Float32);
                var dx = Tensor.Zeros([g.N, g.C, g.H, g.W], DType.Float32);
                var dwt = Tensor.Zeros([g.K, g.GroupChannels, g.R, g.S], DType.Float32);
                SimdB.Conv2dForward(x, w, null, y, g);
                SimdB.Conv2dBackwardData(dy, w, dx, g);
                SimdB.Conv2dBackwardFilter(x, dy, dwt, null, g);
                float[][] results = [y.ToArray<float>(), dx.ToArray<float>(), dwt.ToArray<float>()];
                if (first is null) first = results;
                else for (int i = 0; i < 3; i++) Assert.That(results[i], Is.EqualTo(first[i]), $"result {i} at {t} threads");
            }
        }
        finally { SimdBackend.Threads = saved; }
    }
}
