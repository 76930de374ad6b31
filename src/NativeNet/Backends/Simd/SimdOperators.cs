using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

/// <summary>
/// One elementwise operation at every width the loops use (TensorPrimitives style): the scalar form handles
/// rows shorter than a vector and strided inputs, the vector forms are picked by what the CPU accelerates.
/// The scalar form must equal <see cref="Scalar.Unary{T}"/>; vector forms may differ only by rounding.
/// </summary>
internal interface IUnaryOperator<T> where T : unmanaged
{
    T Invoke(T x);
    Vector128<T> Invoke(Vector128<T> x);
    Vector256<T> Invoke(Vector256<T> x);
    Vector512<T> Invoke(Vector512<T> x);
}

/// <summary>Two-input counterpart of <see cref="IUnaryOperator{T}"/>; must agree with <see cref="Scalar.Binary{T}"/>.</summary>
internal interface IBinaryOperator<T> where T : unmanaged
{
    T Invoke(T a, T b);
    Vector128<T> Invoke(Vector128<T> a, Vector128<T> b);
    Vector256<T> Invoke(Vector256<T> a, Vector256<T> b);
    Vector512<T> Invoke(Vector512<T> a, Vector512<T> b);
}

/// <summary>e^x on vectors of float or double (the generic Vector*.Exp only exists per element type).</summary>
internal static class VMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Exp<T>(Vector128<T> x) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector128.Exp(x.As<T, float>()).As<float, T>() : Vector128.Exp(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp<T>(Vector256<T> x) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Exp(x.As<T, float>()).As<float, T>() : Vector256.Exp(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp<T>(Vector512<T> x) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector512.Exp(x.As<T, float>()).As<float, T>() : Vector512.Exp(x.As<T, double>()).As<double, T>();

    // tanh in double: 1 − 2/(e^{2|x|}+1) has no overflow (e = ∞ gives 1); below 1e-4 tanh x = x to 3e-9 relative,
    // which also avoids the cancellation of 1 − (1 − x) for tiny x.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> TanhD(Vector128<double> x)
    {
        var ax = Vector128.Abs(x);
        var t = Vector128<double>.One - Vector128.Create(2.0) / (Vector128.Exp(ax + ax) + Vector128<double>.One);
        t = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<double>.Zero), -t, t);
        return Vector128.ConditionalSelect(Vector128.LessThan(ax, Vector128.Create(1e-4)), x, t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> TanhD(Vector256<double> x)
    {
        var ax = Vector256.Abs(x);
        var t = Vector256<double>.One - Vector256.Create(2.0) / (Vector256.Exp(ax + ax) + Vector256<double>.One);
        t = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), -t, t);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(1e-4)), x, t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> TanhD(Vector512<double> x)
    {
        var ax = Vector512.Abs(x);
        var t = Vector512<double>.One - Vector512.Create(2.0) / (Vector512.Exp(ax + ax) + Vector512<double>.One);
        t = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<double>.Zero), -t, t);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(1e-4)), x, t);
    }
}

// ---- unary ----

internal struct NegOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => -x;
    public Vector128<T> Invoke(Vector128<T> x) => -x;
    public Vector256<T> Invoke(Vector256<T> x) => -x;
    public Vector512<T> Invoke(Vector512<T> x) => -x;
}

internal struct AbsOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => T.Abs(x);
    public Vector128<T> Invoke(Vector128<T> x) => Vector128.Abs(x);
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.Abs(x);
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.Abs(x);
}

internal struct SignOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => T.IsNaN(x) ? x : x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> x) =>
        Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<T>.Zero), Vector128<T>.One,
        Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<T>.Zero), -Vector128<T>.One,
        Vector128.ConditionalSelect(Vector128.IsNaN(x), x, Vector128<T>.Zero)));
    public Vector256<T> Invoke(Vector256<T> x) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), Vector256<T>.One,
        Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<T>.Zero), -Vector256<T>.One,
        Vector256.ConditionalSelect(Vector256.IsNaN(x), x, Vector256<T>.Zero)));
    public Vector512<T> Invoke(Vector512<T> x) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), Vector512<T>.One,
        Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<T>.Zero), -Vector512<T>.One,
        Vector512.ConditionalSelect(Vector512.IsNaN(x), x, Vector512<T>.Zero)));
}

internal struct SqrtOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => T.Sqrt(x);
    public Vector128<T> Invoke(Vector128<T> x) => Vector128.Sqrt(x);
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.Sqrt(x);
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.Sqrt(x);
}

