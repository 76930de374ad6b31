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

    public Vector512<T> Invoke(Vector512<T> x) => Vector512.Create(Invoke(x.GetLower()), Invoke(x.GetUpper()));
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

    public Vector512<T> Invoke(Vector512<T> dy, Vector512<T> x) =>
        Vector512.Create(Invoke(dy.GetLower(), x.GetLower()), Invoke(dy.GetUpper(), x.GetUpper()));
}
