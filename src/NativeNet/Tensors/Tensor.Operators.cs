namespace NativeNet;

public sealed partial class Tensor
{
    /// <summary>a + b with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    /// <summary>a − b with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    /// <summary>a · b elementwise with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    /// <summary>a / b with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    /// <summary>−a</summary>
    public static Tensor operator -(Tensor a) => Ops.Neg(a);
    /// <summary>a + s</summary>
    public static Tensor operator +(Tensor a, double s) => Ops.AddScalar(a, s);
    /// <summary>s + a</summary>
    public static Tensor operator +(double s, Tensor a) => Ops.AddScalar(a, s);
    /// <summary>a − s</summary>
    public static Tensor operator -(Tensor a, double s) => Ops.AddScalar(a, -s);
    /// <summary>s − a</summary>
    public static Tensor operator -(double s, Tensor a)
    {
        using var neg = Ops.Neg(a);
        return Ops.AddScalar(neg, s);
    }
    /// <summary>a · s</summary>
    public static Tensor operator *(Tensor a, double s) => Ops.MulScalar(a, s);
    /// <summary>s · a</summary>
    public static Tensor operator *(double s, Tensor a) => Ops.MulScalar(a, s);
    /// <summary>a / s</summary>
    public static Tensor operator /(Tensor a, double s) => Ops.MulScalar(a, 1.0 / s);

    /// <summary>Matrix product (rank 2 or batched rank 3).</summary>
    public Tensor MatMul(Tensor other) => Ops.MatMul(this, other);
    /// <summary>Same data in a new shape (one dimension may be −1).</summary>
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);
    /// <summary>Reorders dimensions (a view).</summary>
    public Tensor Permute(params int[] axes) => Ops.Permute(this, axes);
    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int axis0, int axis1) => Ops.Transpose(this, axis0, axis1);
    /// <summary>Transpose of a rank-2 tensor (a view).</summary>
    public Tensor T => Rank == 2 ? Ops.Transpose(this, 0, 1) : throw new InvalidOperationException($"T: expected a rank-2 tensor, got {Describe()}; use Permute");
    /// <summary>Elements [start, start+length) along an axis (a view).</summary>
    public Tensor Narrow(int axis, int start, int length) => Ops.Narrow(this, axis, start, length);
    /// <summary>Rows [start, end) of the first axis (a view).</summary>
    public Tensor Slice(int start, int end)
    {
        long length = (long)end - start;
        if (length < 0 || length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(end), $"Slice: range [{start}, {end}) is not a valid range of dimension 0 of {Describe()}");
        return Ops.Narrow(this, 0, start, (int)length);
    }
    /// <summary>
    /// A view with explicit <paramref name="shape"/>, <paramref name="strides"/> (non-negative, in elements) and
    /// <paramref name="offset"/> (in elements from the start of the storage) over this tensor's storage, checked against the
    /// storage's bounds. Not recorded on the tape: the view requires no gradient.
    /// </summary>
    public Tensor AsStrided(int[] shape, int[] strides, long offset) => Raw.AsStrided(this, shape, strides, offset);
    /// <summary>Broadcasts to a larger shape without copying.</summary>
    public Tensor Expand(params int[] shape) => Ops.Expand(this, shape);
    /// <summary>Inserts a dimension of size 1 at <paramref name="axis"/>.</summary>
    public Tensor Unsqueeze(int axis)
    {
        ThrowIfDisposed("Unsqueeze");
        int a = axis < 0 ? axis + Rank + 1 : axis;
        if (a < 0 || a > Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Unsqueeze: axis {axis} is out of range for rank {Rank}");
        var shape = _shape.ToList();
        shape.Insert(a, 1);
        return Reshape(shape.ToArray());
    }
    /// <summary>Keeps the first dimension and flattens the rest: [N, ...] to [N, D].</summary>
    public Tensor Flatten() => Rank <= 1 ? Reshape(-1) : Reshape(_shape[0], -1);

    /// <summary>Sum over axes (null: all).</summary>
    public Tensor Sum(int[]? axes = null, bool keepDims = false) => Ops.Sum(this, axes, keepDims);
    /// <summary>Sum along one axis.</summary>
    public Tensor Sum(int axis, bool keepDims = false) => Ops.Sum(this, [axis], keepDims);
    /// <summary>Mean over axes (null: all).</summary>
    public Tensor Mean(int[]? axes = null, bool keepDims = false) => Ops.Mean(this, axes, keepDims);
    /// <summary>Maximum over axes (null: all).</summary>
    public Tensor Max(int[]? axes = null, bool keepDims = false) => Ops.Max(this, axes, keepDims);
    /// <summary>Index of the maximum along an axis (Int32).</summary>
    public Tensor ArgMax(int axis, bool keepDims = false) => Ops.ArgMax(this, axis, keepDims);

    /// <summary>max(0, x)</summary>
    public Tensor Relu() => Ops.Relu(this);
    /// <summary>Logistic sigmoid.</summary>
    public Tensor Sigmoid() => Ops.Sigmoid(this);
    /// <summary>tanh</summary>
    public Tensor Tanh() => Ops.Tanh(this);
    /// <summary>e^x</summary>
    public Tensor Exp() => Ops.Exp(this);
    /// <summary>ln x</summary>
    public Tensor Log() => Ops.Log(this);
    /// <summary>Softmax along an axis.</summary>
    public Tensor Softmax(int axis = -1) => Ops.Softmax(this, axis);
    /// <summary>Log-softmax along an axis.</summary>
    public Tensor LogSoftmax(int axis = -1) => Ops.LogSoftmax(this, axis);
}