internal struct ReciprocalOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => T.One / x;
    public Vector128<T> Invoke(Vector128<T> x) => Vector128<T>.One / x;
    public Vector256<T> Invoke(Vector256<T> x) => Vector256<T>.One / x;
    public Vector512<T> Invoke(Vector512<T> x) => Vector512<T>.One / x;
}

internal struct ReluOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => x > T.Zero ? x : T.IsNaN(x) ? x : T.Zero;
    // x > 0 or NaN keeps x; -0 and negatives give +0.
    public Vector128<T> Invoke(Vector128<T> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<T>.Zero) | Vector128.IsNaN(x), x, Vector128<T>.Zero);
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero) | Vector256.IsNaN(x), x, Vector256<T>.Zero);
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero) | Vector512.IsNaN(x), x, Vector512<T>.Zero);
}

internal struct LeakyReluOp<T>(T slope) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => x > T.Zero ? x : slope * x;
    public Vector128<T> Invoke(Vector128<T> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<T>.Zero), x, Vector128.Create(slope) * x);
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), x, Vector256.Create(slope) * x);
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), x, Vector512.Create(slope) * x);
}

internal struct EluOp<T>(T alpha) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => x > T.Zero ? x : alpha * (T.Exp(x) - T.One);
    public Vector128<T> Invoke(Vector128<T> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<T>.Zero), x, Vector128.Create(alpha) * (VMath.Exp(x) - Vector128<T>.One));
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), x, Vector256.Create(alpha) * (VMath.Exp(x) - Vector256<T>.One));
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), x, Vector512.Create(alpha) * (VMath.Exp(x) - Vector512<T>.One));
}

internal struct SquareOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => x * x;
    public Vector128<T> Invoke(Vector128<T> x) => x * x;
    public Vector256<T> Invoke(Vector256<T> x) => x * x;
    public Vector512<T> Invoke(Vector512<T> x) => x * x;
}

internal struct AddScalarOp<T>(T s) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => x + s;
    public Vector128<T> Invoke(Vector128<T> x) => x + Vector128.Create(s);
    public Vector256<T> Invoke(Vector256<T> x) => x + Vector256.Create(s);
    public Vector512<T> Invoke(Vector512<T> x) => x + Vector512.Create(s);
}

internal struct MulScalarOp<T>(T s) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => x * s;
    public Vector128<T> Invoke(Vector128<T> x) => x * Vector128.Create(s);
    public Vector256<T> Invoke(Vector256<T> x) => x * Vector256.Create(s);
    public Vector512<T> Invoke(Vector512<T> x) => x * Vector512.Create(s);
}

internal struct ClipOp<T>(T lo, T hi) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T x) => T.IsNaN(x) ? x : T.Min(T.Max(x, lo), hi);
    // Vector*.Max/Min follow the same IEEE 754:2019 rules as T.Max/T.Min (NaN propagates, +0 > −0).
    public Vector128<T> Invoke(Vector128<T> x) => Vector128.Min(Vector128.Max(x, Vector128.Create(lo)), Vector128.Create(hi));
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.Min(Vector256.Max(x, Vector256.Create(lo)), Vector256.Create(hi));
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.Min(Vector512.Max(x, Vector512.Create(lo)), Vector512.Create(hi));
}

/// <summary>
/// Float tanh evaluated in double. TensorPrimitives.Tanh(float) loses all relative accuracy near 0
/// (1 − 2/(e^{2x}+1) cancels: relative error 1 at x = 1e-8, 5e-4 at 1e-4), so it is not used for Float32.
/// </summary>
internal struct TanhFloatOp : IUnaryOperator<float>
{
    public float Invoke(float x) => MathF.Tanh(x);
    public Vector128<float> Invoke(Vector128<float> x)
    {
        var (lo, hi) = Vector128.Widen(x);
        return Vector128.Narrow(VMath.TanhD(lo), VMath.TanhD(hi));
    }
    public Vector256<float> Invoke(Vector256<float> x)
    {
        var (lo, hi) = Vector256.Widen(x);
        return Vector256.Narrow(VMath.TanhD(lo), VMath.TanhD(hi));
    }
    public Vector512<float> Invoke(Vector512<float> x)
    {
        var (lo, hi) = Vector512.Widen(x);
        return Vector512.Narrow(VMath.TanhD(lo), VMath.TanhD(hi));
    }
}

// ---- binary ----

internal struct AddOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a + b;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a + b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a + b;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => a + b;
}

internal struct SubOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a - b;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a - b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a - b;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => a - b;
}

internal struct MulOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a * b;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a * b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a * b;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => a * b;
}

internal struct DivOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a / b;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a / b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a / b;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => a / b;
}

