using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

/// <summary>
/// A smooth activation in double precision, once as a scalar (the <see cref="SmoothMath"/> reference) and once on four
/// lanes: the same expansions, so the two agree to rounding. The operator structs below widen float to double and
/// split or pad the other vector widths, so each activation's vector code is written once.
/// </summary>
internal interface IDoubleActivation
{
    static abstract double Invoke(double x, double a, double b);
    static abstract Vector256<double> Invoke(Vector256<double> x, double a, double b);
}

/// <summary>The fused backward of a smooth activation: dy·f'(x), scalar and on four lanes.</summary>
internal interface IDoubleActivationGrad
{
    static abstract double Invoke(double dy, double x);
    static abstract Vector256<double> Invoke(Vector256<double> dy, Vector256<double> x);
}

internal static class SimdActivations
{
    /// <summary>Φ(x) on four lanes, the expansions of <see cref="SmoothMath.NormalCdf"/> evaluated on both sides and selected.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> NormalCdf(Vector256<double> x)
    {
        var z = Vector256.Abs(x) * Vector256.Create(SmoothMath.OneOverSqrt2);
        var e = Vector256.Exp(-(z * z));
        var inSeries = Vector256.LessThan(z, Vector256.Create(SmoothMath.SeriesLimit));
        var tail = Vector256.Create(0.5);
        if (inSeries != Vector256<double>.Zero)
        {
            var z2 = Vector256.Create(2.0) * z * z;
            var s = Vector256<double>.One;
            var coefficients = SmoothMath.SeriesCoefficients;
            for (int k = SmoothMath.Terms; k >= 1; k--) s = Vector256<double>.One + z2 * Vector256.Create(coefficients[k]) * s;
            var seriesTail = Vector256.Create(0.5) - Vector256.Create(0.5) * (Vector256.Create(SmoothMath.TwoOverSqrtPi) * e * z * s);
            tail = Vector256.ConditionalSelect(inSeries, seriesTail, tail);
        }
        if (inSeries != Vector256<double>.AllBitsSet)
        {
            var t = z;
            for (int k = SmoothMath.Terms; k >= 1; k--) t = z + Vector256.Create(0.5 * k) / t;
            var fractionTail = Vector256.Create(0.5 * SmoothMath.OneOverSqrtPi) * e / t;
            tail = Vector256.ConditionalSelect(inSeries, tail, fractionTail);
        }
        var cdf = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), tail, Vector256<double>.One - tail);
        return Vector256.ConditionalSelect(Vector256.IsNaN(x), x, cdf);
    }

    /// <summary>Numerically stable σ(x) on four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Sigmoid(Vector256<double> x)
    {
        var e = Vector256.Exp(-Vector256.Abs(x));
        var r = Vector256<double>.One / (Vector256<double>.One + e);
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<double>.Zero), r, e * r);
    }

    /// <summary>log(1 + u) as <see cref="SmoothMath.Log1p"/>, on four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Log1p(Vector256<double> u)
    {
        var w = Vector256<double>.One + u;
        var corrected = Vector256.Log(w) * u / (w - Vector256<double>.One);
        return Vector256.ConditionalSelect(Vector256.Equals(w, Vector256<double>.One), u, corrected);
    }
}

