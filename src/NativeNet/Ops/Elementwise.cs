using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

/// <summary>Gate of every one-input elementwise op; its backward is one fused primitive or a short composition.</summary>
public sealed class UnaryGate(UnaryOp op, double a = 0, double b = 0) : Gate
{
    private Tensor? _x, _y;

    /// <inheritdoc/>
    public override string Name => op.ToString();

    internal static Tensor Run(UnaryOp op, Tensor x, double a = 0, double b = 0)
    {
        var gate = new UnaryGate(op, a, b);
        Tensor y;
        using (GradMode.Disable()) y = gate.Forward(x);
        return Tape.Record(gate, y, x);
    }

    /// <summary>Computes op(x) and caches x or the output, whichever the derivative needs.</summary>
    public Tensor Forward(Tensor x)
    {
        var y = Raw.Unary(op, x, a, b);
        switch (op)
        {
            case UnaryOp.Exp or UnaryOp.Sqrt or UnaryOp.Reciprocal or UnaryOp.Sigmoid or UnaryOp.Tanh: _y = Save(y); break;
            case UnaryOp.Neg or UnaryOp.AddScalar or UnaryOp.MulScalar: _x = Save(x); break; // only the shape is needed
            default: _x = Save(x); break;
        }
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [op switch
    {
        UnaryOp.Neg => Raw.Unary(UnaryOp.Neg, g),
        UnaryOp.Abs => WithMask(g, Raw.Unary(UnaryOp.Sign, _x!)),
        UnaryOp.Sign => Tensor.ZerosLike(_x!),
        UnaryOp.Exp => Raw.Mul(g, _y!),
        UnaryOp.Log => Raw.Div(g, _x!),
        UnaryOp.Sqrt => WithMask(g, Raw.Unary(UnaryOp.Reciprocal, _y!), 0.5),
        UnaryOp.Reciprocal => WithMask(g, Raw.Unary(UnaryOp.Square, _y!), -1),
        UnaryOp.Sigmoid => Raw.Binary(BinaryOp.SigmoidGrad, g, _y!),
        UnaryOp.Tanh => Raw.Binary(BinaryOp.TanhGrad, g, _y!),
        UnaryOp.Relu => Raw.Binary(BinaryOp.ReluGrad, g, _x!),
        UnaryOp.LeakyRelu => Raw.Binary(BinaryOp.LeakyReluGrad, g, _x!, a),
        UnaryOp.Elu => Raw.Binary(BinaryOp.EluGrad, g, _x!, a),
        UnaryOp.Square => WithMask(g, Raw.Detach(_x!), 2),
        UnaryOp.PowScalar => WithMask(g, Raw.Unary(UnaryOp.PowScalar, _x!, a - 1), a),
        UnaryOp.AddScalar => Raw.Clone(g),
        UnaryOp.MulScalar => Raw.MulScalar(g, a),
        UnaryOp.Clip => WithMask(g, ClipMask()),
        UnaryOp.Gelu => Raw.Binary(BinaryOp.GeluGrad, g, _x!),
        UnaryOp.GeluTanh => Raw.Binary(BinaryOp.GeluTanhGrad, g, _x!),
        UnaryOp.Silu => Raw.Binary(BinaryOp.SiluGrad, g, _x!),
        UnaryOp.Softplus => WithMask(g, SoftplusSlope()),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    }];

    /// <summary>g · factor · scale, disposing factor.</summary>
    private static Tensor WithMask(Tensor g, Tensor factor, double scale = 1)
    {
        using (factor)
        {
            if (scale == 1) return Raw.Mul(g, factor);
            using var scaled = Raw.Mul(g, factor);
            return Raw.MulScalar(scaled, scale);
        }
    }

    /// <summary>d softplus/dx = σ(βx), and 1 where βx is above the threshold (the linear branch), as PyTorch's softplus_backward.</summary>
    private Tensor SoftplusSlope()
    {
        using var scaled = Raw.MulScalar(_x!, a);
        using var sigmoid = Raw.Unary(UnaryOp.Sigmoid, scaled);
        using var threshold = Tensor.Scalar(b, _x!.DType, _x.Device);
        using var one = Tensor.Scalar(1, _x.DType, _x.Device);
        using var linear = Raw.Binary(BinaryOp.Greater, scaled, threshold);
        return Raw.Where(linear, one, sigmoid);
    }

    private Tensor ClipMask()
    {
        using var lo = Tensor.Scalar(a, _x!.DType, _x.Device);
        using var hi = Tensor.Scalar(b, _x.DType, _x.Device);
        using var above = Raw.Binary(BinaryOp.GreaterEqual, _x, lo);
        using var below = Raw.Binary(BinaryOp.LessEqual, _x, hi);
        return Raw.Mul(above, below);
    }
}

/// <summary>Gate of the broadcasting binary ops; gradients are summed back to each input's shape.</summary>
public sealed class BinaryGate(BinaryOp op) : Gate
{
    private Tensor? _a, _b, _y;

