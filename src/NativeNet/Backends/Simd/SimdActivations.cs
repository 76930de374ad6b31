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

    /// <summary>
    /// Coefficients, in powers of t − ½, of P in erfc z ≈ t·e^(−z² + P(t)) with t = 1/(1 + z/2), the form of Numerical
    /// Recipes' erfcc: a least-squares Chebyshev fit of degree 16 to log(erfc(z)·e^(z²)/t) on 0 ≤ z ≤ 25, within 5e-12
    /// relative of erfc there (beyond, erfc is below 1e-270 and rounds to zero in float); padded with zeros for
    /// <see cref="Estrin(double[], Vector256{double})"/>.
    /// </summary>
    private static readonly double[] ErfcExponentCoefficients =
    [
        -0.67179408406131669, 1.3452864479520639, 0.18937323058634967, -0.37516488077276555, -0.15796340065095646,
        0.28239798791035475, 0.11258826980028012, -0.30026507302910416, -0.037809432163618553, 0.34501444483561444,
        -0.091309942296963112, -0.35894580756919398, 0.25769957247958819, 0.28093831456698326, -0.34356434406559883,
        -0.11623909754916746, 0.20630290730982212,
        0, 0, 0,
    ];

    /// <summary>
    /// Φ(x) on four lanes for float results: ½·erfc(|x|/√2) from the fit above (Φ(−|x|), or 1 minus it), within 5e-12
    /// relative in both tails; one e^x, one division and 17 multiply-adds against the ~100 terms of <see cref="NormalCdf"/>.
    /// Near GELU′'s zero (x ≈ −0.75), where Φ(x) + x·φ(x) cancels, the error stays about 1e-12 absolute, so the float
    /// gradient keeps its rounding (checked over 2·10⁶ random floats in [−3, 3]: within 4e-7 relative where |GELU′| ≥ 1e-6).
    /// Double results keep the reference expansions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> NormalCdfForFloat(Vector256<double> x)
    {
        var z = Vector256.Abs(x) * Vector256.Create(SmoothMath.OneOverSqrt2);
        var t = Vector256<double>.One / (Vector256<double>.One + Vector256.Create(0.5) * z);
        var p = Estrin(ErfcExponentCoefficients, t - Vector256.Create(0.5));
        var tail = Vector256.Create(0.5) * t * Vector256.Exp(p - z * z); // Φ(−|x|)
        var cdf = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), tail, Vector256<double>.One - tail);
        return Vector256.ConditionalSelect(Vector256.IsNaN(x), x, cdf);
    }

    /// <summary>
    /// Σ c[k]·xᵏ for 16 or 20 coefficients (padded with zeros) by Estrin's scheme (pairs c[2i] + c[2i+1]·x, then pairs of
    /// those with x², x⁴, x⁸, x¹⁶): a dependency chain of five multiply-adds instead of Horner's degree, so that one vector's
    /// polynomial does not wait on each step. Written out so the terms stay in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Estrin(double[] c, Vector256<double> x)
    {
        var x2 = x * x;
        var x4 = x2 * x2;
        var x8 = x4 * x4;
        var p0 = Vector256.FusedMultiplyAdd(Vector256.Create(c[1]), x, Vector256.Create(c[0]));
        var p1 = Vector256.FusedMultiplyAdd(Vector256.Create(c[3]), x, Vector256.Create(c[2]));
        var p2 = Vector256.FusedMultiplyAdd(Vector256.Create(c[5]), x, Vector256.Create(c[4]));
        var p3 = Vector256.FusedMultiplyAdd(Vector256.Create(c[7]), x, Vector256.Create(c[6]));
        var p4 = Vector256.FusedMultiplyAdd(Vector256.Create(c[9]), x, Vector256.Create(c[8]));
        var p5 = Vector256.FusedMultiplyAdd(Vector256.Create(c[11]), x, Vector256.Create(c[10]));
        var p6 = Vector256.FusedMultiplyAdd(Vector256.Create(c[13]), x, Vector256.Create(c[12]));
        var p7 = Vector256.FusedMultiplyAdd(Vector256.Create(c[15]), x, Vector256.Create(c[14]));
        var q0 = Vector256.FusedMultiplyAdd(p1, x2, p0);
        var q1 = Vector256.FusedMultiplyAdd(p3, x2, p2);
        var q2 = Vector256.FusedMultiplyAdd(p5, x2, p4);
        var q3 = Vector256.FusedMultiplyAdd(p7, x2, p6);
        var low = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(q3, x4, q2), x8, Vector256.FusedMultiplyAdd(q1, x4, q0));
        if (c.Length == 16) return low;
        var p8 = Vector256.FusedMultiplyAdd(Vector256.Create(c[17]), x, Vector256.Create(c[16]));
        var p9 = Vector256.FusedMultiplyAdd(Vector256.Create(c[19]), x, Vector256.Create(c[18]));
        return Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(p9, x2, p8), x8 * x8, low);
    }

    /// <summary><see cref="NormalCdfForFloat(Vector256{double})"/> on eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> NormalCdfForFloat(Vector512<double> x)
    {
        var z = Vector512.Abs(x) * Vector512.Create(SmoothMath.OneOverSqrt2);
        var t = Vector512<double>.One / (Vector512<double>.One + Vector512.Create(0.5) * z);
        var p = Estrin(ErfcExponentCoefficients, t - Vector512.Create(0.5));
        var tail = Vector512.Create(0.5) * t * Vector512.Exp(p - z * z); // Φ(−|x|)
        var cdf = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<double>.Zero), tail, Vector512<double>.One - tail);
        return Vector512.ConditionalSelect(Vector512.IsNaN(x), x, cdf);
    }

    /// <summary><see cref="Estrin(double[], Vector256{double})"/> on eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Estrin(double[] c, Vector512<double> x)
    {
        var x2 = x * x;
        var x4 = x2 * x2;
        var x8 = x4 * x4;
        var p0 = Vector512.FusedMultiplyAdd(Vector512.Create(c[1]), x, Vector512.Create(c[0]));
        var p1 = Vector512.FusedMultiplyAdd(Vector512.Create(c[3]), x, Vector512.Create(c[2]));
        var p2 = Vector512.FusedMultiplyAdd(Vector512.Create(c[5]), x, Vector512.Create(c[4]));
        var p3 = Vector512.FusedMultiplyAdd(Vector512.Create(c[7]), x, Vector512.Create(c[6]));
        var p4 = Vector512.FusedMultiplyAdd(Vector512.Create(c[9]), x, Vector512.Create(c[8]));
        var p5 = Vector512.FusedMultiplyAdd(Vector512.Create(c[11]), x, Vector512.Create(c[10]));
        var p6 = Vector512.FusedMultiplyAdd(Vector512.Create(c[13]), x, Vector512.Create(c[12]));
        var p7 = Vector512.FusedMultiplyAdd(Vector512.Create(c[15]), x, Vector512.Create(c[14]));
        var q0 = Vector512.FusedMultiplyAdd(p1, x2, p0);
        var q1 = Vector512.FusedMultiplyAdd(p3, x2, p2);
        var q2 = Vector512.FusedMultiplyAdd(p5, x2, p4);
        var q3 = Vector512.FusedMultiplyAdd(p7, x2, p6);
        var low = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(q3, x4, q2), x8, Vector512.FusedMultiplyAdd(q1, x4, q0));
        if (c.Length == 16) return low;
        var p8 = Vector512.FusedMultiplyAdd(Vector512.Create(c[17]), x, Vector512.Create(c[16]));
        var p9 = Vector512.FusedMultiplyAdd(Vector512.Create(c[19]), x, Vector512.Create(c[18]));
        return Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(p9, x2, p8), x8 * x8, low);
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

