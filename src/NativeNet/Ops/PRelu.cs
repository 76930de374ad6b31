using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// Parametric ReLU: x where x &gt; 0, else weight·x, with a learned slope <paramref name="weight"/> of shape [1]
    /// (shared) or [C] (one per channel, channels on axis 1 of x).
    /// </summary>
    public static Tensor PRelu(Tensor x, Tensor weight)
    {
        var gate = new PReluGate();
        return Apply(gate, () => gate.Forward(x, weight), x, weight);
    }
}

/// <summary>Gate of PReLU: dx = dy where x &gt; 0 else dy·w; dw = Σ dy·x over the elements where x ≤ 0.</summary>
public sealed class PReluGate : Gate
{
    private Tensor? _x, _positive, _slope;
    private int[] _weightShape = [];

    /// <inheritdoc/>
    public override string Name => "PRelu";

    /// <summary>Computes the activation and caches x, the positive mask and the broadcastable slope.</summary>
    public Tensor Forward(Tensor x, Tensor weight)
    {
        Raw.CheckFloat(Name, x);
        Raw.CheckSameKind(Name, x, weight);
        int channels = x.Rank >= 2 ? x.Shape[1] : 1;
        if (weight.Rank != 1 || (weight.Shape[0] != 1 && weight.Shape[0] != channels))
            throw new ShapeMismatchException($"{Name}: weight {ShapeUtil.Format(weight.Shape)} must be [1] or [{channels}] (channels on axis 1) for input {ShapeUtil.Format(x.Shape)}");
        _weightShape = weight.ShapeArray;
        var slopeShape = Enumerable.Range(0, x.Rank).Select(a => a == 1 ? weight.Shape[0] : 1).ToArray();
        using var slope = Raw.Reshape(weight, slopeShape);
        using var zero = Tensor.Zeros([], x.DType, x.Device);
        using var positive = Raw.Binary(BinaryOp.Greater, x, zero);
        using var scaled = Raw.Mul(x, slope);
        _x = Save(x);
        _positive = Save(positive);
        _slope = Save(slope);
        return Raw.Where(positive, x, scaled);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dy)
    {
        Tensor? dx = null, dw = null;
        if (NeedsGrad(0))
        {
            using var scaled = Raw.Mul(dy, _slope!);
            dx = Raw.Where(_positive!, dy, scaled);
        }
        if (NeedsGrad(1))
        {
            using var zero = Tensor.Zeros([], dy.DType, dy.Device);
            using var dyX = Raw.Mul(dy, _x!);
            using var negativePart = Raw.Where(_positive!, zero, dyX);
            using var summed = Raw.SumTo(negativePart, _slope!.Shape);
            dw = Raw.Reshape(summed, _weightShape);
        }
        return [dx, dw];
    }
}