/// <summary>
/// Exact GELU on float lanes: Φ(x) and φ(x) from one e^(−x²/2), written once over <see cref="IFloatLanes{TV}"/>.
/// Φ(−|x|) = ½·erfc(z), z = |x|/√2, with erfc z = t·Q(t)·e^(−z²), t = 1/(1 + 0.35·z), Q a degree-9 polynomial
/// (a minimax-weighted fit of erfc(z)·e^(z²)/t on 0 ≤ z ≤ 10.5, within 7.7e-9 relative; below z = 10.5 lie all the x
/// whose GELU or GELU′ is a normal float). e^(−z²) keeps float accuracy although z² reaches 128: x² is split exactly
/// into p + e by one FMA, and the range reduction of e^(−p/2 − e/2) in <see cref="FloatLaneMath.Exp"/> is exact in
/// −p/2 − n·ln 2 (Cody–Waite), so the only errors are the polynomials' and the roundings'. Measured against the double reference over 10⁶ floats in [−15, 15]:
/// GELU within 4.4e-7 relative, GELU′ within 4.2e-7 of |Φ(x)| + |x·φ(x)| (its two terms cancel near its zero at
/// x ≈ −0.7518, so that, not GELU′, is the scale of a float evaluation's error there; 7.6e-7 relative for |x + 0.75| > 0.25).
/// </summary>
internal static class FloatGelu
{
    // Q(t) = Σ c[k]·tᵏ
    private const float Q0 = 0.197480321f, Q1 = 0.197201833f, Q2 = 0.187402308f, Q3 = 0.15340808f, Q4 = 0.139897496f;
    private const float Q5 = 0.0980064422f, Q6 = -0.0404326059f, Q7 = 0.190686092f, Q8 = -0.162731975f, Q9 = 0.0390820131f;
    /// <summary>0.35/√2: t = 1/(1 + 0.35·|x|/√2).</summary>
    private const float TScale = 0.247487366f;
    /// <summary>Φ(±16) is 1 or 6e-58 and e^(−128) underflows: larger |x| change nothing, and x² stays finite.</summary>
    private const float AbsLimit = 16f;

    /// <summary>Φ(x), and φ(x) in <paramref name="pdf"/>. NaN x gives unspecified values: callers multiply by x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV NormalCdf<TL, TV>(TV x, out TV pdf) where TL : IFloatLanes<TV> where TV : struct
    {
        var a = TL.MinNative(TL.Abs(x), TL.Create(AbsLimit));
        var square = TL.Multiply(a, a);
        var squareError = TL.MultiplySubtract(a, a, square); // a² − square, exactly
        var half = TL.Create(0.5f);
        // e^(−x²/2) = e^(−w − wLow) with x²/2 = w + wLow exactly: the range reduction of FloatLaneMath.Exp keeps it exact
        var gauss = FloatLaneMath.Exp<TL, TV>(TL.Multiply(TL.Create(-0.5f), square), TL.Multiply(TL.Create(-0.5f), squareError));
        var one = TL.Create(1f);
        var t = TL.Reciprocal(TL.MultiplyAdd(a, TL.Create(TScale), one));
        var q = TL.MultiplyAdd(TL.Create(Q9), t, TL.Create(Q8));
        q = TL.MultiplyAdd(q, t, TL.Create(Q7));
        q = TL.MultiplyAdd(q, t, TL.Create(Q6));
        q = TL.MultiplyAdd(q, t, TL.Create(Q5));
        q = TL.MultiplyAdd(q, t, TL.Create(Q4));
        q = TL.MultiplyAdd(q, t, TL.Create(Q3));
        q = TL.MultiplyAdd(q, t, TL.Create(Q2));
        q = TL.MultiplyAdd(q, t, TL.Create(Q1));
        q = TL.MultiplyAdd(q, t, TL.Create(Q0));
        var tail = TL.Multiply(TL.Multiply(TL.Multiply(half, t), q), gauss); // Φ(−|x|)
        pdf = TL.Multiply(gauss, TL.Create((float)SmoothMath.OneOverSqrt2Pi));
        return TL.Select(TL.LessThan(x, TL.Create(0f)), tail, TL.Subtract(one, tail));
    }

    /// <summary>x·Φ(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gelu<TL, TV>(TV x) where TL : IFloatLanes<TV> where TV : struct =>
        TL.Multiply(x, NormalCdf<TL, TV>(x, out _));

    /// <summary>dy·(Φ(x) + x·φ(x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluGrad<TL, TV>(TV dy, TV x) where TL : IFloatLanes<TV> where TV : struct
    {
        var cdf = NormalCdf<TL, TV>(x, out var pdf);
        return TL.Multiply(dy, TL.MultiplyAdd(x, pdf, cdf));
    }
}

