namespace NativeNet.Backends.Cuda;

// Row normalisation in kernels/norm.cu: one block per row (block-stride over the rows), threads along the row.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public override void NormalizeRows(Tensor x, Tensor xHat, Tensor rstd, double eps)
    {
        var (rows, cols) = CheckRows("NormalizeRows", [x, xHat], rstd);
        string sfx = FloatSfx("NormalizeRows", x.DType);
        if (rows == 0 || cols == 0) return;
        Span<byte> data = stackalloc byte[96];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(x));
        args.Add(Ptr(xHat));
        args.Add(Ptr(rstd));
        args.Add((long)rows);
        args.Add((long)cols);
        AddScalar(ref args, x.DType, eps);
        Launch($"normalize_rows_fwd_{sfx}", LaunchShape.SliceGrid(rows, Info.MultiprocessorCount), LaunchShape.SliceThreads(cols), ref args);
    }

    /// <inheritdoc/>
    public override void NormalizeRowsBackward(Tensor dxHat, Tensor xHat, Tensor rstd, Tensor dx)
    {
        var (rows, cols) = CheckRows("NormalizeRowsBackward", [dxHat, xHat, dx], rstd);
        string sfx = FloatSfx("NormalizeRowsBackward", dx.DType);
        if (rows == 0 || cols == 0) return;
        Span<byte> data = stackalloc byte[96];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(dxHat));
        args.Add(Ptr(xHat));
        args.Add(Ptr(rstd));
        args.Add(Ptr(dx));
        args.Add((long)rows);
        args.Add((long)cols);
        Launch($"normalize_rows_bwd_{sfx}", LaunchShape.SliceGrid(rows, Info.MultiprocessorCount), LaunchShape.SliceThreads(cols), ref args);
    }
}
