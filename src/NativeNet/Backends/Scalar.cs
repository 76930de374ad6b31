using System.Numerics;

namespace NativeNet.Backends;

/// <summary>The scalar definition of every elementwise op: the reference the Naive backend applies per element.</summary>
public static class Scalar
{
    /// <summary>op(x; a, b) for one element.</summary>
    public static T Unary<T>(UnaryOp op, T x, T a, T b) where T : IFloatingPointIeee754<T> => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Abs => T.Abs(x),
        UnaryOp.Sign => T.IsNaN(x) ? x : x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero,
        UnaryOp.Exp => T.Exp(x),
        UnaryOp.Log => T.Log(x),
        UnaryOp.Sqrt => T.Sqrt(x),
        UnaryOp.Reciprocal => T.One / x,
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Tanh => T.Tanh(x),
        UnaryOp.Relu => x > T.Zero ? x : T.IsNaN(x) ? x : T.Zero,
        UnaryOp.LeakyRelu => x > T.Zero ? x : a * x,
        UnaryOp.Elu => x > T.Zero ? x : a * (T.Exp(x) - T.One),
        UnaryOp.Square => x * x,
        UnaryOp.PowScalar => T.Pow(x, a),
        UnaryOp.AddScalar => x + a,
        UnaryOp.MulScalar => x * a,
        UnaryOp.Clip => T.IsNaN(x) ? x : T.Min(T.Max(x, a), b),
        UnaryOp.Gelu => InDouble(SmoothMath.Gelu, x),
        UnaryOp.GeluTanh => InDouble(SmoothMath.GeluTanh, x),
        UnaryOp.Silu => InDouble(SmoothMath.Silu, x),
        UnaryOp.Softplus => T.CreateTruncating(SmoothMath.Softplus(double.CreateTruncating(x), double.CreateTruncating(a), double.CreateTruncating(b))),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    // The smooth activations are defined in double (SmoothMath); Float32 rounds their result once.
    private static T InDouble<T>(Func<double, double> f, T x) where T : IFloatingPointIeee754<T> => T.CreateTruncating(f(double.CreateTruncating(x)));

    private static T InDouble<T>(Func<double, double, double> f, T a, T b) where T : IFloatingPointIeee754<T> =>
        T.CreateTruncating(f(double.CreateTruncating(a), double.CreateTruncating(b)));

    /// <summary>Numerically stable logistic function (no overflow for large |x|).</summary>
    public static T Sigmoid<T>(T x) where T : IFloatingPointIeee754<T>
    {
        if (x >= T.Zero) return T.One / (T.One + T.Exp(-x));
        T e = T.Exp(x);
        return e / (T.One + e);
    }

    /// <summary>op(a, b; s) for one element.</summary>
    public static T Binary<T>(BinaryOp op, T a, T b, T s) where T : IFloatingPointIeee754<T> => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Pow => T.Pow(a, b),
        BinaryOp.Maximum => T.Max(a, b),
        BinaryOp.Minimum => T.Min(a, b),
        BinaryOp.Equal => a == b ? T.One : T.Zero,
        BinaryOp.NotEqual => a != b ? T.One : T.Zero,
        BinaryOp.Less => a < b ? T.One : T.Zero,
        BinaryOp.LessEqual => a <= b ? T.One : T.Zero,
        BinaryOp.Greater => a > b ? T.One : T.Zero,
        BinaryOp.GreaterEqual => a >= b ? T.One : T.Zero,
        BinaryOp.ReluGrad => b > T.Zero ? a : T.Zero,
        BinaryOp.LeakyReluGrad => b > T.Zero ? a : a * s,
        BinaryOp.EluGrad => b > T.Zero ? a : a * s * T.Exp(b),
        BinaryOp.SigmoidGrad => a * b * (T.One - b),
        BinaryOp.TanhGrad => a * (T.One - b * b),
        BinaryOp.GeluGrad => InDouble(SmoothMath.GeluGrad, a, b),
        BinaryOp.GeluTanhGrad => InDouble(SmoothMath.GeluTanhGrad, a, b),
        BinaryOp.SiluGrad => InDouble(SmoothMath.SiluGrad, a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };
}
