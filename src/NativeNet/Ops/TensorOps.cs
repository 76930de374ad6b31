using NativeNet.Autodiff;

namespace NativeNet;

/// <summary>How <see cref="Ops.Pad"/> fills the border.</summary>
public enum PadMode
{
    /// <summary>A constant value (negative pads crop).</summary>
    Constant,
    /// <summary>The mirror image without the edge element (each pad below that axis's size).</summary>
    Reflect,
}

public static partial class Ops
{
    /// <summary>Joins same-shaped tensors along a new axis (torch.stack); axis in [−rank−1, rank]. Differentiable.</summary>
    public static Tensor Stack(Tensor[] parts, int axis = 0)
    {
        if (parts.Length == 0) throw new ArgumentException("Stack: no tensors given");
        int rank = parts[0].Rank;
        if (axis < -rank - 1 || axis > rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Stack: axis {axis} is outside [{-rank - 1}, {rank}] for tensors of rank {rank}");
        if (axis < 0) axis += rank + 1;
        foreach (var p in parts)
            if (!ShapeUtil.SameShape(p.Shape, parts[0].Shape))
                throw new ShapeMismatchException($"Stack: every tensor must have the same shape, got {string.Join(", ", parts.Select(q => ShapeUtil.Format(q.Shape)))}");
        var shape = parts[0].ShapeArray.ToList();
        shape.Insert(axis, 1);
        var unsqueezed = parts.Select(p => Reshape(p, [.. shape])).ToArray();
        try { return Concat(unsqueezed, axis); }
        finally { foreach (var u in unsqueezed) u.Dispose(); }
    }

    /// <summary>Views of consecutive pieces of <paramref name="splitSize"/> along the axis, the last smaller when it does not divide (torch.split). Differentiable.</summary>
    public static Tensor[] Split(Tensor x, int splitSize, int axis = 0)
    {
        axis = ShapeUtil.NormalizeAxis("Split", axis, x.Rank);
        int n = x.Shape[axis];
        if (splitSize < 1 && !(splitSize == 0 && n == 0)) throw new ArgumentException($"Split: split size must be positive, got {splitSize}");
        if (n == 0) return [Narrow(x, axis, 0, 0)];
        var sizes = new List<int>();
        for (int start = 0; start < n; start += splitSize) sizes.Add(Math.Min(splitSize, n - start));
        return Split(x, [.. sizes], axis);
    }

    /// <summary>Views of consecutive pieces of the given sizes along the axis; the sizes must add up to its length (torch.split with a list). Differentiable.</summary>
    public static Tensor[] Split(Tensor x, int[] sizes, int axis = 0)
    {
        axis = ShapeUtil.NormalizeAxis("Split", axis, x.Rank);
        if (sizes.Any(s => s < 0) || sizes.Sum() != x.Shape[axis])
            throw new ArgumentException($"Split: sizes [{string.Join(", ", sizes)}] must be non-negative and add up to dimension {axis} of size {x.Shape[axis]} in {x.Describe()}");
        var pieces = new Tensor[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++) pieces[i] = Narrow(x, axis, start, sizes[i]);
        return pieces;
    }

    /// <summary>At most <paramref name="chunks"/> pieces of ⌈n/chunks⌉ along the axis, as torch.chunk (fewer when they run out). Differentiable.</summary>
    public static Tensor[] Chunk(Tensor x, int chunks, int axis = 0)
    {
        if (chunks < 1) throw new ArgumentException($"Chunk: the number of chunks must be positive, got {chunks}");
        axis = ShapeUtil.NormalizeAxis("Chunk", axis, x.Rank);
        int n = x.Shape[axis];
        return Split(x, Math.Max(1, (n + chunks - 1) / chunks), axis);
    }

    /// <summary>
    /// Pads the last dimensions as torch.nn.functional.pad: <paramref name="pad"/> lists (before, after) pairs starting
    /// from the last dimension, e.g. [left, right, top, bottom]. Differentiable.
    /// </summary>
    public static Tensor Pad(Tensor x, int[] pad, PadMode mode = PadMode.Constant, double value = 0)
    {
        Raw.CheckFloat("Pad", x);
        if (pad.Length % 2 != 0 || pad.Length / 2 > x.Rank)
            throw new ArgumentException($"Pad: the pad list [{string.Join(", ", pad)}] must hold (before, after) pairs for at most the {x.Rank} dimensions of {x.Describe()}");
        if (mode == PadMode.Constant)
        {
            var gate = new ConstantPadGate();
            return Apply(gate, () => gate.Forward(x, pad, value), x);
        }
        if (value != 0) throw new ArgumentException($"Pad: a value ({value}) is only used by constant padding, not {mode}");
        var current = x;
        for (int pair = 0; pair < pad.Length / 2; pair++)
        {
            int axis = x.Rank - 1 - pair, before = pad[2 * pair], after = pad[2 * pair + 1], n = x.Shape[axis];
            if (before == 0 && after == 0) continue;
            if (before < 0 || after < 0 || before >= n || after >= n)
                throw new ArgumentException($"Pad: reflect padding ({before}, {after}) of dimension {axis} must be non-negative and below its size {n} in {x.Describe()}");
            // Reflection is a gather along the axis: source position |k − before| mirrored at the far edge.
            var positions = new int[before + n + after];
            for (int k = 0; k < positions.Length; k++)
            {
                int p = Math.Abs(k - before);
                positions[k] = p < n ? p : 2 * (n - 1) - p;
            }
            using var index = Tensor.FromArray(positions);
            var next = IndexSelect(current, axis, index);
            if (!ReferenceEquals(current, x)) current.Dispose();
            current = next;
        }
        return ReferenceEquals(current, x) ? Clone(x) : current;
    }

    /// <summary>The lower triangle of the last two dimensions: elements with column − row ≤ <paramref name="diagonal"/> kept, the rest 0 (torch.tril). Differentiable.</summary>
    public static Tensor Tril(Tensor x, int diagonal = 0)
    {
        var gate = new TriangleGate(lower: true, diagonal);
        return Apply(gate, () => gate.Forward(x), x);
    }

    /// <summary>The upper triangle of the last two dimensions: elements with column − row ≥ <paramref name="diagonal"/> kept, the rest 0 (torch.triu). Differentiable.</summary>
    public static Tensor Triu(Tensor x, int diagonal = 0)
    {
        var gate = new TriangleGate(lower: false, diagonal);
        return Apply(gate, () => gate.Forward(x), x);
    }

    /// <summary>Running sums along the axis (torch.cumsum). Differentiable: the gradient is the reversed running sum.</summary>
    public static Tensor CumSum(Tensor x, int axis)
    {
        var gate = new CumSumGate();
        return Apply(gate, () => gate.Forward(x, axis), x);
    }

    /// <summary>
    /// The <paramref name="k"/> largest (or smallest) elements along the axis and their Int32 positions (torch.topk), best
    /// first. NaN counts as larger than every number; equal values come in index order (PyTorch leaves the order of ties
    /// unspecified, so its indices may name other equal elements). <paramref name="sorted"/> = false is accepted: the
    /// order is then unspecified, and is the sorted one. Differentiable in the values (the gradient goes to the picked elements).
    /// </summary>
    public static (Tensor Values, Tensor Indices) TopK(Tensor x, int k, int axis = -1, bool largest = true, bool sorted = true)
    {
        _ = sorted;
        var gate = new TopKGate();
        Tensor indices = null!;
        var values = Apply(gate, () => { var (v, i) = gate.Forward(x, k, axis, largest); indices = i; return v; }, x);
        return (values, indices);
    }
}

/// <summary>Gate of constant <see cref="Ops.Pad"/>: the gradient is the interior of the upstream gradient.</summary>
public sealed class ConstantPadGate : Gate
{
    private int[] _inputShape = [];
    private (int Axis, int Before, int After)[] _pads = [];

