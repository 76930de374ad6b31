using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Backends.Simd;
using NUnit.Framework;

namespace NativeNet.Tests.Simd;

/// <summary>Random inputs with special values, and value comparison against the Naive reference.</summary>
internal static class SimdTestUtil
{
    public static readonly NaiveBackend Naive = NaiveBackend.Instance;
    public static readonly SimdBackend SimdB = SimdBackend.Instance;
    public static readonly DType[] FloatTypes = [DType.Float32, DType.Float64];

    private static readonly double[] Specials = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 1, -1, 1e-30, 3e4];

    /// <summary>Uniform values in [lo, hi); with <paramref name="specials"/>, about one element in eight is a special value.</summary>
    public static Tensor Random(int[] shape, DType dtype, int seed, double lo = -3, double hi = 3, bool specials = false, bool ties = false)
    {
        var rng = new Random(seed);
        int n = ShapeUtil.Numel(shape);
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = lo + (hi - lo) * rng.NextDouble();
            if (ties) v[i] = Math.Round(v[i] * 2) / 2;
            if (specials && rng.Next(8) == 0) v[i] = Specials[rng.Next(Specials.Length)];
        }
        return dtype == DType.Float32 ? Tensor.FromArray(v.Select(d => (float)d).ToArray(), shape) : Tensor.FromArray(v, shape);
    }

    /// <summary>Row-major values of any view, read without going through the backend under test.</summary>
    public static double[] Values(Tensor t)
    {
        var r = new double[t.Numel];
        int i = 0;
        var index = new int[t.Rank];
        for (int k = 0; k < t.Numel; k++)
        {
            int off = t.Offset;
            for (int d = 0; d < t.Rank; d++) off += index[d] * t.Strides[d];
            r[i++] = t.DType switch
            {
                DType.Float32 => t.HostData<float>()[off],
                DType.Float64 => t.HostData<double>()[off],
                _ => t.HostData<int>()[off],
            };
            for (int d = t.Rank - 1; d >= 0; d--)
            {
                if (++index[d] < t.Shape[d]) break;
                index[d] = 0;
            }
        }
        return r;
    }

    /// <summary>Default tolerance: float 1e-5 + 1e-4·|ref|, double 1e-12 + 1e-10·|ref|.</summary>
    public static (double Abs, double Rel) Tol(DType dtype) => dtype == DType.Float32 ? (1e-5, 1e-4) : (1e-12, 1e-10);

    /// <summary>Asserts equal NaN positions and |got − want| ≤ abs + rel·|want| elsewhere (infinities must match exactly).</summary>
    public static void AssertClose(Tensor got, Tensor want, double abs, double rel, string context)
    {
        Assert.That(got.ShapeArray, Is.EqualTo(want.ShapeArray), context);
        var g = Values(got);
        var w = Values(want);
        for (int i = 0; i < g.Length; i++)
        {
            bool ok = double.IsNaN(w[i]) ? double.IsNaN(g[i]) : g[i] == w[i] || Math.Abs(g[i] - w[i]) <= abs + rel * Math.Abs(w[i]);
            if (!ok) Assert.Fail($"{context}: element {i} of {g.Length}: simd {g[i]:R} vs naive {w[i]:R}");
        }
    }

    public static void AssertClose(Tensor got, Tensor want, DType dtype, string context)
    {
        var (a, r) = Tol(dtype);
        AssertClose(got, want, a, r, context);
    }

    /// <summary>Runs <paramref name="run"/> with each backend into fresh outputs of the given shape and compares.</summary>
    public static void Agree(int[] outShape, DType dtype, Action<Backend, Tensor> run, double abs, double rel, string context)
    {
        var got = Tensor.Zeros(outShape, dtype);
        var want = Tensor.Zeros(outShape, dtype);
        run(SimdB, got);
        run(Naive, want);
        AssertClose(got, want, abs, rel, context);
    }

    /// <summary>
    /// GELU′ (<see cref="BinaryOp.GeluGrad"/>, dy and x of the output's shape) on both backends. Double: 1e-10 relative.
    /// Float: within 1e-37 + 1e-6·|dy|·(Φ(x) + |x|·φ(x)), i.e. relative to the two terms of dy·(Φ(x) + x·φ(x)) rather
    /// than to their sum. A float evaluation computes each term to a few ulps (the Simd kernel: within 4.2e-7 of the terms
    /// over 10⁶ points, 1e-6 being 17 ulps of 2⁻²⁴), and the rounding of a sum is bounded by its terms' magnitude: near
    /// GELU′'s zero at x ≈ −0.7518, where Φ(x) ≈ −x·φ(x) ≈ 0.226, no float kernel is within 1e-6 of the vanishing sum.
    /// </summary>
    public static void AgreeGeluGrad(Tensor dy, Tensor x, DType dtype, string context)
    {
        if (dtype == DType.Float64)
        {
            Agree(x.ShapeArray, dtype, (be, y) => be.Binary(BinaryOp.GeluGrad, dy, x, y, 0), 1e-300, 1e-10, context);
            return;
        }
        var got = Tensor.Zeros(x.ShapeArray, dtype);
        var want = Tensor.Zeros(x.ShapeArray, dtype);
        SimdB.Binary(BinaryOp.GeluGrad, dy, x, got, 0);
        Naive.Binary(BinaryOp.GeluGrad, dy, x, want, 0);
        var g = Values(got);
        var w = Values(want);
        var d = Values(dy);
        var v = Values(x);
        for (int i = 0; i < g.Length; i++)
        {
            double terms = Math.Abs(d[i]) * (SmoothMath.NormalCdf(v[i]) + Math.Abs(v[i]) * SmoothMath.OneOverSqrt2Pi * Math.Exp(-0.5 * v[i] * v[i]));
            bool ok = double.IsNaN(w[i]) ? double.IsNaN(g[i])
                : double.IsInfinity(w[i]) || double.IsInfinity(g[i]) ? g[i] == w[i]
                : Math.Abs(g[i] - w[i]) <= 1e-37 + 1e-6 * terms;
            if (!ok) Assert.Fail($"{context}: element {i} of {g.Length} (dy {d[i]:R}, x {v[i]:R}): simd {g[i]:R} vs naive {w[i]:R}");
        }
    }
}
