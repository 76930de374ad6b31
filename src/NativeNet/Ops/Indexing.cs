using NativeNet.Autodiff;

namespace NativeNet;

// Index ops with PyTorch's semantics. Indices are Int32 tensors (as from Tensor.FromArray(int[])), on any device: they
// are copied to the data's device and never read back on the host except to name a bad index in the error.
// Boolean masks have no dtype of their own: a mask is any tensor whose nonzero elements mean true, e.g. the Float 0/1
// of Ops.Greater or an Int32 0/1 tensor.
public static partial class Ops
{
    /// <summary>
    /// out[i][j][k] = x[index[i][j][k]][j][k] along <paramref name="axis"/> (torch.gather): index has x's rank, Int32, and
    /// no larger than x outside the axis; the result has index's shape. Differentiable in x (the gradient is scatter-added).
    /// </summary>
    public static Tensor Gather(Tensor x, int axis, Tensor index)
    {
        var gate = new GatherGate();
        return Apply(gate, () => gate.Forward(x, axis, index), x);
    }

    /// <summary>
    /// A copy of x with src's values written at index along <paramref name="axis"/> (torch.scatter): index has x's rank,
    /// fits inside src, and inside x outside the axis. Where indices repeat, the last position (row-major) wins.
    /// Differentiable in x (zero gradient where overwritten) and src (the gradient is gathered).
    /// </summary>
    public static Tensor Scatter(Tensor x, int axis, Tensor index, Tensor src)
    {
        var gate = new ScatterGate(accumulate: false);
        return Apply(gate, () => gate.Forward(x, axis, index, src), x, src);
    }

    /// <summary>A copy of x with src's values added at index along <paramref name="axis"/> (torch.scatter_add); shapes as <see cref="Scatter"/>. Differentiable in x and src.</summary>
    public static Tensor ScatterAdd(Tensor x, int axis, Tensor index, Tensor src)
    {
        var gate = new ScatterGate(accumulate: true);
        return Apply(gate, () => gate.Forward(x, axis, index, src), x, src);
    }

    /// <summary>The slices of x at the positions of a 1-D (or scalar) Int32 <paramref name="index"/> along <paramref name="axis"/> (torch.index_select). Differentiable in x.</summary>
    public static Tensor IndexSelect(Tensor x, int axis, Tensor index)
    {
        var gate = new IndexSelectGate();
        return Apply(gate, () => gate.Forward(x, axis, index), x);
    }

    /// <summary>
    /// x with <paramref name="value"/> where <paramref name="mask"/> is true (torch.masked_fill). The mask broadcasts to x's
    /// shape and is true where nonzero, of any dtype (Int32 0/1 or the Float 0/1 of a comparison). Differentiable in x
    /// (zero gradient where filled).
    /// </summary>
    public static Tensor MaskedFill(Tensor x, Tensor mask, double value)
    {
        var gate = new MaskedFillGate();
        return Apply(gate, () => gate.Forward(x, mask, value), x);
    }
}

/// <summary>Shared checks and moves of the index ops.</summary>
internal static class IndexAxis
{
    /// <summary>A contiguous Int32 copy (or view) of <paramref name="index"/> on <paramref name="device"/>.</summary>
    public static Tensor OnDevice(string op, Tensor index, Device device)
    {
        index.ThrowIfDisposed();
        if (index.DType != DType.Int32) throw new DTypeMismatchException($"{op}: index must be Int32, got {index.Describe()}");
        if (index.Device == device) return Raw.Contiguous(index);
        using var dense = Raw.Contiguous(index);
        return dense.To(device);
    }

    /// <summary>The error for the index at flat position <paramref name="position"/> of contiguous <paramref name="index"/> (one element read on the host).</summary>
    public static Exception Outside(string op, Tensor index, int position, int axis, int size)
    {
        using var asVector = Raw.Reshape(index, [index.Numel]);
        using var at = Raw.Narrow(asVector, 0, position, 1);
        int value = at.ToArray<int>()[0];
        var shape = index.ShapeArray;
        int flat = position;
        var coords = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { coords[d] = flat % Math.Max(1, shape[d]); flat /= Math.Max(1, shape[d]); }
        return new ArgumentOutOfRangeException(nameof(index),
            $"{op}: index {value} at position {ShapeUtil.Format(coords)} of index {ShapeUtil.Format(shape)} is out of bounds for dimension {axis} with size {size}");
    }

    /// <summary>Views of <paramref name="t"/> from 0 to <paramref name="shape"/> along every axis (a view).</summary>
    public static Tensor NarrowTo(Tensor t, int[] shape)
    {
        var current = t.Detach();
        for (int d = 0; d < shape.Length; d++)
        {
            if (current.Shape[d] == shape[d]) continue;
            var next = Raw.Narrow(current, d, 0, shape[d]);
            current.Dispose();
            current = next;
        }
        return current;
    }

