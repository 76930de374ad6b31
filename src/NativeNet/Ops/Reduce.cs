using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>Sum over <paramref name="axes"/> (null or empty: all), keeping reduced dimensions as size 1 when asked.</summary>
    public static Tensor Sum(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        var gate = new ReduceGate(ReduceOp.Sum, mean: false);
        return Apply(gate, () => gate.Forward(x, axes, keepDims), x);
    }

    /// <summary>Mean over <paramref name="axes"/> (null: all).</summary>
    public static Tensor Mean(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        var gate = new ReduceGate(ReduceOp.Sum, mean: true);
        return Apply(gate, () => gate.Forward(x, axes, keepDims), x);
    }

    /// <summary>Maximum over <paramref name="axes"/> (null: all); ties share the gradient equally.</summary>
    public static Tensor Max(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        var gate = new ReduceGate(ReduceOp.Max, mean: false);
        return Apply(gate, () => gate.Forward(x, axes, keepDims), x);
    }

    /// <summary>Minimum over <paramref name="axes"/> (null: all); ties share the gradient equally.</summary>
    public static Tensor Min(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        var gate = new ReduceGate(ReduceOp.Min, mean: false);
        return Apply(gate, () => gate.Forward(x, axes, keepDims), x);
    }

    /// <summary>Variance over <paramref name="axes"/>; <paramref name="unbiased"/> divides by n−1 (as NumPy's ddof=1).</summary>
    public static Tensor Var(Tensor x, int[]? axes = null, bool keepDims = false, bool unbiased = false)
    {
        var norm = ShapeUtil.NormalizeAxes("Var", axes, x.Rank);
        int n = norm.Aggregate(1, (acc, a) => acc * x.Shape[a]);
        if (unbiased && n < 2) throw new ArgumentException($"Var: the unbiased variance needs at least 2 elements per group, {x.Describe()} has {n}");
        using var scope = new TensorScope();
        var mean = Mean(x, norm, keepDims: true);
        var diff = Sub(x, mean);
        var sq = Square(diff);
        var sum = Sum(sq, norm, keepDims);
        return scope.Keep(MulScalar(sum, 1.0 / (unbiased ? n - 1 : n)));
    }

    /// <summary>Standard deviation, √Var.</summary>
    public static Tensor Std(Tensor x, int[]? axes = null, bool keepDims = false, bool unbiased = false)
    {
        using var v = Var(x, axes, keepDims, unbiased);
        return Sqrt(v);
    }

    /// <summary>Index of the first maximum along <paramref name="axis"/>, as Int32 (not differentiable).</summary>
    public static Tensor ArgMax(Tensor x, int axis, bool keepDims = false) => Raw.ArgMax(x, axis, keepDims);
}

/// <summary>Gate of sum, mean, max and min over axes.</summary>
public sealed class ReduceGate(ReduceOp op, bool mean) : Gate
{
    private Tensor? _x, _yKeep;
    private int[] _axes = [];
    private int[] _keepShape = [];
    private int[] _inputShape = [];
    private int _count;

    /// <inheritdoc/>
    public override string Name => mean ? "Mean" : op.ToString();

    /// <summary>Reduces x over the axes.</summary>
    public Tensor Forward(Tensor x, int[]? axes, bool keepDims)
    {
        _axes = ShapeUtil.NormalizeAxes(Name, axes, x.Rank);
        _inputShape = x.ShapeArray;
        _count = _axes.Aggregate(1, (acc, a) => acc * x.Shape[a]);
        var yKeep = Raw.Reduce(op, x, _axes, keepDims: true);
        _keepShape = yKeep.ShapeArray;
        if (mean)
        {
            if (_count == 0) { yKeep.Dispose(); throw new ArgumentException($"Mean: no elements to average in {x.Describe()} over axes [{string.Join(", ", _axes)}]"); }
            var scaled = Raw.MulScalar(yKeep, 1.0 / _count);
            yKeep.Dispose();
            yKeep = scaled;
        }
        if (op != ReduceOp.Sum) { _x = Save(x); _yKeep = Save(yKeep); }
        if (keepDims) return yKeep;
        var squeezed = Enumerable.Range(0, x.Rank).Where(i => !_axes.Contains(i)).Select(i => x.Shape[i]).ToArray();
        var y = Raw.Reshape(yKeep, squeezed);
        yKeep.Dispose();
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        using var gKeep = Raw.Reshape(g, _keepShape);
        if (op == ReduceOp.Sum)
        {
            using var spread = Raw.BroadcastTo(Name, gKeep, _inputShape);
            return [mean ? Raw.MulScalar(spread, 1.0 / _count) : Raw.Contiguous(spread)];
        }
        using var isExtreme = Raw.Binary(BinaryOp.Equal, _x!, _yKeep!);
        using var ties = Raw.Sum(isExtreme, _axes, keepDims: true);
        using var share = Raw.Div(gKeep, ties);
        return [Raw.Mul(isExtreme, share)];
    }

}
