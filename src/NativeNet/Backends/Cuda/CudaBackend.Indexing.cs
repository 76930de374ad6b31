namespace NativeNet.Backends.Cuda;

// Index primitives (kernels/indexing.cu). An index outside the axis is found by the kernel: a one-element device flag is
// lowered to its position and read back once (4 bytes) after the launch, so the indices stay on the device.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public override int GatherAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner)
    {
        if (index.Numel == 0 || x.Numel == 0) return EmptyResult(index);
        string sfx = CheckIndexed("Gather", x, index, y, outer, dim, count, inner);
        return WithBadFlag(index.Numel, flag => LaunchIndexed($"gather_axis_{sfx}", [Ptr(x), Ptr(index), Ptr(y)], dim, count, inner, index.Numel, flag));
    }

    /// <inheritdoc/>
    public override int ScatterAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner, bool accumulate)
    {
        if (index.Numel == 0 || dst.Numel == 0) return EmptyResult(index);
        string sfx = CheckIndexed(accumulate ? "ScatterAdd" : "Scatter", dst, index, src, outer, dim, count, inner);
        if (accumulate)
            return WithBadFlag(index.Numel, flag => LaunchIndexed($"scatter_add_axis_{sfx}", [Ptr(src), Ptr(index), Ptr(dst)], dim, count, inner, index.Numel, flag));
        using var winner = NewContiguous(DType.Int32, [dst.Numel]);
        Fill(winner, -1);
        int bad = WithBadFlag(index.Numel, flag => LaunchIndexed("scatter_claim", [Ptr(index), Ptr(winner)], dim, count, inner, index.Numel, flag));
        if (bad < 0) LaunchIndexed($"scatter_write_{sfx}", [Ptr(src), Ptr(index), Ptr(winner), Ptr(dst)], dim, count, inner, index.Numel, null);
        return bad;
    }

    /// <inheritdoc/>
    public override int IndexSelectAxis(Tensor x, Tensor index, Tensor y, int outer, int dim, int count, int inner)
    {
        if (y.Numel == 0) return -1;
        if (x.Numel == 0) return 0;
        string sfx = CheckRowIndexed("IndexSelect", x, index, y, outer, dim, count, inner);
        return WithBadFlag(y.Numel, flag => LaunchIndexed($"index_select_axis_{sfx}", [Ptr(x), Ptr(index), Ptr(y)], dim, count, inner, y.Numel, flag));
    }

    /// <inheritdoc/>
    /// <remarks>Atomic adds: repeated indices make float sums not bit-deterministic.</remarks>
    public override int IndexAddAxis(Tensor src, Tensor index, Tensor dst, int outer, int dim, int count, int inner)
    {
        if (src.Numel == 0) return -1;
        if (dst.Numel == 0) return 0;
        string sfx = CheckRowIndexed("IndexAdd", dst, index, src, outer, dim, count, inner);
        return WithBadFlag(src.Numel, flag => LaunchIndexed($"index_add_axis_{sfx}", [Ptr(src), Ptr(index), Ptr(dst)], dim, count, inner, src.Numel, flag));
    }

    private string CheckRowIndexed(string op, Tensor data, Tensor index, Tensor values, int outer, int dim, int count, int inner)
    {
        string sfx = CheckFused(op, data);
        CheckFused(op, values);
        if (values.DType != data.DType || data.Numel != (long)outer * dim * inner || values.Numel != (long)outer * count * inner
            || index.DType != DType.Int32 || !index.IsContiguous || index.Numel != count)
            throw new ShapeMismatchException($"{op}: data {data.Describe()}, index {index.Describe()} and values {values.Describe()} do not fit [{outer}, {dim}/{count}, {inner}]");
        _ = Ptr(index);
        return sfx;
    }

    /// <inheritdoc/>
    public override void CumSum(Tensor x, Tensor y, int outer, int dim, int inner, bool reverse)
    {
        if (x.Numel == 0) return;
        string sfx = CheckFused("CumSum", x, y);
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(x));
        args.Add(Ptr(y));
        args.Add((long)outer);
        args.Add((long)dim);
        args.Add((long)inner);
        args.Add(reverse ? 1 : 0);
        LaunchElementwise($"cumsum_axis_{sfx}", (long)outer * inner, ref args);
    }

    /// <inheritdoc/>
    public override void TopK(Tensor x, Tensor values, Tensor indices, int outer, int dim, int inner, int k, bool largest)
    {
        if (values.Numel == 0) return;
        string sfx = CheckFused("TopK", x);
        CheckFused("TopK", values);
        if (values.DType != x.DType || values.Numel != (long)outer * k * inner || indices.DType != DType.Int32 || !indices.IsContiguous || indices.Numel != values.Numel)
            throw new ShapeMismatchException($"TopK: values {values.Describe()} and indices {indices.Describe()} must hold {outer}x{k}x{inner} elements of {x.DType} and Int32");
        Span<byte> data = stackalloc byte[80];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(x));
        args.Add(Ptr(values));
        args.Add(Ptr(indices));
        args.Add((long)outer);
        args.Add((long)dim);
        args.Add((long)inner);
        args.Add((long)k);
        args.Add(largest ? 1 : 0);
        LaunchElementwise($"topk_axis_{sfx}", (long)outer * inner, ref args);
    }

    /// <summary>With no indices nothing is out of range; with indices into empty data (an empty axis) the first is.</summary>
    private static int EmptyResult(Tensor index) => index.Numel == 0 ? -1 : 0;

    private string CheckIndexed(string op, Tensor data, Tensor index, Tensor values, int outer, int dim, int count, int inner)
    {
        string sfx = CheckFused(op, data);
        CheckFused(op, values);
        if (values.DType != data.DType || data.Numel != (long)outer * dim * inner || values.Numel != (long)outer * count * inner
            || index.DType != DType.Int32 || !index.IsContiguous || index.Numel != values.Numel)
            throw new ShapeMismatchException($"{op}: data {data.Describe()}, index {index.Describe()} and values {values.Describe()} do not fit [{outer}, {dim}/{count}, {inner}]");
        _ = Ptr(index);
        return sfx;
    }

    /// <summary>Runs <paramref name="launch"/> with a device flag set to int.MaxValue and returns the position it was lowered to, or −1.</summary>
    private int WithBadFlag(int n, Action<ulong> launch)
    {
        if (n == 0) return -1;
        using var flag = NewContiguous(DType.Int32, [1]);
        Fill(flag, int.MaxValue);
        launch(Ptr(flag));
        int position = flag.ToArray<int>()[0];
        return position == int.MaxValue ? -1 : position;
    }

    private void LaunchIndexed(string entryPoint, ulong[] pointers, int dim, int count, int inner, int n, ulong? flag)
    {
        if (n == 0) return;
        Span<byte> data = stackalloc byte[96];
        Span<int> offsets = stackalloc int[12];
        var args = new KernelArgs(data, offsets);
        foreach (ulong p in pointers) args.Add(p);
        args.Add((long)dim);
        args.Add((long)count);
        args.Add((long)inner);
        args.Add((long)n);
        if (flag is { } f) args.Add(f);
        LaunchElementwise(entryPoint, n, ref args);
    }
}