    /// <summary>Checks that index has x's rank and fits inside <paramref name="x"/> outside <paramref name="axis"/> (or everywhere when <paramref name="everywhere"/>).</summary>
    public static void CheckFits(string op, Tensor index, Tensor x, string what, int axis, bool everywhere)
    {
        if (index.Rank != x.Rank)
            throw new ShapeMismatchException($"{op}: index {ShapeUtil.Format(index.Shape)} and {what} {ShapeUtil.Format(x.Shape)} must have the same rank");
        for (int d = 0; d < x.Rank; d++)
            if ((everywhere || d != axis) && index.Shape[d] > x.Shape[d])
                throw new ShapeMismatchException($"{op}: index {ShapeUtil.Format(index.Shape)} is larger than {what} {ShapeUtil.Format(x.Shape)} in dimension {d}{(everywhere ? "" : $" (other than dimension {axis})")}");
    }

    /// <summary>x gathered at a contiguous device index of x's rank that fits inside x outside the axis.</summary>
    public static Tensor Gather(string op, Tensor x, int axis, Tensor index)
    {
        var region = index.ShapeArray;
        region[axis] = x.Shape[axis];
        using var view = NarrowTo(x, region);
        using var dense = Raw.Contiguous(view);
        var (outer, dim, inner) = ShapeUtil.SplitAt(dense.Shape, axis);
        var y = Tensor.Empty(index.ShapeArray, x.DType, x.Device);
        int bad = x.Backend.GatherAxis(dense, index, y, outer, dim, index.Shape[axis], inner);
        if (bad >= 0)
        {
            y.Dispose();
            throw Outside(op, index, bad, axis, dim);
        }
        return y;
    }

    /// <summary>Writes (or adds) src, already of index's shape, into contiguous <paramref name="dst"/> at a contiguous device index along the axis.</summary>
    public static void ScatterInto(string op, Tensor dst, int axis, Tensor index, Tensor src, bool accumulate)
    {
        var regionShape = index.ShapeArray;
        regionShape[axis] = dst.Shape[axis];
        bool whole = ShapeUtil.SameShape(regionShape, dst.Shape);
        using var view = NarrowTo(dst, regionShape);
        using var region = whole ? view.Detach() : Raw.Clone(view);
        using var values = Raw.Contiguous(src);
        var (outer, dim, inner) = ShapeUtil.SplitAt(region.Shape, axis);
        int bad = dst.Backend.ScatterAxis(values, index, region, outer, dim, index.Shape[axis], inner, accumulate);
        if (bad >= 0) throw Outside(op, index, bad, axis, dim);
        if (!whole) dst.Backend.Copy(region, view);
    }

    /// <summary>g (of index's shape) placed into zeros of <paramref name="shape"/> from the origin.</summary>
    public static Tensor ZeroPadded(Tensor g, int[] shape)
    {
        if (ShapeUtil.SameShape(g.Shape, shape)) return Raw.Contiguous(g);
        var full = Tensor.Zeros(shape, g.DType, g.Device);
        using var slot = NarrowTo(full, g.ShapeArray);
        g.Backend.Copy(g, slot);
        return full;
    }
}

/// <summary>Gate of <see cref="Ops.Gather"/>: backward scatter-adds the gradient into zeros of the input's shape.</summary>
public sealed class GatherGate : Gate
{
    private Tensor? _index;
    private int[] _inputShape = [];
    private int _axis;

    /// <summary>x gathered at index along axis.</summary>
    public Tensor Forward(Tensor x, int axis, Tensor index)
    {
        Raw.CheckFloat(Name, x);
        _axis = ShapeUtil.NormalizeAxis(Name, axis, x.Rank);
        IndexAxis.CheckFits(Name, index, x, "input", _axis, everywhere: false);
        using var ids = IndexAxis.OnDevice(Name, index, x.Device);
        var y = IndexAxis.Gather(Name, x, _axis, ids);
        _index = Save(ids);
        _inputShape = x.ShapeArray;
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
        IndexAxis.ScatterInto("GatherBackward", dx, _axis, _index!, g, accumulate: true);
        return [dx];
    }
}

/// <summary>Gate of <see cref="Ops.Scatter"/> and <see cref="Ops.ScatterAdd"/>: backward passes the gradient to x (zeroed where overwritten) and gathers it for src.</summary>
public sealed class ScatterGate(bool accumulate) : Gate
{
    private Tensor? _index;
    private int[] _srcShape = [];
    private int _axis;

