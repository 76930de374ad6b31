namespace NativeNet.Backends.Cuda;

public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public override void Reduce(ReduceOp op, Tensor x, Tensor y, int outer, int dim, int inner)
    {
        string sfx = FloatSfx(op.ToString(), x.DType);
        CheckSlices(op.ToString(), x, y, outer, dim, inner, (long)outer * inner);
        string name = op switch
        {
            ReduceOp.Sum => "sum",
            ReduceOp.Max => "max",
            ReduceOp.Min => "min",
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
        };
        LaunchAxis(name, sfx, x, y, outer, dim, inner);
    }

    /// <inheritdoc/>
    public override void ArgMax(Tensor x, Tensor y, int outer, int dim, int inner)
    {
        string sfx = FloatSfx("ArgMax", x.DType);
        if (y.DType != DType.Int32) throw new DTypeMismatchException($"ArgMax: the output {y.Describe()} must be Int32");
        CheckSlices("ArgMax", x, y, outer, dim, inner, (long)outer * inner);
        LaunchAxis("argmax", sfx, x, y, outer, dim, inner);
    }

    private void LaunchAxis(string name, string sfx, Tensor x, Tensor y, int outer, int dim, int inner)
    {
        long outputs = (long)outer * inner;
        if (outputs == 0) return;
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(x));
        args.Add(Ptr(y));
        args.Add((long)outer);
        args.Add((long)dim);
        args.Add((long)inner);
        int sms = Info.MultiprocessorCount;
        if (LaunchShape.UseBlockReduction(outer, dim, inner, sms))
            Launch($"{name}_axis_{sfx}", LaunchShape.SliceGrid(outputs, sms), LaunchShape.SliceThreads(dim), ref args);
        else
            LaunchElementwise($"{name}_axis_small_{sfx}", outputs, ref args);
    }

    /// <inheritdoc/>
    /// <remarks>A slice whose values are all −∞ gives NaN here (−∞ − −∞ in the max shift), where the Naive backend
    /// shifts by 0 instead; every slice with a finite maximum agrees.</remarks>
    public override void Softmax(Tensor x, Tensor y, int outer, int dim, int inner, bool log)
    {
        string sfx = FloatSfx("Softmax", x.DType);
        CheckSlices("Softmax", x, y, outer, dim, inner, (long)outer * dim * inner);
        LaunchSlices($"{(log ? "log_softmax" : "softmax")}_fwd_{sfx}", [Ptr(x), Ptr(y)], outer, dim, inner);
    }

    /// <inheritdoc/>
    public override void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int dim, int inner, bool log)
    {
        string sfx = FloatSfx("SoftmaxBackward", y.DType);
        CheckSlices("SoftmaxBackward", y, dx, outer, dim, inner, (long)outer * dim * inner);
        CheckSlices("SoftmaxBackward", dy, dx, outer, dim, inner, (long)outer * dim * inner);
        LaunchSlices($"{(log ? "log_softmax" : "softmax")}_bwd_{sfx}", [Ptr(y), Ptr(dy), Ptr(dx)], outer, dim, inner);
    }

    /// <summary>Block-per-slice kernels of softmax.cu: (pointers..., outer, dim, inner).</summary>
    private void LaunchSlices(string entryPoint, ulong[] pointers, int outer, int dim, int inner)
    {
        long slices = (long)outer * inner;
        if (slices == 0 || dim == 0) return;
        Span<byte> data = stackalloc byte[96];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        foreach (ulong p in pointers) args.Add(p);
        args.Add((long)outer);
        args.Add((long)dim);
        args.Add((long)inner);
        int sms = Info.MultiprocessorCount;
        Launch(entryPoint, LaunchShape.SliceGrid(slices, sms), LaunchShape.SliceThreads(dim), ref args);
    }

    private static void CheckSlices(string op, Tensor x, Tensor y, int outer, int dim, int inner, long yNumel)
    {
        // An operand without elements (e.g. [3, 0]) has nothing to lay out, whatever its strides say.
        if ((!x.IsContiguous && x.Numel > 0) || (!y.IsContiguous && y.Numel > 0))
            throw new ArgumentException($"{op}: cuda expects contiguous operands, got {x.Describe()} and {y.Describe()}");
        if ((long)outer * dim * inner != x.Numel || yNumel != y.Numel)
            throw new ShapeMismatchException($"{op}: [outer {outer}, dim {dim}, inner {inner}] does not match {x.Describe()} -> {y.Describe()}");
    }
}
