using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

/// <summary>
/// The backend of one NVIDIA GPU: elementwise ops, reductions and softmax as NVRTC-compiled kernels
/// (kernels/*.cu), GEMM through cuBLAS, convolution and pooling through cuDNN. Each device has its
/// primary context, one stream on which all its work is queued in order, cuBLAS and cuDNN handles
/// bound to that stream, and a caching allocator. Host transfers wait for the stream, so results
/// read on the host are always complete. Get one with <see cref="Get"/> or <c>Backend.For(Device.Cuda(i))</c>.
/// </summary>
public sealed partial class CudaBackend : Backend
{
    private static volatile bool s_allowTf32;

    private readonly nint _context;
    private readonly nint _stream;
    private readonly nint _cublas;
    private readonly nint _cudnn;
    private readonly CudaAllocator _allocator;
    private readonly Dictionary<string, CudaModule> _modules = new(StringComparer.Ordinal);
    private readonly object _sync = new();

    internal CudaBackend(CudaDeviceInfo info)
    {
        Info = info;
        Device = new Device(DeviceKind.Cuda, info.Ordinal);
        CudaDriver.Check(CudaDriver.cuDeviceGet(out int device, info.Ordinal));
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out _context, device));
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context));
        CudaDriver.Check(CudaDriver.cuStreamCreate(out _stream, CudaDriver.StreamNonBlocking));
        Cublas.Check(Cublas.cublasCreate_v2(out _cublas));
        Cublas.Check(Cublas.cublasSetStream_v2(_cublas, _stream));
        Cublas.Check(Cublas.cublasSetMathMode(_cublas, CublasMath.Default));
        Cudnn.Check(Cudnn.cudnnCreate(out _cudnn));
        Cudnn.Check(Cudnn.cudnnSetStream(_cudnn, _stream));
        _allocator = new CudaAllocator(new DriverDeviceMemory(_context, _stream), Device.ToString(), exact: CudaRuntime.IsEmulated);
    }

    /// <summary>The backend of CUDA device <paramref name="deviceIndex"/>.</summary>
    /// <exception cref="CudaUnavailableException">No usable CUDA device with that index (the message says why).</exception>
    public static CudaBackend Get(int deviceIndex = 0) => CudaBackendRegistry.Get(deviceIndex);

    /// <summary>
    /// Lets Float32 matrix products and convolutions use TF32 tensor cores (faster on sm_80+, about 10 bits
    /// of mantissa in the products). Off by default, so results agree with the CPU backends to ~1e-5.
    /// </summary>
    public static bool AllowTf32
    {
        get => s_allowTf32;
        set => s_allowTf32 = value;
    }

    /// <inheritdoc/>
    public override string Name => "cuda";

    /// <inheritdoc/>
    public override DeviceKind DeviceKind => DeviceKind.Cuda;

    /// <summary>The device this backend computes on.</summary>
    public Device Device { get; }

    /// <summary>What the driver reports about the device.</summary>
    public CudaDeviceInfo Info { get; }

    /// <summary>The caching allocator's statistics (bytes in use and cached, allocations, cache hits).</summary>
    public CudaMemoryStats Memory => _allocator.Stats;

    internal CudaAllocator Allocator => _allocator;

    /// <summary>Waits until all work queued on this device's stream has finished.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream));
    }

    /// <summary>Returns the allocator's cached (unused) blocks to the device.</summary>
    public void EmptyCache()
    {
        MakeCurrent();
        _allocator.EmptyCache();
    }

    /// <inheritdoc/>
    public override string ToString() => $"cuda:{Info.Ordinal}";

    /// <summary>Makes this device's context current on the calling thread (CUDA contexts are per thread).</summary>
    internal void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context));

    // ---- kernels ----

    /// <summary>The function handle of a kernel entry point, compiling and loading its file on first use.</summary>
    private CudaModule ModuleFor(string entryPoint)
    {
        string file = KernelCatalog.Get(entryPoint).File;
        lock (_modules)
        {
            if (!_modules.TryGetValue(file, out var module))
            {
                CompiledKernel compiled = KernelCompiler.Shared.Compile(file, Info.Architecture);
                _modules[file] = module = CudaModule.Load(compiled);
            }
            return module;
        }
    }

    /// <summary>Launches a grid-stride kernel over <paramref name="n"/> items (nothing when n is 0).</summary>
    private void LaunchElementwise(string entryPoint, long n, ref KernelArgs args) =>
        Launch(entryPoint, LaunchShape.Grid(n, Info.MultiprocessorCount), LaunchShape.Threads, ref args);

    private unsafe void Launch(string entryPoint, uint grid, uint block, ref KernelArgs args)
    {
        if (grid == 0) return;
        MakeCurrent();
        CudaModule module = ModuleFor(entryPoint);
        nint stream = _stream;
        args.Invoke(p => module.Launch(entryPoint, grid, block, 0, stream, p));
    }

    private static string Sfx(DType dtype) => dtype switch
    {
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        DType.Int32 => "i32",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static string FloatSfx(string op, DType dtype) => dtype switch
    {
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        _ => throw new DTypeMismatchException($"{op}: dtype {dtype} is not supported on cuda (Float32 or Float64 expected)"),
    };

    /// <summary>Device address of a tensor's first element; the tensor must live on this device.</summary>
    private ulong Ptr(Tensor t) => Ptr(t.Storage, t.Offset, t.Describe());

    private ulong Ptr(Storage s, int offset, string what)
    {
        if (s is not CudaStorage cs || s.Device != Device)
            throw new ArgumentException($"{Device}: operand {what} does not live on this device (on {s.Device})");
        return cs.Pointer + (ulong)((long)offset * s.DType.SizeInBytes());
    }

    /// <summary>Adds a scalar as the kernel's element type (float for f32 kernels, double for f64).</summary>
    private static void AddScalar(ref KernelArgs args, DType dtype, double value)
    {
        if (dtype == DType.Float32) args.Add((float)value);
        else args.Add(value);
    }

    private Tensor NewContiguous(DType dtype, int[] shape) => new(Allocate(dtype, ShapeUtil.Numel(shape), zeroed: false), (int[])shape.Clone());

    /// <summary>The tensor itself when contiguous (null to dispose), else a contiguous copy on this device (to dispose).</summary>
    private (Tensor Dense, Tensor? Owned) Dense(Tensor t)
    {
        if (t.IsContiguous) return (t, null);
        var copy = NewContiguous(t.DType, t.ShapeRef);
        Copy(t, copy);
        return (copy, copy);
    }

    // ---- memory ----

    /// <inheritdoc/>
    public override Storage Allocate(DType dtype, int length, bool zeroed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        MakeCurrent();
        var storage = CudaStorage.Create(dtype, length, Device, _allocator);
        if (zeroed && length > 0)
        {
            long bytes = (long)length * dtype.SizeInBytes();
            CudaDriver.Check(CudaDriver.cuMemsetD32Async(storage.Pointer, 0, (nuint)(bytes / 4), _stream));
        }
        return storage;
    }

    /// <inheritdoc/>
    public override Storage Upload(Tensor host)
    {
        // A tensor without elements has nothing to lay out; its strides may still look non-contiguous.
        if (host.Device.Kind != DeviceKind.Cpu || (!host.IsContiguous && host.Numel > 0))
            throw new ArgumentException($"{Device}: Upload expects a contiguous host tensor, got {host.Describe()}");
        var storage = (CudaStorage)Allocate(host.DType, host.Numel, zeroed: false);
        switch (host.DType)
        {
            case DType.Float32: CopyToDevice(host.HostData<float>(), host.Offset, host.Numel, storage.Pointer); break;
            case DType.Float64: CopyToDevice(host.HostData<double>(), host.Offset, host.Numel, storage.Pointer); break;
            case DType.Int32: CopyToDevice(host.HostData<int>(), host.Offset, host.Numel, storage.Pointer); break;
        }
        return storage;
    }

    /// <inheritdoc/>
    public override Storage Download(Tensor device)
    {
        if (!device.IsContiguous && device.Numel > 0)
            throw new ArgumentException($"{Device}: Download expects a contiguous tensor, got {device.Describe()}");
        ulong src = Ptr(device);
        return device.DType switch
        {
            DType.Float32 => new CpuStorage<float>(CopyToHost<float>(src, device.Numel)),
            DType.Float64 => new CpuStorage<double>(CopyToHost<double>(src, device.Numel)),
            DType.Int32 => new CpuStorage<int>(CopyToHost<int>(src, device.Numel)),
            _ => throw new ArgumentOutOfRangeException(nameof(device)),
        };
    }

    private unsafe void CopyToDevice<T>(T[] data, int offset, int count, ulong dst) where T : unmanaged
    {
        if (count == 0) return;
        MakeCurrent();
        // SAFETY: `fixed` pins the array for the copy and the stream is synchronized before the pin ends;
        // offset + count lies inside the array (a contiguous tensor's extent).
        fixed (T* p = &data[offset])
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dst, p, (nuint)((long)count * sizeof(T)), _stream));
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream));
        }
    }

    private unsafe T[] CopyToHost<T>(ulong src, int count) where T : unmanaged
    {
        var data = GC.AllocateUninitializedArray<T>(count);
        if (count == 0) return data;
        MakeCurrent();
        // SAFETY: as in CopyToDevice: the array is pinned until the stream has finished the copy into it.
        fixed (T* p = data)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(p, src, (nuint)((long)count * sizeof(T)), _stream));
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream));
        }
        return data;
    }

    /// <inheritdoc/>
    public override void Fill(Tensor dst, double value)
    {
        if (dst.Numel == 0) return;
        if (!dst.IsContiguous)
        {
            // One filled element broadcast into the strided view by the strided copy.
            using var one = NewContiguous(dst.DType, [1]);
            Fill(one, value);
            using var expanded = one.View(dst.ShapeArray, new int[dst.Rank], 0);
            Copy(expanded, dst);
            return;
        }
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(dst));
        args.Add((long)dst.Numel);
        switch (dst.DType)
        {
            case DType.Float32: args.Add((float)value); break;
            case DType.Float64: args.Add(value); break;
            case DType.Int32: args.Add(checked((int)value)); break;
        }
        LaunchElementwise("fill_" + Sfx(dst.DType), dst.Numel, ref args);
    }

    /// <inheritdoc/>
    public override void Copy(Tensor src, Tensor dst)
    {
        if (!src.Shape.SequenceEqual(dst.Shape))
            throw new ShapeMismatchException($"Copy: source {src.Describe()} and destination {dst.Describe()} differ in shape");
        if (dst.Numel == 0) return;
        if (src.DType == dst.DType)
        {
            CopySameType(src, dst);
            return;
        }
        if (dst.DType == DType.Int32)
        {
            // No float-to-int kernel: convert on the host with the reference's saturating truncation.
            var (dense, owned) = Dense(src);
            using (owned)
            {
                using var host = new Tensor(Download(dense), src.ShapeArray);
                using var converted = new Tensor(Naive.NaiveBackend.Instance.Allocate(DType.Int32, host.Numel, false), src.ShapeArray);
                Naive.NaiveBackend.Instance.Copy(host, converted);
                using var back = new Tensor(Upload(converted), src.ShapeArray);
                CopySameType(back, dst);
            }
            return;
        }
        var (denseSrc, ownedSrc) = Dense(src);
        using (ownedSrc)
        {
            Tensor target = dst.IsContiguous ? dst : NewContiguous(dst.DType, dst.ShapeRef);
            try
            {
                Span<byte> data = stackalloc byte[64];
                Span<int> offsets = stackalloc int[8];
                var args = new KernelArgs(data, offsets);
                args.Add(Ptr(denseSrc));
                args.Add(Ptr(target));
                args.Add((long)dst.Numel);
                LaunchElementwise($"cast_{Sfx(src.DType)}_{Sfx(dst.DType)}", dst.Numel, ref args);
                if (!ReferenceEquals(target, dst)) CopySameType(target, dst);
            }
            finally
            {
                if (!ReferenceEquals(target, dst)) target.Dispose();
            }
        }
    }

    private void CopySameType(Tensor src, Tensor dst)
    {
        if (src.IsContiguous && dst.IsContiguous)
        {
            MakeCurrent();
            long bytes = (long)dst.Numel * dst.DType.SizeInBytes();
            CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2(Ptr(dst), Ptr(src), (nuint)bytes, _stream));
            return;
        }
        var layout = LaunchShape.Coalesce(dst.Shape, src.StridesRef, dst.StridesRef);
        Strided2 s = LaunchShape.ToStrided2("Copy", layout);
        Span<byte> data = stackalloc byte[512];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(src));
        args.Add(Ptr(dst));
        args.Add(s);
        args.Add((long)dst.Numel);
        LaunchElementwise("strided_copy_" + Sfx(dst.DType), dst.Numel, ref args);
    }
}
