namespace NativeNet.Backends;

// Index primitives of Ops.Gather/Scatter/ScatterAdd/IndexSelect/TopK/CumSum. Every operand is a contiguous tensor viewed
// as [outer, dim, inner] (the data) or [outer, count, inner] (Int32 indices and the values they pick or place), so one
// axis is indexed and the others line up element for element. The ops check shapes and allocate; the backends only
// report the first index outside [0, dim) by its flat position, so a device never sends its indices to the host.
public abstract partial class Backend
{
    /// <summary>
    /// y[o, j, i] = x[o, index[o, j, i], i] for x [outer, dim, inner] and index, y [outer, count, inner], all contiguous.
    /// Returns the flat position in <paramref name="index"/> of the first index outside [0, dim), or −1 when all are inside
    /// (then y is fully written; otherwise its contents are unspecified).
    /// </summary>
    public abstract int GatherAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner);

    /// <summary>
    /// dst[o, index[o, j, i], i] = src[o, j, i] (or += when <paramref name="accumulate"/>) in place, for dst [outer, dim, inner]
    /// and index, src [outer, count, inner], all contiguous. Where several positions name one element, plain scatter keeps the
    /// value of the last position in row-major order, on every backend. Returns the flat position of the first index outside
    /// [0, dim), or −1 (dst is unspecified when an index is outside).
    /// </summary>
    public abstract int ScatterAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner, bool accumulate);

    /// <summary>
    /// y[o, j, i] = x[o, index[j], i] for x [outer, dim, inner], a 1-D index [count] and y [outer, count, inner], all
    /// contiguous. Returns the position in <paramref name="index"/> of the first index outside [0, dim), or −1.
    /// </summary>
    public abstract int IndexSelectAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner);

    /// <summary>dst[o, index[j], i] += src[o, j, i] in place (layouts as <see cref="IndexSelectAxis"/>); returns the position of the first index outside [0, dim), or −1.</summary>
    public abstract int IndexAddAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner);

    /// <summary>y[o, d, i] = Σ x[o, e, i] over e ≤ d (over e ≥ d when <paramref name="reverse"/>), summed in index order; contiguous [outer, dim, inner].</summary>
    public abstract void CumSum(Tensor x, Tensor y, int outer, int dim, int inner, bool reverse);

    /// <summary>
    /// The <paramref name="k"/> largest (or smallest) entries of each x[o, :, i] into values [outer, k, inner] and their
    /// positions into Int32 indices [outer, k, inner], best first. The order is total: NaN ranks above every number (first
    /// when largest, last when smallest) and equal values (NaN with NaN, 0 with −0) keep their index order.
    /// </summary>
    public abstract void TopK(Tensor x, Tensor values, Tensor indices, int outer, int dim, int inner, int k, bool largest);
}
