namespace NativeNet;

/// <summary>Shape arithmetic shared by tensors, ops and backends: element counts, strides, broadcasting, axes.</summary>
public static class ShapeUtil
{
    /// <summary>Largest element count of one tensor (the storages index with int32).</summary>
    public const int MaxElements = int.MaxValue;

    /// <summary>
    /// Product of the dimensions (1 for a scalar), multiplied in checked 64-bit arithmetic: a negative dimension
    /// or a product above <see cref="MaxElements"/> throws an <see cref="ArgumentException"/> naming <paramref name="op"/> and the shape.
    /// </summary>
    public static int Numel(ReadOnlySpan<int> shape, string op = "shape")
    {
        bool empty = false;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: negative dimension {d} in shape {Format(shape)}");
            if (d == 0) empty = true;
        }
        if (empty) return 0;
        long n = 1;
        foreach (int d in shape)
        {
            n *= d; // n <= MaxElements and d <= int.MaxValue before the multiply: the product fits in 63 bits
            if (n > MaxElements) throw new ArgumentException($"{op}: shape {Format(shape)} has more than {MaxElements} elements ({Format(shape)} multiplies to {Product(shape)})");
        }
        return (int)n;
    }

    private static string Product(ReadOnlySpan<int> shape)
    {
        var p = System.Numerics.BigInteger.One;
        foreach (int d in shape) p *= d;
        return p.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Checks a view's geometry against a storage of <paramref name="storageLength"/> elements and returns its element
    /// count: ranks agree, sizes and strides are non-negative, the element count fits (<see cref="Numel"/>), the offset
    /// is non-negative, and offset plus the farthest reachable element lies inside the storage. All in 64-bit arithmetic,
    /// so no int32 wrap-around can hide an out-of-bounds view.
    /// </summary>
    public static int CheckView(string op, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, long offset, long storageLength)
    {
        if (shape.Length != strides.Length)
            throw new ArgumentException($"{op}: shape {Format(shape)} has rank {shape.Length} but strides {Format(strides)} have {strides.Length} entries");
        int numel = Numel(shape, op);
        for (int i = 0; i < strides.Length; i++)
            if (strides[i] < 0) throw new ArgumentException($"{op}: negative stride {strides[i]} in dimension {i} (shape {Format(shape)}, strides {Format(strides)})");
        if (offset < 0 || offset > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{op}: offset {offset} is outside [0, {int.MaxValue}] (shape {Format(shape)}, strides {Format(strides)})");
        if (numel == 0) return 0;
        // Every term is below 2^62 and the running sum stops as soon as it leaves the storage (< 2^31): no overflow.
        long last = offset;
        for (int i = 0; i < shape.Length && last < storageLength; i++) last += (long)(shape[i] - 1) * strides[i];
        if (last >= storageLength)
            throw new ArgumentOutOfRangeException(nameof(shape),
                $"{op}: a view of shape {Format(shape)}, strides {Format(strides)} and offset {offset} reaches element {FarthestText(shape, strides, offset)}, outside the storage of {storageLength} elements");
        return numel;
    }

    private static string FarthestText(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, long offset)
    {
        var last = new System.Numerics.BigInteger(offset);
        for (int i = 0; i < shape.Length; i++) last += (System.Numerics.BigInteger)(shape[i] - 1) * strides[i];
        return last.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Row-major strides of a contiguous tensor of this shape (saturating at int.MaxValue beyond a zero-size dimension, where no element is ever addressed).</summary>
    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = (int)Math.Min(s, int.MaxValue);
            s = Math.Min(s * Math.Max(shape[i], 1), int.MaxValue);
        }
        return strides;
    }

    /// <summary>"[2, 3]" style text for messages.</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>The broadcast shape of two shapes by NumPy's rules, or an exception naming the op and both shapes.</summary>
    public static int[] Broadcast(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ShapeMismatchException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i}: {da} vs {db})");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Turns a possibly negative axis into 0..rank-1, or throws naming the op.</summary>
    public static int NormalizeAxis(string op, int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for a tensor of rank {rank}");
        return a;
    }

    /// <summary>Normalised, sorted, distinct axes; null or empty means all axes.</summary>
    public static int[] NormalizeAxes(string op, int[]? axes, int rank)
    {
        if (axes is null || axes.Length == 0) return Enumerable.Range(0, rank).ToArray();
        var result = axes.Select(a => NormalizeAxis(op, a, rank)).Distinct().Order().ToArray();
        if (result.Length != axes.Length) throw new ArgumentException($"{op}: repeated axis in [{string.Join(", ", axes)}]");
        return result;
    }

    /// <summary>True when two shapes are equal.</summary>
    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Splits a contiguous shape around <paramref name="axis"/> into (outer, dim, inner) extents.</summary>
    /// <remarks>Products are taken in 64-bit arithmetic and saturate at int.MaxValue: only an empty shape (a zero extent elsewhere) can exceed it, and no kernel is run on an empty tensor.</remarks>
    public static (int Outer, int Dim, int Inner) SplitAt(ReadOnlySpan<int> shape, int axis)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer = Math.Min(outer * shape[i], int.MaxValue);
        for (int i = axis + 1; i < shape.Length; i++) inner = Math.Min(inner * shape[i], int.MaxValue);
        return ((int)outer, shape[axis], (int)inner);
    }
}

/// <summary>Thrown when tensor shapes do not fit an operation; the message names the op and the shapes.</summary>
public sealed class ShapeMismatchException(string message) : ArgumentException(message);

/// <summary>Thrown when tensors of different dtypes meet in one op, or an op does not support a dtype.</summary>
public sealed class DTypeMismatchException(string message) : ArgumentException(message);