    /// <inheritdoc/>
    public override string Name => op.ToString();

    internal static Tensor Run(BinaryOp op, Tensor a, Tensor b)
    {
        var gate = new BinaryGate(op);
        Tensor y;
        using (GradMode.Disable()) y = gate.Forward(a, b);
        return Tape.Record(gate, y, a, b);
    }

    /// <summary>Computes a op b with broadcasting and caches what the derivative needs.</summary>
    public Tensor Forward(Tensor a, Tensor b)
    {
        var y = Raw.Binary(op, a, b);
        _a = Save(a);
        _b = Save(b);
        if (op == BinaryOp.Pow) _y = Save(y);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        Tensor? ga = null, gb = null;
        switch (op)
        {
            case BinaryOp.Add:
                if (NeedsGrad(0)) ga = g.Detach();
                if (NeedsGrad(1)) gb = g.Detach();
                break;
            case BinaryOp.Sub:
                if (NeedsGrad(0)) ga = g.Detach();
                if (NeedsGrad(1)) gb = Raw.Unary(UnaryOp.Neg, g);
                break;
            case BinaryOp.Mul:
                if (NeedsGrad(0)) ga = Raw.Mul(g, _b!);
                if (NeedsGrad(1)) gb = Raw.Mul(g, _a!);
                break;
            case BinaryOp.Div:
                if (NeedsGrad(0)) ga = Raw.Div(g, _b!);
                if (NeedsGrad(1))
                {
                    using var q = Raw.Div(_a!, _b!);
                    using var qb = Raw.Div(q, _b!);
                    using var t = Raw.Mul(g, qb);
                    gb = Raw.Unary(UnaryOp.Neg, t);
                }
                break;
            case BinaryOp.Pow:
                if (NeedsGrad(0))
                {
                    using var bm1 = Raw.Unary(UnaryOp.AddScalar, _b!, -1);
                    using var p = Raw.Binary(BinaryOp.Pow, _a!, bm1);
                    using var bp = Raw.Mul(_b!, p);
                    ga = Raw.Mul(g, bp);
                }
                if (NeedsGrad(1))
                {
                    using var ln = Raw.Unary(UnaryOp.Log, _a!);
                    using var yl = Raw.Mul(_y!, ln);
                    gb = Raw.Mul(g, yl);
                }
                break;
            case BinaryOp.Maximum or BinaryOp.Minimum:
                var wins = op == BinaryOp.Maximum ? BinaryOp.Greater : BinaryOp.Less;
                if (NeedsGrad(0)) ga = ShareOfGradient(g, _a!, _b!, wins);
                if (NeedsGrad(1)) gb = ShareOfGradient(g, _b!, _a!, wins);
                break;
            default:
                throw new NotSupportedException($"{op} has no gradient");
        }
        return [Reduced(ga, _a!), Reduced(gb, _b!)];
    }

    /// <summary>g where this input won, half of g on ties.</summary>
    private static Tensor ShareOfGradient(Tensor g, Tensor self, Tensor other, BinaryOp wins)
    {
        using var won = Raw.Binary(wins, self, other);
        using var tie = Raw.Binary(BinaryOp.Equal, self, other);
        using var halfTie = Raw.MulScalar(tie, 0.5);
        using var share = Raw.Add(won, halfTie);
        return Raw.Mul(g, share);
    }

    private static Tensor? Reduced(Tensor? grad, Tensor input)
    {
        if (grad is null || ShapeUtil.SameShape(grad.Shape, input.Shape)) return grad;
        using (grad) return Raw.SumTo(grad, input.Shape);
    }
}

/// <summary>Gate of <see cref="Ops.Where"/>: the gradient goes to a where the condition holds, to b elsewhere.</summary>
public sealed class WhereGate : Gate
{
    private Tensor? _cond, _a, _b;

    /// <summary>cond != 0 ? a : b.</summary>
    public Tensor Forward(Tensor cond, Tensor a, Tensor b)
    {
        _cond = Save(cond);
        _a = Save(a);
        _b = Save(b);
        return Raw.Where(cond, a, b);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        using var zero = Tensor.Scalar(0, g.DType, g.Device);
        Tensor? ga = null, gb = null;
        if (NeedsGrad(0)) { using var t = Raw.Where(_cond!, g, zero); ga = Raw.SumTo(t, _a!.Shape); }
        if (NeedsGrad(1)) { using var t = Raw.Where(_cond!, zero, g); gb = Raw.SumTo(t, _b!.Shape); }
        return [ga, gb];
    }
}
