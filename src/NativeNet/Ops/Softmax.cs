using NativeNet.Autodiff;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>e^x / Σ e^x along <paramref name="axis"/>, shifted by the maximum so large inputs never overflow.</summary>
    public static Tensor Softmax(Tensor x, int axis = -1)
    {
        var gate = new SoftmaxGate(log: false);
        return Apply(gate, () => gate.Forward(x, axis), x);
    }

    /// <summary>log softmax along <paramref name="axis"/>, computed as x − max − log Σ e^(x − max).</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1)
    {
        var gate = new SoftmaxGate(log: true);
        return Apply(gate, () => gate.Forward(x, axis), x);
    }
}

/// <summary>Gate of softmax and log-softmax; backward uses only the output.</summary>
public sealed class SoftmaxGate(bool log) : Gate
{
    private Tensor? _y;
    private int _axis;

    /// <inheritdoc/>
    public override string Name => log ? "LogSoftmax" : "Softmax";

    /// <summary>Softmax of x along the axis.</summary>
    public Tensor Forward(Tensor x, int axis)
    {
        _axis = ShapeUtil.NormalizeAxis(Name, axis, x.Rank);
        var y = Raw.Softmax(x, _axis, log);
        _y = Save(y);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Raw.SoftmaxBackward(_y!, g, _axis, log)];
}