    /// <inheritdoc/>
    public override string Name => "Pad";

    /// <summary>x with a constant border (negative pads crop).</summary>
    public Tensor Forward(Tensor x, int[] pad, double value)
    {
        var shape = x.ShapeArray;
        _pads = new (int, int, int)[pad.Length / 2];
        for (int pair = 0; pair < _pads.Length; pair++)
        {
            int axis = x.Rank - 1 - pair;
            _pads[pair] = (axis, pad[2 * pair], pad[2 * pair + 1]);
            shape[axis] += pad[2 * pair] + pad[2 * pair + 1];
            if (shape[axis] < 0 || x.Shape[axis] + Math.Min(0, pad[2 * pair]) + Math.Min(0, pad[2 * pair + 1]) < 0)
                throw new ArgumentException($"Pad: padding ({pad[2 * pair]}, {pad[2 * pair + 1]}) crops dimension {axis} of size {x.Shape[axis]} below zero in {x.Describe()}");
        }
        _inputShape = x.ShapeArray;
        var y = Tensor.Full(shape, value, x.DType, x.Device);
        var (inner, outer) = Windows(x, y);
        using (inner)
        using (outer)
            y.Backend.Copy(inner, outer);
        return y;
    }

    /// <summary>The overlap of the input and the padded output: its view in each.</summary>
    private (Tensor InInput, Tensor InOutput) Windows(Tensor input, Tensor output)
    {
        var a = input.Detach();
        var b = output.Detach();
        foreach (var (axis, before, after) in _pads)
        {
            int length = input.Shape[axis] + Math.Min(0, before) + Math.Min(0, after);
            var na = Raw.Narrow(a, axis, Math.Max(0, -before), length);
            var nb = Raw.Narrow(b, axis, Math.Max(0, before), length);
            a.Dispose();
            b.Dispose();
            (a, b) = (na, nb);
        }
        return (a, b);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
        var (inner, outer) = Windows(dx, g);
        using (inner)
        using (outer)
            dx.Backend.Copy(outer, inner);
        return [dx];
    }
}

/// <summary>Gate of <see cref="Ops.Tril"/> and <see cref="Ops.Triu"/>: forward and backward keep the same triangle.</summary>
public sealed class TriangleGate(bool lower, int diagonal) : Gate
{
    private Tensor? _keep;

