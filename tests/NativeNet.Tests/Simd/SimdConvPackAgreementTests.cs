using NativeNet.Backends;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>The dense convolution with im2col lowered straight into the GEMM's packed panels (SimdConvPack.cs) against
/// the Naive reference: more filter taps than one KC block (C·R·S &gt; 256, so the later blocks add into the tiles), filter
/// counts and column counts that leave edge tiles, strides and paddings, several images per chunk.</summary>
[TestFixture]
public class SimdConvPackAgreementTests
{
    private static IEnumerable<Conv2dGeometry> Geometries(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int r = rng.Next(1, 4), s = rng.Next(1, 4);
            // every other geometry has more than 256 taps: C·R·S ≥ 30·9 = 270 for 3×3
            int c = made % 2 == 0 ? rng.Next(30, 70) : rng.Next(1, 12);
            int h = rng.Next(1, 10), w = rng.Next(1, 10), ph = rng.Next(0, 2), pw = rng.Next(0, 2), st = rng.Next(1, 3);
            if (h + 2 * ph < r || w + 2 * pw < s) continue;
            made++;
            yield return new Conv2dGeometry(rng.Next(1, 7), c, h, w, rng.Next(1, 20), r, s, st, st, ph, pw);
        }
    }

    [Test]
    public void PackedForwardAgreesWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        int seed = 900;
        foreach (var g in Geometries(24, dtype == DType.Float32 ? 5 : 6))
        {
            var x = Random([g.N, g.C, g.H, g.W], dtype, ++seed);
            var w = Random([g.K, g.C, g.R, g.S], dtype, ++seed);
            var bias = Random([g.K], dtype, ++seed);
            var dy = Random([g.N, g.K, g.OH, g.OW], dtype, ++seed);
            double abs = dtype == DType.Float32 ? 1e-3 : 1e-10;
            string name = $"{g} {dtype}";
            Agree([g.N, g.K, g.OH, g.OW], dtype, (be, y) => { Naive.Fill(y, double.NaN); be.Conv2dForward(x, w, bias, y, g); }, abs, 1e-4, "fwd " + name);
            Agree([g.K, g.C, g.R, g.S], dtype, (be, dwt) => { Naive.Fill(dwt, double.NaN); be.Conv2dBackwardFilter(x, dy, dwt, null, g); }, abs * 10, 1e-4, "bwd filter " + name);
        }
    }
}