/// <summary>Exact GELU of float tensors: the double reference for single elements, <see cref="FloatGelu"/> on lanes.</summary>
internal struct GeluFloatOp : IUnaryOperator<float>
{
    public float Invoke(float x) => (float)SmoothMath.Gelu(x);
    public Vector128<float> Invoke(Vector128<float> x) => FloatGelu.Gelu<FloatLanes128, Vector128<float>>(x);
    public Vector256<float> Invoke(Vector256<float> x) => FloatGelu.Gelu<FloatLanes256, Vector256<float>>(x);
    public Vector512<float> Invoke(Vector512<float> x) => FloatGelu.Gelu<FloatLanes512, Vector512<float>>(x);
}

/// <summary>Exact GELU's backward (a = dy, b = x) of float tensors, as <see cref="GeluFloatOp"/>.</summary>
internal struct GeluGradFloatOp : IBinaryOperator<float>
{
    public float Invoke(float dy, float x) => (float)SmoothMath.GeluGrad(dy, x);
    public Vector128<float> Invoke(Vector128<float> dy, Vector128<float> x) => FloatGelu.GeluGrad<FloatLanes128, Vector128<float>>(dy, x);
    public Vector256<float> Invoke(Vector256<float> dy, Vector256<float> x) => FloatGelu.GeluGrad<FloatLanes256, Vector256<float>>(dy, x);
    public Vector512<float> Invoke(Vector512<float> dy, Vector512<float> x) => FloatGelu.GeluGrad<FloatLanes512, Vector512<float>>(dy, x);
}

internal struct GeluActivation : IDoubleActivation
{
    public static double Invoke(double x, double a, double b) => SmoothMath.Gelu(x);
    public static Vector256<double> Invoke(Vector256<double> x, double a, double b) => x * SimdActivations.NormalCdf(x);
}

internal struct GeluTanhActivation : IDoubleActivation
{
    public static double Invoke(double x, double a, double b) => SmoothMath.GeluTanh(x);
    public static Vector256<double> Invoke(Vector256<double> x, double a, double b)
    {
        var inner = Vector256.Create(SmoothMath.SqrtTwoOverPi) * (x + Vector256.Create(SmoothMath.GeluKappa) * x * x * x);
        return Vector256.Create(0.5) * x * (Vector256<double>.One + VMath.TanhD(inner));
    }
}

internal struct SiluActivation : IDoubleActivation
{
    public static double Invoke(double x, double a, double b) => SmoothMath.Silu(x);
    public static Vector256<double> Invoke(Vector256<double> x, double a, double b) => x * SimdActivations.Sigmoid(x);
}

/// <summary>Softplus with a = β and b = threshold.</summary>
internal struct SoftplusActivation : IDoubleActivation
{
    public static double Invoke(double x, double a, double b) => SmoothMath.Softplus(x, a, b);
    public static Vector256<double> Invoke(Vector256<double> x, double a, double b)
    {
        var beta = Vector256.Create(a);
        var bx = x * beta;
        var smooth = (Vector256.Max(bx, Vector256<double>.Zero) + SimdActivations.Log1p(Vector256.Exp(-Vector256.Abs(bx)))) / beta;
        return Vector256.ConditionalSelect(Vector256.GreaterThan(bx, Vector256.Create(b)), x, smooth);
    }
}

internal struct GeluActivationGrad : IDoubleActivationGrad
{
    public static double Invoke(double dy, double x) => SmoothMath.GeluGrad(dy, x);
    public static Vector256<double> Invoke(Vector256<double> dy, Vector256<double> x) =>
        dy * (SimdActivations.NormalCdf(x) + x * Vector256.Create(SmoothMath.OneOverSqrt2Pi) * Vector256.Exp(Vector256.Create(-0.5) * x * x));
}

internal struct GeluTanhActivationGrad : IDoubleActivationGrad
{
    public static double Invoke(double dy, double x) => SmoothMath.GeluTanhGrad(dy, x);
    public static Vector256<double> Invoke(Vector256<double> dy, Vector256<double> x)
    {
        var x2 = x * x;
        var t = VMath.TanhD(Vector256.Create(SmoothMath.SqrtTwoOverPi) * (x + Vector256.Create(SmoothMath.GeluKappa) * x2 * x));
        var rightDerivative = Vector256.Create(0.5) * x * (Vector256<double>.One - t * t) * Vector256.Create(SmoothMath.SqrtTwoOverPi)
            * (Vector256<double>.One + Vector256.Create(3 * SmoothMath.GeluKappa) * x2);
        return dy * (Vector256.Create(0.5) * (Vector256<double>.One + t) + rightDerivative);
    }
}

