namespace NativeNet.Backends.Cuda;

// Plane gather and scatter (resample.cu), the primitives of upsampling and max-unpooling.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public override void PlaneGather(Tensor x, Tensor index, Tensor? weight, Tensor y, PlaneMap map)
    {
        string sfx = CheckPlanes("PlaneGather", x, index, weight, y, map, map.InPlane, map.OutPlane);
        LaunchPlanes($"plane_gather_{sfx}", Ptr(x), Ptr(index), weight is null ? 0 : Ptr(weight), Ptr(y), map, null);
    }

    /// <inheritdoc/>
    public override void PlaneScatter(Tensor dy, Tensor index, Tensor? weight, Tensor dx, PlaneMap map, bool accumulate)
    {
        string sfx = CheckPlanes("PlaneScatter", dx, index, weight, dy, map, map.InPlane, map.OutPlane);
        Fill(dx, 0);
        LaunchPlanes($"plane_scatter_{sfx}", Ptr(dy), Ptr(index), weight is null ? 0 : Ptr(weight), Ptr(dx), map, accumulate);
    }

    private string CheckPlanes(string op, Tensor input, Tensor index, Tensor? weight, Tensor output, PlaneMap map, int inPlane, int outPlane)
    {
        string sfx = FloatSfx(op, input.DType);
        if (!input.IsContiguous || !output.IsContiguous || output.DType != input.DType
            || input.Numel != (long)map.Planes * inPlane || output.Numel != (long)map.Planes * outPlane)
            throw new ArgumentException($"{op}: {input.Describe()} and {output.Describe()} must be contiguous {input.DType} with {map.Planes}x{inPlane} and {map.Planes}x{outPlane} elements");
        if (index.DType != DType.Int32 || !index.IsContiguous || index.Numel != map.IndexCount)
            throw new ArgumentException($"{op}: index {index.Describe()} must be contiguous Int32 with {map.IndexCount} elements");
        if (weight is not null && (weight.DType != input.DType || !weight.IsContiguous || weight.Numel != (long)map.OutPlane * map.Taps))
            throw new ArgumentException($"{op}: weight {weight.Describe()} must be contiguous {input.DType} with {(long)map.OutPlane * map.Taps} elements");
        return sfx;
    }

    private void LaunchPlanes(string entryPoint, ulong a, ulong idx, ulong w, ulong b, PlaneMap map, bool? accumulate)
    {
        Span<byte> data = stackalloc byte[96];
        Span<int> offsets = stackalloc int[12];
        var args = new KernelArgs(data, offsets);
        args.Add(a);
        args.Add(idx);
        args.Add(w);
        args.Add(b);
        args.Add((long)map.Planes);
        args.Add((long)map.InPlane);
        args.Add((long)map.OutPlane);
        args.Add((long)map.Taps);
        args.Add(map.IndexPerPlane ? 1 : 0);
        if (accumulate is { } acc) args.Add(acc ? 1 : 0);
        LaunchElementwise(entryPoint, (long)map.Planes * map.OutPlane, ref args);
    }

    /// <inheritdoc/>
    public override void MaxPool2dIndices(Tensor x, Tensor indices, Pool2dGeometry g)
    {
        string sfx = FloatSfx("MaxPool2dIndices", x.DType);
        long outputs = (long)g.N * g.C * g.OH * g.OW;
        if (!x.IsContiguous || x.Numel != (long)g.N * g.C * g.H * g.W || indices.DType != DType.Int32 || !indices.IsContiguous || indices.Numel != outputs)
            throw new ArgumentException($"MaxPool2dIndices: {x.Describe()} and indices {indices.Describe()} must be contiguous, [{g.N}, {g.C}, {g.H}, {g.W}] and Int32 [{g.N}, {g.C}, {g.OH}, {g.OW}]");
        Span<byte> data = stackalloc byte[128];
        Span<int> offsets = stackalloc int[16];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(x));
        args.Add(Ptr(indices));
        args.Add((long)g.N * g.C);
        foreach (int v in new[] { g.H, g.W, g.OH, g.OW, g.KernelH, g.KernelW, g.StrideH, g.StrideW, g.PadH, g.PadW }) args.Add(v);
        LaunchElementwise($"maxpool_indices_{sfx}", outputs, ref args);
    }
}
