using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

/// <summary>
/// The differentiable functional API. Each function checks its inputs, runs a gate's forward on the tensors'
/// backend, and records the gate on the <see cref="Tape"/> when a gradient is needed.
/// </summary>
public static partial class Ops
{
    private static Tensor Apply(Gate gate, Func<Tensor> forward, params Tensor[] inputs)
    {
        Tensor output;
        using (GradMode.Disable()) output = forward();
        return Tape.Record(gate, output, inputs);
    }

    // ---- elementwise unary ----

    /// <summary>−x</summary>
    public static Tensor Neg(Tensor x) => UnaryGate.Run(UnaryOp.Neg, x);
    /// <summary>|x|</summary>
    public static Tensor Abs(Tensor x) => UnaryGate.Run(UnaryOp.Abs, x);
    /// <summary>sign(x) (gradient zero)</summary>
    public static Tensor Sign(Tensor x) => UnaryGate.Run(UnaryOp.Sign, x);
    /// <summary>e^x</summary>
    public static Tensor Exp(Tensor x) => UnaryGate.Run(UnaryOp.Exp, x);
    /// <summary>ln x</summary>
    public static Tensor Log(Tensor x) => UnaryGate.Run(UnaryOp.Log, x);
    /// <summary>√x</summary>
    public static Tensor Sqrt(Tensor x) => UnaryGate.Run(UnaryOp.Sqrt, x);
    /// <summary>1/x</summary>
    public static Tensor Reciprocal(Tensor x) => UnaryGate.Run(UnaryOp.Reciprocal, x);
    /// <summary>Logistic sigmoid.</summary>
    public static Tensor Sigmoid(Tensor x) => UnaryGate.Run(UnaryOp.Sigmoid, x);
    /// <summary>tanh x</summary>
    public static Tensor Tanh(Tensor x) => UnaryGate.Run(UnaryOp.Tanh, x);
    /// <summary>max(0, x)</summary>
    public static Tensor Relu(Tensor x) => UnaryGate.Run(UnaryOp.Relu, x);
    /// <summary>x if x &gt; 0 else slope·x</summary>
    public static Tensor LeakyRelu(Tensor x, double slope = 0.01) => UnaryGate.Run(UnaryOp.LeakyRelu, x, slope);
    /// <summary>x if x &gt; 0 else alpha·(e^x − 1)</summary>
    public static Tensor Elu(Tensor x, double alpha = 1.0) => UnaryGate.Run(UnaryOp.Elu, x, alpha);
    /// <summary>x²</summary>
    public static Tensor Square(Tensor x) => UnaryGate.Run(UnaryOp.Square, x);
    /// <summary>x^p for a scalar exponent.</summary>
    public static Tensor Pow(Tensor x, double p) => UnaryGate.Run(UnaryOp.PowScalar, x, p);
    /// <summary>x + s</summary>
    public static Tensor AddScalar(Tensor x, double s) => UnaryGate.Run(UnaryOp.AddScalar, x, s);
    /// <summary>x · s</summary>
    public static Tensor MulScalar(Tensor x, double s) => UnaryGate.Run(UnaryOp.MulScalar, x, s);
    /// <summary>min(max(x, lo), hi); gradient 1 inside [lo, hi], 0 outside.</summary>
    public static Tensor Clip(Tensor x, double lo, double hi)
    {
        if (!(lo <= hi)) throw new ArgumentException($"Clip: lower bound {lo} is above upper bound {hi}");
        return UnaryGate.Run(UnaryOp.Clip, x, lo, hi);
    }