    /// <inheritdoc/>
    public override string Name => accumulate ? "ScatterAdd" : "Scatter";

    /// <summary>A copy of x with src scattered (or added) at index along axis.</summary>
    public Tensor Forward(Tensor x, int axis, Tensor index, Tensor src)
    {
        Raw.CheckFloat(Name, x);
        Raw.CheckSameKind(Name, x, src);
        _axis = ShapeUtil.NormalizeAxis(Name, axis, x.Rank);
        IndexAxis.CheckFits(Name, index, x, "input", _axis, everywhere: false);
        IndexAxis.CheckFits(Name, index, src, "src", _axis, everywhere: true);
        using var ids = IndexAxis.OnDevice(Name, index, x.Device);
        var y = Raw.Clone(x);
        try
        {
            using var values = IndexAxis.NarrowTo(src, ids.ShapeArray);
            IndexAxis.ScatterInto(Name, y, _axis, ids, values, accumulate);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        _index = Save(ids);
        _srcShape = src.ShapeArray;
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        Tensor? dx = null, dsrc = null;
        if (NeedsGrad(0))
        {
            dx = Raw.Clone(g);
            if (!accumulate)
            {
                using var zeros = Tensor.Zeros(_index!.ShapeArray, g.DType, g.Device);
                IndexAxis.ScatterInto(Name + "Backward", dx, _axis, _index, zeros, accumulate: false);
            }
        }
        if (NeedsGrad(1))
        {
            using var picked = IndexAxis.Gather(Name + "Backward", g, _axis, _index!);
            dsrc = IndexAxis.ZeroPadded(picked, _srcShape);
        }
        return [dx, dsrc];
    }
}

/// <summary>Gate of <see cref="Ops.IndexSelect"/>: backward adds each selected slice's gradient back to its source slice.</summary>
public sealed class IndexSelectGate : Gate
{
    private Tensor? _index;
    private int[] _inputShape = [];
    private int _axis;

    /// <summary>The slices of x at index along axis.</summary>
    public Tensor Forward(Tensor x, int axis, Tensor index)
    {
        Raw.CheckFloat(Name, x);
        _axis = ShapeUtil.NormalizeAxis(Name, axis, x.Rank);
        if (index.Rank > 1) throw new ShapeMismatchException($"{Name}: index must be 1-D (or a scalar), got {index.Describe()}");
        using var ids = IndexAxis.OnDevice(Name, index, x.Device);
        using var flat = Raw.Reshape(ids, [ids.Numel]);
        int count = ids.Numel;
        var (outer, dim, inner) = ShapeUtil.SplitAt(x.Shape, _axis);
        using var dense = Raw.Contiguous(x);
        var shape = x.ShapeArray;
        shape[_axis] = count;
        var y = Tensor.Empty(shape, x.DType, x.Device);
        int bad = x.Backend.IndexSelectAxis(dense, flat, y, outer, dim, count, inner);
        if (bad >= 0)
        {
            y.Dispose();
            throw IndexAxis.Outside(Name, flat, bad, _axis, dim);
        }
        _index = Save(flat);
        _inputShape = x.ShapeArray;
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
        using var dense = Raw.Contiguous(g);
        var (outer, dim, inner) = ShapeUtil.SplitAt(_inputShape, _axis);
        dx.Backend.IndexAddAxis(dense, _index!, dx, outer, dim, _index!.Numel, inner);
        return [dx];
    }
}

/// <summary>Gate of <see cref="Ops.MaskedFill"/>: backward passes the gradient where the mask is false.</summary>
public sealed class MaskedFillGate : Gate
{
    private Tensor? _cond;

    /// <summary>x with value where mask is nonzero.</summary>
    public Tensor Forward(Tensor x, Tensor mask, double value)
    {
        Raw.CheckFloat(Name, x);
        mask.ThrowIfDisposed();
        var shape = ShapeUtil.Broadcast(Name, x.Shape, mask.Shape);
        if (!ShapeUtil.SameShape(shape, x.Shape))
            throw new ShapeMismatchException($"{Name}: mask {ShapeUtil.Format(mask.Shape)} does not broadcast to the input's shape {ShapeUtil.Format(x.Shape)}");
        using var onDevice = mask.Device == x.Device ? mask.Detach() : mask.To(x.Device);
        using var cond = Raw.CastTo(onDevice, x.DType);
        using var fill = Tensor.Full([], value, x.DType, x.Device);
        var y = Raw.Where(cond, fill, x);
        _cond = Save(cond);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        using var zero = Tensor.Zeros([], g.DType, g.Device);
        return [Raw.Where(_cond!, zero, g)];
    }
}
