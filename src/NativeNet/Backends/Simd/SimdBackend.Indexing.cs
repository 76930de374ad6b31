using System.Numerics.Tensors;

namespace NativeNet.Backends.Simd;

// Row-wise index primitives: IndexSelect and its index-add move whole runs of `inner` contiguous elements per index,
// and CumSum adds whole rows, so these run as span copies and vector adds. Gather, Scatter and TopK pick one element
// per index and use the inherited loops.
public sealed partial class SimdBackend
{
    /// <inheritdoc/>
    public override int IndexSelectAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner)
    {
        int bad = FirstOutside(index, dim);
        if (bad >= 0) return bad;
        ByFloatType(x.DType, "IndexSelect", () => IndexSelectRows<float>(x, index, y, outer, dim, count, inner), () => IndexSelectRows<double>(x, index, y, outer, dim, count, inner));
        return -1;
    }

    private static void IndexSelectRows<T>(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner) where T : unmanaged
    {
        var xs = x.HostData<T>().AsSpan(x.Offset); var ids = index.HostData<int>().AsSpan(index.Offset, count); var ys = y.HostData<T>().AsSpan(y.Offset);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                xs.Slice((o * dim + ids[j]) * inner, inner).CopyTo(ys.Slice((o * count + j) * inner, inner));
    }

    /// <inheritdoc/>
    public override int IndexAddAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner)
    {
        int bad = FirstOutside(index, dim);
        if (bad >= 0) return bad;
        ByFloatType(dst.DType, "IndexAdd", () => IndexAddRows<float>(src, index, dst, outer, dim, count, inner), () => IndexAddRows<double>(src, index, dst, outer, dim, count, inner));
        return -1;
    }

    private static void IndexAddRows<T>(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner) where T : unmanaged, System.Numerics.INumber<T>
    {
        var ss = src.HostData<T>().AsSpan(src.Offset); var ids = index.HostData<int>().AsSpan(index.Offset, count); var ds = dst.HostData<T>().AsSpan(dst.Offset);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
            {
                var target = ds.Slice((o * dim + ids[j]) * inner, inner);
                TensorPrimitives.Add<T>(target, ss.Slice((o * count + j) * inner, inner), target);
            }
    }

    /// <inheritdoc/>
    public override void CumSum(Tensor x, Tensor y, int outer, int dim, int inner, bool reverse)
    {
        if (inner == 1) { base.CumSum(x, y, outer, dim, inner, reverse); return; }
        ByFloatType(x.DType, "CumSum", () => CumSumRows<float>(x, y, outer, dim, inner, reverse), () => CumSumRows<double>(x, y, outer, dim, inner, reverse));
    }

    // Each column sums in index order from its first element, as the reference (whose first step is 0 + x, equal to x).
    private static void CumSumRows<T>(Tensor x, Tensor y, int outer, int dim, int inner, bool reverse) where T : unmanaged, System.Numerics.INumber<T>
    {
        var xs = x.HostData<T>().AsSpan(x.Offset); var ys = y.HostData<T>().AsSpan(y.Offset);
        for (int o = 0; o < outer; o++)
            for (int s = 0; s < dim; s++)
            {
                int row = (o * dim + (reverse ? dim - 1 - s : s)) * inner;
                if (s == 0) { TensorPrimitives.Add<T>(xs.Slice(row, inner), T.Zero, ys.Slice(row, inner)); continue; }
                int previous = (o * dim + (reverse ? dim - s : s - 1)) * inner;
                TensorPrimitives.Add<T>(ys.Slice(previous, inner), xs.Slice(row, inner), ys.Slice(row, inner));
            }
    }
}