internal struct GeluActivation : IDoubleActivation
{
    public static double Invoke(double x, double a, double b) => SmoothMath.Gelu(x);
    public static Vector256<double> Invoke(Vector256<double> x, double a, double b) => x * SimdActivations.NormalCdf(x);
}

/// <summary>Exact GELU for float tensors: the scalar reference, and <see cref="SimdActivations.NormalCdfForFloat(Vector256{double})"/> on lanes.</summary>
internal struct GeluForFloatActivation : IDoubleActivation
{
    public static double Invoke(double x, double a, double b) => SmoothMath.Gelu(x);
    public static Vector256<double> Invoke(Vector256<double> x, double a, double b) => x * SimdActivations.NormalCdfForFloat(x);
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

/// <summary>Exact GELU's backward for float tensors, with <see cref="SimdActivations.NormalCdfForFloat(Vector256{double})"/> on lanes.</summary>
internal struct GeluForFloatActivationGrad : IDoubleActivationGrad
{
    public static double Invoke(double dy, double x) => SmoothMath.GeluGrad(dy, x);
    public static Vector256<double> Invoke(Vector256<double> dy, Vector256<double> x) =>
        dy * (SimdActivations.NormalCdfForFloat(x) + x * Vector256.Create(SmoothMath.OneOverSqrt2Pi) * Vector256.Exp(Vector256.Create(-0.5) * x * x));

    /// <summary>The same on eight lanes.</summary>
    public static Vector512<double> Invoke(Vector512<double> dy, Vector512<double> x) =>
        dy * (SimdActivations.NormalCdfForFloat(x) + x * Vector512.Create(SmoothMath.OneOverSqrt2Pi) * Vector512.Exp(Vector512.Create(-0.5) * x * x));
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
        if (typeof(TAct) == typeof(GeluForFloatActivation) && typeof(T) == typeof(float))
        {
            // eight double lanes at a time: the activation's instruction count, not its latency, bounds it
            var (lo, hi) = Vector512.Widen(x.As<T, float>());
            return Vector512.Narrow(lo * SimdActivations.NormalCdfForFloat(lo), hi * SimdActivations.NormalCdfForFloat(hi)).As<float, T>();
        }
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
        if (typeof(TGrad) == typeof(GeluForFloatActivationGrad) && typeof(T) == typeof(float))
        {
            var (dyLo, dyHi) = Vector512.Widen(dy.As<T, float>());
            var (xLo, xHi) = Vector512.Widen(x.As<T, float>());
            return Vector512.Narrow(GeluForFloatActivationGrad.Invoke(dyLo, xLo), GeluForFloatActivationGrad.Invoke(dyHi, xHi)).As<float, T>();
        }
        return Vector512.Create(Invoke(dy.GetLower(), x.GetLower()), Invoke(dy.GetUpper(), x.GetUpper()));
    }
}
