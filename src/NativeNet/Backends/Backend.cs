namespace NativeNet.Backends;

/// <summary>
/// The few primitives a device implements. Backends write into output tensors that the caller allocated
/// (<see cref="Ops"/> check shapes and allocate); they know nothing of autodiff. Inputs may be strided views
/// unless a method says "contiguous". Every fast backend is tested against <see cref="Naive.NaiveBackend"/>.
/// </summary>
public abstract partial class Backend
{
    [ThreadStatic] private static Backend? t_cpuOverride;
    private static Backend? s_defaultCpu;

    /// <summary>Short name: "naive", "simd" or "cuda".</summary>
    public abstract string Name { get; }

    /// <summary>The kind of device whose storages this backend computes on.</summary>
    public abstract DeviceKind DeviceKind { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;

    // ---- selection ----

    /// <summary>The backend used for CPU tensors by default (Simd where it exists, else Naive).</summary>
    public static Backend DefaultCpu
    {
        get => s_defaultCpu ??= Simd.SimdBackend.Instance;
        set => s_defaultCpu = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>The CPU backend in force on this thread (<see cref="Use"/> overrides <see cref="DefaultCpu"/>).</summary>
    public static Backend Cpu => t_cpuOverride ?? DefaultCpu;

    /// <summary>Computes CPU tensors with <paramref name="backend"/> on this thread until the returned scope is disposed.</summary>
    public static IDisposable Use(Backend backend)
    {
        if (backend.DeviceKind != DeviceKind.Cpu) throw new ArgumentException($"Backend.Use: {backend.Name} is not a CPU backend; move tensors with Tensor.To(device) instead");
        var previous = t_cpuOverride;
        t_cpuOverride = backend;
        return new Restore(() => t_cpuOverride = previous);
    }

    /// <summary>The backend that computes on <paramref name="device"/>.</summary>
    public static Backend For(Device device) => device.Kind switch
    {
        DeviceKind.Cpu => Cpu,
        DeviceKind.Cuda => Cuda.CudaBackendRegistry.Get(device.Index),
        _ => throw new ArgumentOutOfRangeException(nameof(device), device, "unknown device kind"),
    };

    /// <summary>Looks a backend up by name ("naive", "simd", "cuda"), as the CLI's --backend flag does.</summary>
    public static Backend FromName(string name) => name.ToLowerInvariant() switch
    {
        "naive" => Naive.NaiveBackend.Instance,
        "simd" => Simd.SimdBackend.Instance,
        "cuda" => Cuda.CudaBackendRegistry.Get(0),
        _ => throw new ArgumentException($"unknown backend '{name}': expected naive, simd or cuda"),
    };

    internal static void EnsureCudaDevice(int index) => Cuda.CudaBackendRegistry.EnsureDevice(index);

    private sealed class Restore(Action restore) : IDisposable
    {
        private Action? _restore = restore;
        public void Dispose() { _restore?.Invoke(); _restore = null; }
    }

    // ---- memory ----

    /// <summary>A new storage of <paramref name="length"/> elements on this backend's device, zero-filled when asked.</summary>
    public abstract Storage Allocate(DType dtype, int length, bool zeroed);

    /// <summary>Copies a host tensor (contiguous) into a new storage on this backend's device.</summary>
    public virtual Storage Upload(Tensor host) => throw new NotSupportedException($"{Name}: upload is not needed for a CPU backend");

    /// <summary>Copies a contiguous tensor of this backend's device into a new host storage.</summary>
    public virtual Storage Download(Tensor device) => throw new NotSupportedException($"{Name}: download is not needed for a CPU backend");

    /// <summary>Sets every element of <paramref name="dst"/> (any strides) to <paramref name="value"/>.</summary>
    public abstract void Fill(Tensor dst, double value);

    /// <summary>dst = src elementwise (same shape, any strides, converting dtype when they differ).</summary>
    public abstract void Copy(Tensor src, Tensor dst);

    // ---- elementwise ----

    /// <summary>y = op(x; a, b); x any strides, y contiguous of the same shape; float dtypes only.</summary>
    public abstract void Unary(UnaryOp op, Tensor x, Tensor y, double a, double b);

    /// <summary>y = op(a, b; scalar); a and b are views already broadcast to y's shape (stride 0 where expanded); y contiguous.</summary>
    public abstract void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double scalar);

    /// <summary>y = cond != 0 ? a : b; all views broadcast to y's shape; y contiguous.</summary>
    public abstract void Where(Tensor cond, Tensor a, Tensor b, Tensor y);

    // ---- reductions and softmax (contiguous [outer, dim, inner] layouts) ----

    /// <summary>y[o, i] = op over d of x[o, d, i]; x and y contiguous. An empty dim gives 0 for Sum and an error for Max/Min (checked by the caller).</summary>
    public abstract void Reduce(ReduceOp op, Tensor x, Tensor y, int outer, int dim, int inner);

    /// <summary>y[o, i] (Int32) = first index d of the maximum of x[o, d, i] (NaN counts as the maximum).</summary>
    public abstract void ArgMax(Tensor x, Tensor y, int outer, int dim, int inner);

    /// <summary>Softmax (or log-softmax) along the middle axis of a contiguous [outer, dim, inner] tensor, max-shifted.</summary>
    public abstract void Softmax(Tensor x, Tensor y, int outer, int dim, int inner, bool log);

    /// <summary>dx from the softmax output y and dy: y·(dy − Σ dy·y), or for log-softmax dy − e^y·Σ dy.</summary>
    public abstract void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int dim, int inner, bool log);

    // ---- matrix product ----

    /// <summary>
    /// For each of <paramref name="batch"/> matrices: C = op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n, row-major.
    /// beta = 0 overwrites C even where it holds NaN.
    /// </summary>
    public abstract void Gemm(DType dtype, int batch, int m, int n, int k, MatrixOperand a, MatrixOperand b,
        Storage c, int cOffset, int ldc, int cBatchStride, double beta);

    // ---- convolution and pooling (contiguous NCHW) ----

    /// <summary>y = conv(x, w) + bias; x [N,C,H,W], w [K,C,R,S], bias [K] or null, y [N,K,OH,OW].</summary>
    public abstract void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g);

    /// <summary>dx (overwritten) from dy [N,K,OH,OW] and w.</summary>
    public abstract void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g);

    /// <summary>dw (and db when given), overwritten, from x and dy.</summary>
    public abstract void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g);

    /// <summary>Pooling forward: y [N,C,OH,OW] from x [N,C,H,W].</summary>
    public abstract void Pool2dForward(PoolMode mode, Tensor x, Tensor y, Pool2dGeometry g);

    /// <summary>Pooling backward: dx (overwritten) from x, y, dy.</summary>
    public abstract void Pool2dBackward(PoolMode mode, Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dGeometry g);
}
