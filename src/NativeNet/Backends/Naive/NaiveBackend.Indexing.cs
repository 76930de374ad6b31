using System.Numerics;

namespace NativeNet.Backends.Naive;

// Index primitives as plain loops over contiguous arrays. The Simd backend inherits those that move one element per
// index (their cost is the memory traffic, which vector lanes do not reduce) and overrides the row-wise ones.
public partial class NaiveBackend
{
    /// <inheritdoc/>
    public override int GatherAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner)
    {
        int bad = FirstOutside(index, dim);
        if (bad >= 0) return bad;
        ByFloat(x.DType, "Gather", () => Gather<float>(x, index, y, outer, dim, count, inner), () => Gather<double>(x, index, y, outer, dim, count, inner));
        return -1;
    }

    private static void Gather<T>(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner) where T : unmanaged
    {
        var xs = x.HostData<T>(); var ids = index.HostData<int>(); var ys = y.HostData<T>();
        int xo = x.Offset, io = index.Offset, yo = y.Offset;
        for (int o = 0, p = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++, p++)
                    ys[yo + p] = xs[xo + (o * dim + ids[io + p]) * inner + i];
    }

    /// <inheritdoc/>
    public override int ScatterAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner, bool accumulate)
    {
        int bad = FirstOutside(index, dim);
        if (bad >= 0) return bad;
        ByFloat(dst.DType, accumulate ? "ScatterAdd" : "Scatter",
            () => Scatter<float>(src, index, dst, outer, dim, count, inner, accumulate),
            () => Scatter<double>(src, index, dst, outer, dim, count, inner, accumulate));
        return -1;
    }

    private static void Scatter<T>(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        var ss = src.HostData<T>(); var ids = index.HostData<int>(); var ds = dst.HostData<T>();
        int so = src.Offset, io = index.Offset, d0 = dst.Offset;
        for (int o = 0, p = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++, p++)
                {
                    ref T target = ref ds[d0 + (o * dim + ids[io + p]) * inner + i];
                    target = accumulate ? target + ss[so + p] : ss[so + p];
                }
    }

    /// <inheritdoc/>
    public override int IndexSelectAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner)
    {
        int bad = FirstOutside(index, dim);
        if (bad >= 0) return bad;
        ByFloat(x.DType, "IndexSelect", () => IndexSelect<float>(x, index, y, outer, dim, count, inner), () => IndexSelect<double>(x, index, y, outer, dim, count, inner));
        return -1;
    }

    private static void IndexSelect<T>(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner) where T : unmanaged
    {
        var xs = x.HostData<T>(); var ids = index.HostData<int>(); var ys = y.HostData<T>();
        for (int o = 0, p = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++, p++)
                    ys[y.Offset + p] = xs[x.Offset + (o * dim + ids[index.Offset + j]) * inner + i];
    }

    /// <inheritdoc/>
    public override int IndexAddAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner)
    {
        int bad = FirstOutside(index, dim);
        if (bad >= 0) return bad;
        ByFloat(dst.DType, "IndexAdd", () => IndexAdd<float>(src, index, dst, outer, dim, count, inner), () => IndexAdd<double>(src, index, dst, outer, dim, count, inner));
        return -1;
    }

    private static void IndexAdd<T>(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner) where T : unmanaged, INumber<T>
    {
        var ss = src.HostData<T>(); var ids = index.HostData<int>(); var ds = dst.HostData<T>();
        for (int o = 0, p = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++, p++)
                    ds[dst.Offset + (o * dim + ids[index.Offset + j]) * inner + i] += ss[src.Offset + p];
    }

    /// <summary>The position of the first index outside [0, dim), or −1.</summary>
    protected static int FirstOutside(Tensor index, int dim)
    {
        var ids = index.HostData<int>();
        for (int p = 0; p < index.Numel; p++)
            if ((uint)ids[index.Offset + p] >= (uint)dim) return p;
        return -1;
    }

    /// <inheritdoc/>
    public override void CumSum(Tensor x, Tensor y, int outer, int dim, int inner, bool reverse) =>
        ByFloat(x.DType, "CumSum", () => CumSum<float>(x, y, outer, dim, inner, reverse), () => CumSum<double>(x, y, outer, dim, inner, reverse));

    private static void CumSum<T>(Tensor x, Tensor y, int outer, int dim, int inner, bool reverse) where T : unmanaged, INumber<T>
    {
        var xs = x.HostData<T>(); var ys = y.HostData<T>();
        // Row by row, so the inner axis streams; each column still sums from zero in index order, as the Cuda kernel.
        for (int o = 0; o < outer; o++)
            for (int s = 0; s < dim; s++)
            {
                int row = (o * dim + (reverse ? dim - 1 - s : s)) * inner;
                int previous = (o * dim + (reverse ? dim - s : s - 1)) * inner;
                for (int i = 0; i < inner; i++)
                    ys[y.Offset + row + i] = (s == 0 ? T.Zero : ys[y.Offset + previous + i]) + xs[x.Offset + row + i];
            }
    }

    /// <inheritdoc/>
    public override void TopK(Tensor x, Tensor values, Tensor indices, int outer, int dim, int inner, int k, bool largest) =>
        ByFloat(x.DType, "TopK", () => TopK<float>(x, values, indices, outer, dim, inner, k, largest), () => TopK<double>(x, values, indices, outer, dim, inner, k, largest));

    private static void TopK<T>(Tensor x, Tensor values, Tensor indices, int outer, int dim, int inner, int k, bool largest)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>(); var vs = values.HostData<T>(); var ids = indices.HostData<int>();
        var column = new T[dim];
        var order = new int[dim];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                for (int d = 0; d < dim; d++) { column[d] = xs[x.Offset + (o * dim + d) * inner + i]; order[d] = d; }
                Array.Sort(order, (a, b) => TopKPrecedes(column[a], a, column[b], b, largest) ? -1 : TopKPrecedes(column[b], b, column[a], a, largest) ? 1 : 0);
                for (int r = 0; r < k; r++)
                {
                    int at = (o * k + r) * inner + i;
                    vs[values.Offset + at] = column[order[r]];
                    ids[indices.Offset + at] = order[r];
                }
            }
    }

    /// <summary>The total order of <see cref="Backend.TopK"/>: whether (a, ia) comes before (b, ib).</summary>
    internal static bool TopKPrecedes<T>(T a, int ia, T b, int ib, bool largest) where T : IFloatingPointIeee754<T>
    {
        bool nanA = T.IsNaN(a), nanB = T.IsNaN(b);
        if (nanA || nanB) return nanA && nanB ? ia < ib : nanA == largest;
        if (a != b) return largest ? a > b : a < b;
        return ia < ib;
    }
}