internal struct SiluActivationGrad : IDoubleActivationGrad
{
    public static double Invoke(double dy, double x) => SmoothMath.SiluGrad(dy, x);
    public static Vector256<double> Invoke(Vector256<double> dy, Vector256<double> x)
    {
        var s = SimdActivations.Sigmoid(x);
        return dy * s * (Vector256<double>.One + x * (Vector256<double>.One - s));
    }
}

/// <summary>A <see cref="IDoubleActivation"/> as an elementwise operator of float or double at every vector width.</summary>
internal readonly struct ActivationOp<TAct, T>(double a, double b) : IUnaryOperator<T>
    where TAct : IDoubleActivation where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => T.CreateTruncating(TAct.Invoke(double.CreateTruncating(x), a, b));

    public Vector128<T> Invoke(Vector128<T> x)
    {
        if (typeof(T) == typeof(double)) return TAct.Invoke(x.As<T, double>().ToVector256Unsafe(), a, b).GetLower().As<double, T>();
        var wide = Vector256.WidenLower(x.As<T, float>().ToVector256Unsafe());
        return Vector256.Narrow(TAct.Invoke(wide, a, b), Vector256<double>.Zero).GetLower().As<float, T>();
    }

    public Vector256<T> Invoke(Vector256<T> x)
    {
        if (typeof(T) == typeof(double)) return TAct.Invoke(x.As<T, double>(), a, b).As<double, T>();
        var (lo, hi) = Vector256.Widen(x.As<T, float>());
        return Vector256.Narrow(TAct.Invoke(lo, a, b), TAct.Invoke(hi, a, b)).As<float, T>();
    }

    public Vector512<T> Invoke(Vector512<T> x)
    {
        return Vector512.Create(Invoke(x.GetLower()), Invoke(x.GetUpper()));
    }
}

/// <summary>A <see cref="IDoubleActivationGrad"/> as a binary operator (a = dy, b = x) of float or double at every width.</summary>
internal readonly struct ActivationGradOp<TGrad, T> : IBinaryOperator<T>
    where TGrad : IDoubleActivationGrad where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T dy, T x) => T.CreateTruncating(TGrad.Invoke(double.CreateTruncating(dy), double.CreateTruncating(x)));

    public Vector128<T> Invoke(Vector128<T> dy, Vector128<T> x)
    {
        if (typeof(T) == typeof(double))
            return TGrad.Invoke(dy.As<T, double>().ToVector256Unsafe(), x.As<T, double>().ToVector256Unsafe()).GetLower().As<double, T>();
        var wideDy = Vector256.WidenLower(dy.As<T, float>().ToVector256Unsafe());
        var wideX = Vector256.WidenLower(x.As<T, float>().ToVector256Unsafe());
        return Vector256.Narrow(TGrad.Invoke(wideDy, wideX), Vector256<double>.Zero).GetLower().As<float, T>();
    }

    public Vector256<T> Invoke(Vector256<T> dy, Vector256<T> x)
    {
        if (typeof(T) == typeof(double)) return TGrad.Invoke(dy.As<T, double>(), x.As<T, double>()).As<double, T>();
        var (dyLo, dyHi) = Vector256.Widen(dy.As<T, float>());
        var (xLo, xHi) = Vector256.Widen(x.As<T, float>());
        return Vector256.Narrow(TGrad.Invoke(dyLo, xLo), TGrad.Invoke(dyHi, xHi)).As<float, T>();
    }

    public Vector512<T> Invoke(Vector512<T> dy, Vector512<T> x)
    {
        return Vector512.Create(Invoke(dy.GetLower(), x.GetLower()), Invoke(dy.GetUpper(), x.GetUpper()));
    }
}