    /// <summary>
    /// GELU as PyTorch's <c>F.gelu</c>: x·Φ(x) with Φ the standard normal CDF (<paramref name="approximate"/> "none"), or
    /// ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ("tanh").
    /// </summary>
    public static Tensor Gelu(Tensor x, string approximate = "none") => approximate switch
    {
        "none" => UnaryGate.Run(UnaryOp.Gelu, x),
        "tanh" => UnaryGate.Run(UnaryOp.GeluTanh, x),
        _ => throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\""),
    };

    /// <summary>SiLU (swish) x·σ(x), as PyTorch's <c>F.silu</c>.</summary>
    public static Tensor Silu(Tensor x) => UnaryGate.Run(UnaryOp.Silu, x);

    /// <summary>
    /// Softplus as PyTorch's <c>F.softplus</c>: log(1 + e^(βx))/β, and x itself where βx &gt; <paramref name="threshold"/>
    /// (for numerical stability; the gradient there is 1).
    /// </summary>
    public static Tensor Softplus(Tensor x, double beta = 1, double threshold = 20)
    {
        if (beta == 0 || !double.IsFinite(beta)) throw new ArgumentException($"Softplus: beta must be finite and nonzero, got {beta}");
        if (double.IsNaN(threshold)) throw new ArgumentException("Softplus: threshold must not be NaN");
        return UnaryGate.Run(UnaryOp.Softplus, x, beta, threshold);
    }

    // ---- elementwise binary (broadcasting) ----

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Add, a, b);
    /// <summary>a − b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Sub, a, b);
    /// <summary>a · b with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Mul, a, b);
    /// <summary>a / b with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Div, a, b);
    /// <summary>a^b with broadcasting.</summary>
    public static Tensor Pow(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Pow, a, b);
    /// <summary>Elementwise maximum (ties share the gradient equally).</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Maximum, a, b);
    /// <summary>Elementwise minimum (ties share the gradient equally).</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => BinaryGate.Run(BinaryOp.Minimum, a, b);

    /// <summary>1 where a == b else 0 (not differentiable).</summary>
    public static Tensor Equal(Tensor a, Tensor b) => Raw.Binary(BinaryOp.Equal, a, b);
    /// <summary>1 where a != b else 0.</summary>
    public static Tensor NotEqual(Tensor a, Tensor b) => Raw.Binary(BinaryOp.NotEqual, a, b);
    /// <summary>1 where a &lt; b else 0.</summary>
    public static Tensor Less(Tensor a, Tensor b) => Raw.Binary(BinaryOp.Less, a, b);
    /// <summary>1 where a &lt;= b else 0.</summary>
    public static Tensor LessEqual(Tensor a, Tensor b) => Raw.Binary(BinaryOp.LessEqual, a, b);
    /// <summary>1 where a &gt; b else 0.</summary>
    public static Tensor Greater(Tensor a, Tensor b) => Raw.Binary(BinaryOp.Greater, a, b);
    /// <summary>1 where a &gt;= b else 0.</summary>
    public static Tensor GreaterEqual(Tensor a, Tensor b) => Raw.Binary(BinaryOp.GreaterEqual, a, b);

    /// <summary>cond != 0 ? a : b with broadcasting; differentiable in a and b.</summary>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        var gate = new WhereGate();
        return Apply(gate, () => gate.Forward(cond, a, b), a, b);
    }

    // ---- views and copies ----

    /// <summary>Same data in a new shape (one dimension may be −1); a view when contiguous, else a copy.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var gate = new ReshapeGate();
        return Apply(gate, () => gate.Forward(x, shape), x);
    }

    /// <summary>Reorders dimensions (a view).</summary>
    public static Tensor Permute(Tensor x, params int[] axes)
    {
        var gate = new PermuteGate();
        return Apply(gate, () => gate.Forward(x, axes), x);
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public static Tensor Transpose(Tensor x, int axis0, int axis1)
    {
        var axes = Enumerable.Range(0, x.Rank).ToArray();
        int a = ShapeUtil.NormalizeAxis("Transpose", axis0, x.Rank), b = ShapeUtil.NormalizeAxis("Transpose", axis1, x.Rank);
        (axes[a], axes[b]) = (axes[b], axes[a]);
        return Permute(x, axes);
    }

    /// <summary>Elements [start, start+length) along <paramref name="axis"/> (a view).</summary>
    public static Tensor Narrow(Tensor x, int axis, int start, int length)
    {
        var gate = new NarrowGate();
        return Apply(gate, () => gate.Forward(x, axis, start, length), x);
    }

    /// <summary>Broadcasts x to <paramref name="shape"/> without copying (stride 0 on expanded dimensions).</summary>
    public static Tensor Expand(Tensor x, params int[] shape)
    {
        var gate = new ExpandGate();
        return Apply(gate, () => gate.Forward(x, shape), x);
    }

    /// <summary>Joins tensors along <paramref name="axis"/> (e.g. channels, as in Inception).</summary>
    public static Tensor Concat(Tensor[] parts, int axis)
    {
        var gate = new ConcatGate();
        return Apply(gate, () => gate.Forward(parts, axis), parts);
    }

    /// <summary>A contiguous tensor with the same values (a view when already contiguous).</summary>
    public static Tensor Contiguous(Tensor x) => Apply(new IdentityGate(), () => Raw.Contiguous(x), x);

    /// <summary>A copy in new storage.</summary>
    public static Tensor Clone(Tensor x) => Apply(new IdentityGate(), () => Raw.Clone(x), x);

    /// <summary>Converts dtype (gradients convert back).</summary>
    public static Tensor Cast(Tensor x, DType dtype)
    {
        var gate = new CastGate(x.DType);
        if (!dtype.IsFloat() || !x.DType.IsFloat()) return Raw.CastTo(x, dtype);
        return Apply(gate, () => Raw.CastTo(x, dtype), x);
    }
}
