using NativeNet.Backends;

namespace NativeNet;

/// <summary>
/// Eager computation without recording: shape and dtype checks, output allocation, and the call into the
/// tensor's backend. Gates build their forward and backward rules from these functions, so each rule is
/// written once for every backend. Every function returns a new tensor (possibly a view) the caller owns.
/// </summary>
internal static class Raw
{
    // ---- checks ----

    public static void CheckFloat(string op, Tensor t)
    {
        t.ThrowIfDisposed();
        if (!t.DType.IsFloat()) throw new DTypeMismatchException($"{op}: expected a Float32 or Float64 tensor, got {t.Describe()}");
    }

    public static void CheckSameKind(string op, Tensor a, Tensor b)
    {
        a.ThrowIfDisposed();
        b.ThrowIfDisposed();
        if (a.DType != b.DType) throw new DTypeMismatchException($"{op}: dtype mismatch, {a.Describe()} vs {b.Describe()}");
        if (a.Device != b.Device) throw new ArgumentException($"{op}: tensors are on different devices, {a.Describe()} vs {b.Describe()}");
    }

    // ---- views ----

    public static Tensor BroadcastTo(string op, Tensor t, int[] shape)
    {
        t.ThrowIfDisposed(op);
        ShapeUtil.Numel(shape, op);
        if (ShapeUtil.SameShape(t.Shape, shape)) return t.Detach();
        int rank = shape.Length, lead = rank - t.Rank;
        if (lead < 0) throw new ShapeMismatchException($"{op}: cannot broadcast {ShapeUtil.Format(t.Shape)} to the lower-rank shape {ShapeUtil.Format(shape)}");
        var strides = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            if (i < lead) { strides[i] = 0; continue; }
            int d = t.Shape[i - lead];
            if (d == shape[i]) strides[i] = t.Strides[i - lead];
            else if (d == 1) strides[i] = 0;
            else throw new ShapeMismatchException($"{op}: cannot broadcast {ShapeUtil.Format(t.Shape)} to {ShapeUtil.Format(shape)}");
        }
        return t.View((int[])shape.Clone(), strides, t.Offset, op);
    }

    /// <summary>Resolves one -1 and checks the element count.</summary>
    public static int[] ResolveShape(string op, Tensor t, int[] shape)
    {
        var result = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1 in {ShapeUtil.Format(shape)}");
                infer = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"{op}: invalid dimension {result[i]} in {ShapeUtil.Format(shape)}");
            else known = Math.Min(known * result[i], (long)int.MaxValue + 1); // saturates: a product beyond int32 can match no tensor
        }
        if (infer >= 0)
        {
            if (known == 0 || t.Numel % known != 0)
                throw new ShapeMismatchException($"{op}: cannot reshape {t.Describe()} ({t.Numel} elements) to {ShapeUtil.Format(shape)}");
            result[infer] = (int)(t.Numel / known);
        }
        if (ShapeUtil.Numel(result, op) != t.Numel)
            throw new ShapeMismatchException($"{op}: cannot reshape {t.Describe()} ({t.Numel} elements) to {ShapeUtil.Format(shape)} ({ShapeUtil.Numel(result)} elements)");
        return result;
    }

    /// <summary>A view when the data is contiguous, else a contiguous copy reshaped.</summary>
    public static Tensor Reshape(Tensor t, int[] shape)
    {
        t.ThrowIfDisposed();
        var resolved = ResolveShape("Reshape", t, shape);
        if (t.IsContiguous) return t.View(resolved, ShapeUtil.ContiguousStrides(resolved), t.Offset, "Reshape");
        if (SizeOneStrides(t, resolved) is { } strides) return t.View(resolved, strides, t.Offset, "Reshape");
        using var dense = Contiguous(t);
        return dense.View(resolved, ShapeUtil.ContiguousStrides(resolved), dense.Offset, "Reshape");
    }

    /// <summary>
    /// Strides that view t in <paramref name="shape"/> when the two shapes differ only by dimensions of size 1 (unsqueeze,
    /// squeeze): the other dimensions keep their strides, so any view, expanded or strided, reshapes without a copy.
    /// </summary>
    private static int[]? SizeOneStrides(Tensor t, int[] shape)
    {
        var kept = new List<int>();
        for (int d = 0; d < t.Rank; d++) if (t.Shape[d] != 1) kept.Add(d);
        var strides = new int[shape.Length];
        int next = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) { strides[d] = 1; continue; }
            if (next >= kept.Count || t.Shape[kept[next]] != shape[d]) return null;
            strides[d] = t.Strides[kept[next++]];
        }
        return next == kept.Count ? strides : null;
    }

    public static Tensor Permute(Tensor t, int[] axes)
    {
        t.ThrowIfDisposed();
        if (axes.Length != t.Rank) throw new ArgumentException($"Permute: {axes.Length} axes given for a tensor of rank {t.Rank}");
        var norm = axes.Select(a => ShapeUtil.NormalizeAxis("Permute", a, t.Rank)).ToArray();
        if (norm.Distinct().Count() != norm.Length) throw new ArgumentException($"Permute: axes [{string.Join(", ", axes)}] are not a permutation");
        return t.View(norm.Select(a => t.Shape[a]).ToArray(), norm.Select(a => t.Strides[a]).ToArray(), t.Offset, "Permute");
    }

    public static Tensor Narrow(Tensor t, int axis, int start, int length)
    {
        t.ThrowIfDisposed();
        axis = ShapeUtil.NormalizeAxis("Narrow", axis, t.Rank);
        long first = start < 0 ? (long)start + t.Shape[axis] : start;
        if (first < 0 || length < 0 || first + length > t.Shape[axis])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: range [{first}, {first + length}) (start {start}, length {length}) is outside dimension {axis} of size {t.Shape[axis]} in {t.Describe()}");
        var shape = t.ShapeArray;
        shape[axis] = length;
        return t.View(shape, (int[])t.StridesRef.Clone(), t.Offset + first * t.Strides[axis], "Narrow");
    }

    /// <summary>A view with explicit geometry over t's storage (offset in elements from the storage start); checked against the storage.</summary>
    public static Tensor AsStrided(Tensor t, int[] shape, int[] strides, long offset)
    {
        t.ThrowIfDisposed("AsStrided");
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(strides);
        return t.View((int[])shape.Clone(), (int[])strides.Clone(), offset, "AsStrided");
    }

    // ---- copies ----

    public static Tensor Detach(Tensor t)
    {
        t.ThrowIfDisposed();
        return t.Detach();
    }

    public static Tensor Contiguous(Tensor t)
    {
        t.ThrowIfDisposed();
        if (t.IsContiguous) return t.Detach();
        var y = Tensor.EmptyLike(t);
        t.Backend.Copy(t, y);
        return y;
    }

    public static Tensor Clone(Tensor t)
    {
        t.ThrowIfDisposed();
        var y = Tensor.EmptyLike(t);
        t.Backend.Copy(t, y);
        return y;
    }

    public static Tensor CastTo(Tensor t, DType dtype, bool forceCopy = false, Backend? backend = null)
    {
        t.ThrowIfDisposed();
        if (t.DType == dtype && !forceCopy) return t.Detach();
        var y = new Tensor((backend ?? t.Backend).Allocate(dtype, t.Numel, zeroed: false), t.ShapeArray);
        (backend ?? t.Backend).Copy(t, y);
        return y;
    }

    /// <summary>dst (any strides) = src broadcast to dst's shape.</summary>
    public static void CopyInto(Tensor src, Tensor dst)
    {
        CheckSameKind("CopyInto", src, dst);
        using var expanded = BroadcastTo("CopyInto", src, dst.ShapeArray);
        dst.Backend.Copy(expanded, dst);
    }

    // ---- elementwise ----

    public static Tensor Unary(UnaryOp op, Tensor x, double a = 0, double b = 0)
    {
        CheckFloat(op.ToString(), x);
        var y = Tensor.EmptyLike(x);
        x.Backend.Unary(op, x, y, a, b);
        return y;
    }

    public static Tensor Binary(BinaryOp op, Tensor a, Tensor b, double scalar = 0)
    {
        string name = op.ToString();
        CheckFloat(name, a);
        CheckFloat(name, b);
        CheckSameKind(name, a, b);
        var shape = ShapeUtil.Broadcast(name, a.Shape, b.Shape);
        using var ea = BroadcastTo(name, a, shape);
        using var eb = BroadcastTo(name, b, shape);
        var y = Tensor.Empty(shape, a.DType, a.Device);
        a.Backend.Binary(op, ea, eb, y, scalar);
        return y;
    }

    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b);
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, a, b);
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, a, b);
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, a, b);
    public static Tensor MulScalar(Tensor a, double s) => Unary(UnaryOp.MulScalar, a, s);

    /// <summary>dst += src (src broadcast to dst's shape); dst must be contiguous.</summary>
    public static void AddInPlace(Tensor dst, Tensor src)
    {
        CheckSameKind("AddInPlace", dst, src);
        if (!dst.IsContiguous) throw new InvalidOperationException($"AddInPlace: destination {dst.Describe()} must be contiguous");
        using var expanded = BroadcastTo("AddInPlace", src, dst.ShapeArray);
        dst.Backend.Binary(BinaryOp.Add, dst, expanded, dst, 0);
    }

    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        CheckFloat("Where", a);
        CheckSameKind("Where", a, b);
        CheckSameKind("Where", cond, a);
        var shape = ShapeUtil.Broadcast("Where", ShapeUtil.Broadcast("Where", cond.Shape, a.Shape), b.Shape);
        using var ec = BroadcastTo("Where", cond, shape);
        using var ea = BroadcastTo("Where", a, shape);
        using var eb = BroadcastTo("Where", b, shape);
        var y = Tensor.Empty(shape, a.DType, a.Device);
        a.Backend.Where(ec, ea, eb, y);
        return y;
    }

    // ---- reductions ----

    /// <summary>Reduces over <paramref name="axes"/> (null = all), one axis at a time on contiguous data.</summary>
    public static Tensor Reduce(ReduceOp op, Tensor x, int[]? axes, bool keepDims)
    {
        string name = op.ToString();
        CheckFloat(name, x);
        var norm = ShapeUtil.NormalizeAxes(name, axes, x.Rank);
        var current = Contiguous(x);
        foreach (int axis in norm)
        {
            var (outer, dim, inner) = ShapeUtil.SplitAt(current.Shape, axis);
            if (dim == 0 && op != ReduceOp.Sum)
            {
                current.Dispose();
                throw new ArgumentException($"{name}: cannot reduce the empty dimension {axis} of {x.Describe()}");
            }
            var shape = current.ShapeArray;
            shape[axis] = 1;
            var y = Tensor.Empty(shape, x.DType, x.Device);
            if (y.Numel > 0 && dim == 0) y.Backend.Fill(y, 0); // the empty sum
            else if (y.Numel > 0) x.Backend.Reduce(op, current, y, outer, dim, inner);
            current.Dispose();
            current = y;
        }
        if (keepDims) return current;
        var squeezed = Enumerable.Range(0, x.Rank).Where(i => !norm.Contains(i)).Select(i => x.Shape[i]).ToArray();
        var result = current.View(squeezed, ShapeUtil.ContiguousStrides(squeezed), current.Offset, name);
        current.Dispose();
        return result;
    }

    public static Tensor Sum(Tensor x, int[]? axes = null, bool keepDims = false) => Reduce(ReduceOp.Sum, x, axes, keepDims);

    /// <summary>Sums a broadcast result back to <paramref name="shape"/> (the gradient rule of broadcasting).</summary>
    public static Tensor SumTo(Tensor g, ReadOnlySpan<int> shape)
    {
        if (ShapeUtil.SameShape(g.Shape, shape)) return g.Detach();
        int lead = g.Rank - shape.Length;
        var axes = new List<int>();
        for (int i = 0; i < g.Rank; i++)
            if (i < lead || (shape[i - lead] == 1 && g.Shape[i] != 1)) axes.Add(i);
        using var summed = Sum(g, axes.ToArray(), keepDims: true);
        return Reshape(summed, shape.ToArray());
    }

    public static Tensor ArgMax(Tensor x, int axis, bool keepDims)
    {
        CheckFloat("ArgMax", x);
        axis = ShapeUtil.NormalizeAxis("ArgMax", axis, x.Rank);
        if (x.Shape[axis] == 0) throw new ArgumentException($"ArgMax: dimension {axis} of {x.Describe()} is empty");
        using var dense = Contiguous(x);
        var (outer, dim, inner) = ShapeUtil.SplitAt(dense.Shape, axis);
        var shape = x.ShapeArray;
        shape[axis] = 1;
        var y = Tensor.Empty(shape, DType.Int32, x.Device);
        if (y.Numel > 0) x.Backend.ArgMax(dense, y, outer, dim, inner);
        if (keepDims) return y;
        var squeezed = x.ShapeArray.Where((_, i) => i != axis).ToArray();
        var result = y.View(squeezed, ShapeUtil.ContiguousStrides(squeezed), 0, "ArgMax");
        y.Dispose();
        return result;
    }

    // ---- softmax ----

    public static Tensor Softmax(Tensor x, int axis, bool log)
    {
        string name = log ? "LogSoftmax" : "Softmax";
        CheckFloat(name, x);
        axis = ShapeUtil.NormalizeAxis(name, axis, x.Rank);
        using var dense = Contiguous(x);
        var (outer, dim, inner) = ShapeUtil.SplitAt(dense.Shape, axis);
        var y = Tensor.EmptyLike(dense);
        if (y.Numel > 0) x.Backend.Softmax(dense, y, outer, dim, inner, log);
        return y;
    }

    public static Tensor SoftmaxBackward(Tensor y, Tensor dy, int axis, bool log)
    {
        using var g = Contiguous(dy);
        var (outer, dim, inner) = ShapeUtil.SplitAt(y.Shape, axis);
        var dx = Tensor.EmptyLike(y);
        if (dx.Numel > 0) y.Backend.SoftmaxBackward(y, g, dx, outer, dim, inner, log);
        return dx;
    }

    // ---- matrix product ----

    /// <summary>
    /// op(a)·op(b) for rank-2 or rank-3 operands (a rank-2 operand is shared by every batch entry).
    /// Strided views are passed to GEMM as transposes where their layout allows, else copied. With
    /// <paramref name="bias"/> (broadcast to the result's shape) the product is added to it inside the GEMM (beta = 1),
    /// saving the separate pass over the result that adding it afterwards costs.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false, string op = "MatMul", Tensor? bias = null)
    {
        CheckFloat(op, a);
        CheckFloat(op, b);
        CheckSameKind(op, a, b);
        if (a.Rank is < 2 or > 3 || b.Rank is < 2 or > 3)
            throw new ShapeMismatchException($"{op}: operands must have rank 2 or 3, got {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}");
        int batchA = a.Rank == 3 ? a.Shape[0] : 1, batchB = b.Rank == 3 ? b.Shape[0] : 1;
        if (a.Rank == 3 && b.Rank == 3 && batchA != batchB)
            throw new ShapeMismatchException($"{op}: batch sizes differ, {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}");
        int batch = Math.Max(batchA, batchB);
        int m = transA ? a.Shape[^1] : a.Shape[^2], ka = transA ? a.Shape[^2] : a.Shape[^1];
        int kb = transB ? b.Shape[^1] : b.Shape[^2], n = transB ? b.Shape[^2] : b.Shape[^1];
        if (ka != kb)
            throw new ShapeMismatchException($"{op}: inner dimensions differ: {ShapeUtil.Format(a.Shape)}{(transA ? "ᵀ" : "")} · {ShapeUtil.Format(b.Shape)}{(transB ? "ᵀ" : "")} ({ka} vs {kb})");
        int[] outShape = a.Rank == 3 || b.Rank == 3 ? [batch, m, n] : [m, n];
        var c = Tensor.Empty(outShape, a.DType, a.Device);
        if (c.Numel == 0) return c; // an empty product: no GEMM (a batch of 2^31 empty matrices must not loop)
        if (bias is not null)
        {
            CheckSameKind(op, a, bias);
            using var expanded = BroadcastTo(op, bias, outShape);
            c.Backend.Copy(expanded, c);
        }
        if (ka == 0)
        {
            if (bias is null) c.Backend.Fill(c, 0); // the empty sum
            return c;
        }
        var (opA, ownedA) = Operand(a, transA);
        var (opB, ownedB) = Operand(b, transB);
        try
        {
            a.Backend.Gemm(a.DType, batch, m, n, ka, opA, opB, c.Storage, c.Offset, n, m * n, bias is null ? 0 : 1);
        }
        finally
        {
            ownedA?.Dispose();
            ownedB?.Dispose();
        }
        return c;
    }

    private static (MatrixOperand, Tensor?) Operand(Tensor t, bool trans)
    {
        int r = t.Rank;
        int batchStride = r == 3 ? t.Strides[0] : 0;
        int rows = t.Shape[r - 2], cols = t.Shape[r - 1];
        int sRow = t.Strides[r - 2], sCol = t.Strides[r - 1];
        if ((sCol == 1 || cols == 1) && sRow >= Math.Max(1, cols)) return (new MatrixOperand(t.Storage, t.Offset, sRow, batchStride, trans), null);
        if ((sRow == 1 || rows == 1) && sCol >= Math.Max(1, rows)) return (new MatrixOperand(t.Storage, t.Offset, sCol, batchStride, !trans), null);
        var dense = Clone(t);
        return (new MatrixOperand(dense.Storage, dense.Offset, cols, r == 3 ? rows * cols : 0, trans), dense);
    }

    // ---- concatenation ----

    public static Tensor Concat(Tensor[] parts, int axis)
    {
        if (parts.Length == 0) throw new ArgumentException("Concat: no tensors given");
        var first = parts[0];
        axis = ShapeUtil.NormalizeAxis("Concat", axis, first.Rank);
        int total = 0;
        foreach (var p in parts)
        {
            CheckSameKind("Concat", first, p);
            bool fits = p.Rank == first.Rank;
            for (int d = 0; fits && d < p.Rank; d++) fits = d == axis || p.Shape[d] == first.Shape[d];
            if (!fits) throw new ShapeMismatchException($"Concat: shapes {string.Join(", ", parts.Select(q => ShapeUtil.Format(q.Shape)))} differ outside axis {axis}");
            total += p.Shape[axis];
        }
        var shape = first.ShapeArray;
        shape[axis] = total;
        var y = Tensor.Empty(shape, first.DType, first.Device);
        int start = 0;
        foreach (var p in parts)
        {
            using var slot = Narrow(y, axis, start, p.Shape[axis]);
            y.Backend.Copy(p, slot);
            start += p.Shape[axis];
        }
        return y;
    }
}