internal struct MaximumOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => T.Max(a, b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.Max(a, b);
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.Max(a, b);
}

internal struct MinimumOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => T.Min(a, b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.Min(a, b);
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.Min(a, b);
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.Min(a, b);
}

internal struct EqualOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a == b ? T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.Equals(a, b) & Vector128<T>.One;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.Equals(a, b) & Vector256<T>.One;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.Equals(a, b) & Vector512<T>.One;
}

internal struct NotEqualOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a != b ? T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.AndNot(Vector128<T>.One, Vector128.Equals(a, b));
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.AndNot(Vector256<T>.One, Vector256.Equals(a, b));
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.AndNot(Vector512<T>.One, Vector512.Equals(a, b));
}

internal struct LessOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a < b ? T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.LessThan(a, b) & Vector128<T>.One;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.LessThan(a, b) & Vector256<T>.One;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.LessThan(a, b) & Vector512<T>.One;
}

internal struct LessEqualOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a <= b ? T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.LessThanOrEqual(a, b) & Vector128<T>.One;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.LessThanOrEqual(a, b) & Vector256<T>.One;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.LessThanOrEqual(a, b) & Vector512<T>.One;
}

internal struct GreaterOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a > b ? T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.GreaterThan(a, b) & Vector128<T>.One;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.GreaterThan(a, b) & Vector256<T>.One;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.GreaterThan(a, b) & Vector512<T>.One;
}

internal struct GreaterEqualOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a >= b ? T.One : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.GreaterThanOrEqual(a, b) & Vector128<T>.One;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.GreaterThanOrEqual(a, b) & Vector256<T>.One;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.GreaterThanOrEqual(a, b) & Vector512<T>.One;
}

internal struct ReluGradOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => b > T.Zero ? a : T.Zero;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.GreaterThan(b, Vector128<T>.Zero) & a;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.GreaterThan(b, Vector256<T>.Zero) & a;
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.GreaterThan(b, Vector512<T>.Zero) & a;
}

internal struct LeakyReluGradOp<T>(T slope) : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => b > T.Zero ? a : a * slope;
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.ConditionalSelect(Vector128.GreaterThan(b, Vector128<T>.Zero), a, a * Vector128.Create(slope));
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.ConditionalSelect(Vector256.GreaterThan(b, Vector256<T>.Zero), a, a * Vector256.Create(slope));
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.ConditionalSelect(Vector512.GreaterThan(b, Vector512<T>.Zero), a, a * Vector512.Create(slope));
}

internal struct EluGradOp<T>(T alpha) : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => b > T.Zero ? a : a * alpha * T.Exp(b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.ConditionalSelect(Vector128.GreaterThan(b, Vector128<T>.Zero), a, a * Vector128.Create(alpha) * VMath.Exp(b));
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.ConditionalSelect(Vector256.GreaterThan(b, Vector256<T>.Zero), a, a * Vector256.Create(alpha) * VMath.Exp(b));
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => Vector512.ConditionalSelect(Vector512.GreaterThan(b, Vector512<T>.Zero), a, a * Vector512.Create(alpha) * VMath.Exp(b));
}

internal struct SigmoidGradOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a * b * (T.One - b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a * b * (Vector128<T>.One - b);
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a * b * (Vector256<T>.One - b);
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => a * b * (Vector512<T>.One - b);
}

internal struct TanhGradOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => a * (T.One - b * b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a * (Vector128<T>.One - b * b);
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a * (Vector256<T>.One - b * b);
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b) => a * (Vector512<T>.One - b * b);
}

/// <summary>
/// a^b. There is no vector pow in the BCL (TensorPrimitives.Pow evaluates it per element too, and needs both inputs
/// contiguous), so the vector forms apply the scalar one lane by lane; this keeps broadcast rows on the shared loop.
/// </summary>
internal struct PowOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Invoke(T a, T b) => T.Pow(a, b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b)
    {
        Span<T> r = stackalloc T[Vector128<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = T.Pow(a.GetElement(i), b.GetElement(i));
        return Vector128.Create((ReadOnlySpan<T>)r);
    }
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b)
    {
        Span<T> r = stackalloc T[Vector256<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = T.Pow(a.GetElement(i), b.GetElement(i));
        return Vector256.Create((ReadOnlySpan<T>)r);
    }
    public Vector512<T> Invoke(Vector512<T> a, Vector512<T> b)
    {
        Span<T> r = stackalloc T[Vector512<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = T.Pow(a.GetElement(i), b.GetElement(i));
        return Vector512.Create((ReadOnlySpan<T>)r);
    }
}