    /// <inheritdoc/>
    public override string Name => lower ? "Tril" : "Triu";

    /// <summary>x with the other triangle set to 0.</summary>
    public Tensor Forward(Tensor x)
    {
        Raw.CheckFloat(Name, x);
        if (x.Rank < 2) throw new ShapeMismatchException($"{Name}: input must have at least 2 dimensions, got {x.Describe()}");
        int rows = x.Shape[^2], cols = x.Shape[^1];
        var keep = new double[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                keep[r * cols + c] = (lower ? c - r <= diagonal : c - r >= diagonal) ? 1 : 0;
        using var host = Tensor.FromArray(keep, rows, cols);
        using var mask = Raw.CastTo(host, x.DType);
        using var onDevice = x.Device == mask.Device ? mask.Detach() : mask.To(x.Device);
        _keep = Save(onDevice);
        return Keep(x);
    }

    private Tensor Keep(Tensor t)
    {
        using var zero = Tensor.Zeros([], t.DType, t.Device);
        return Raw.Where(_keep!, t, zero);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Keep(g)];
}

/// <summary>Gate of <see cref="Ops.CumSum"/>: the gradient is the running sum of the upstream gradient taken from the end.</summary>
public sealed class CumSumGate : Gate
{
    private int _axis;

    /// <summary>Running sums of x along axis.</summary>
    public Tensor Forward(Tensor x, int axis)
    {
        Raw.CheckFloat(Name, x);
        _axis = ShapeUtil.NormalizeAxis(Name, axis, x.Rank);
        return Run(x, reverse: false);
    }

    private Tensor Run(Tensor t, bool reverse)
    {
        using var dense = Raw.Contiguous(t);
        var (outer, dim, inner) = ShapeUtil.SplitAt(dense.Shape, _axis);
        var y = Tensor.EmptyLike(dense);
        t.Backend.CumSum(dense, y, outer, dim, inner, reverse);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g) => [Run(g, reverse: true)];
}

/// <summary>Gate of <see cref="Ops.TopK"/>: the gradient of the values is scatter-added at their positions.</summary>
public sealed class TopKGate : Gate
{
    private Tensor? _indices;
    private int[] _inputShape = [];
    private int[] _originalShape = [];
    private int _axis;

    /// <summary>The k best values along axis and their Int32 positions.</summary>
    public (Tensor Values, Tensor Indices) Forward(Tensor x, int k, int axis, bool largest)
    {
        Raw.CheckFloat(Name, x);
        _axis = ShapeUtil.NormalizeAxis(Name, axis, Math.Max(1, x.Rank));
        using var dense = x.Rank == 0 ? Raw.Reshape(x, [1]) : Raw.Contiguous(x);
        int n = dense.Shape[_axis];
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"{Name}: k = {k} is outside [0, {n}] for dimension {_axis} of {x.Describe()}");
        var (outer, dim, inner) = ShapeUtil.SplitAt(dense.Shape, _axis);
        var shape = dense.ShapeArray;
        shape[_axis] = k;
        var values = Tensor.Empty(shape, x.DType, x.Device);
        var indices = Tensor.Empty(shape, DType.Int32, x.Device);
        x.Backend.TopK(dense, values, indices, outer, dim, inner, k, largest);
        _indices = Save(indices);
        _inputShape = dense.ShapeArray;
        _originalShape = x.ShapeArray;
        if (x.Rank == 0)
        {
            using (values)
            using (indices)
                return (Raw.Reshape(values, []), Raw.Reshape(indices, []));
        }
        return (values, indices);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
        using var dense = Raw.Contiguous(g);
        var (outer, dim, inner) = ShapeUtil.SplitAt(_inputShape, _axis);
        dx.Backend.ScatterAxis(dense, _indices!, dx, outer, dim, _indices!.Shape[_axis], inner, accumulate: true);
        if (_originalShape.Length == _inputShape.Length) return [dx];
        using (dx) return [Raw.Reshape(dx, _originalShape)];
    }
}
