using NativeNet.Autodiff;

namespace NativeNet;

/// <summary>Gate of <see cref="Ops.Reshape"/>: the gradient is reshaped back.</summary>
public sealed class ReshapeGate : Gate
{
    private int[] _inputShape = [];

    /// <summary>x in a new shape.</summary>
    public Tensor Forward(Tensor x, int[] shape)
    {
        _inputShape = x.ShapeArray;
        return Raw.Reshape(x, shape);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Raw.Reshape(g, _inputShape)];
}

/// <summary>Gate of <see cref="Ops.Permute"/>: the gradient is permuted by the inverse permutation.</summary>
public sealed class PermuteGate : Gate
{
    private int[] _inverse = [];

    /// <summary>x with reordered dimensions (a view).</summary>
    public Tensor Forward(Tensor x, int[] axes)
    {
        var y = Raw.Permute(x, axes);
        _inverse = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++) _inverse[ShapeUtil.NormalizeAxis("Permute", axes[i], x.Rank)] = i;
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Raw.Permute(g, _inverse)];
}

/// <summary>Gate of <see cref="Ops.Narrow"/>: the gradient is placed into zeros of the input's shape.</summary>
public sealed class NarrowGate : Gate
{
    private int[] _inputShape = [];
    private int _axis, _start;

    /// <summary>A slice of x along one axis (a view).</summary>
    public Tensor Forward(Tensor x, int axis, int start, int length)
    {
        var y = Raw.Narrow(x, axis, start, length);
        _inputShape = x.ShapeArray;
        _axis = ShapeUtil.NormalizeAxis("Narrow", axis, x.Rank);
        _start = start < 0 ? start + x.Shape[_axis] : start;
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
        using var slot = Raw.Narrow(dx, _axis, _start, g.Shape[_axis]);
        Raw.CopyInto(g, slot);
        return [dx];
    }
}

/// <summary>Gate of <see cref="Ops.Expand"/>: the gradient is summed over the broadcast dimensions.</summary>
public sealed class ExpandGate : Gate
{
    private int[] _inputShape = [];

    /// <summary>x broadcast to <paramref name="shape"/> (a view).</summary>
    public Tensor Forward(Tensor x, int[] shape)
    {
        _inputShape = x.ShapeArray;
        return Raw.BroadcastTo("Expand", x, shape);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Raw.SumTo(g, _inputShape)];
}

/// <summary>Gate of <see cref="Ops.Concat"/>: the gradient is split back into the parts.</summary>
public sealed class ConcatGate : Gate
{
    private int[] _sizes = [];
    private int _axis;

    /// <summary>The parts joined along <paramref name="axis"/>.</summary>
    public Tensor Forward(Tensor[] parts, int axis)
    {
        var y = Raw.Concat(parts, axis);
        _axis = ShapeUtil.NormalizeAxis("Concat", axis, parts[0].Rank);
        _sizes = parts.Select(p => p.Shape[_axis]).ToArray();
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        var grads = new Tensor?[_sizes.Length];
        int start = 0;
        for (int i = 0; i < _sizes.Length; i++)
        {
            if (NeedsGrad(i))
            {
                using var slice = Raw.Narrow(g, _axis, start, _sizes[i]);
                grads[i] = Raw.Contiguous(slice);
            }
            start += _sizes[i];
        }
        return grads;
    }
}

/// <summary>Gate of value-preserving copies (contiguous, clone): the gradient passes through.</summary>
public sealed class IdentityGate : Gate
{
    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [g.Detach()];
}

/// <summary>Gate of a dtype conversion: the gradient is converted back to the input's dtype.</summary>
public sealed class CastGate(DType inputType) : Gate
{
    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Raw.CastTo(g, inputType)];
}
