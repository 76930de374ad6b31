using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

/// <summary>
/// An n-dimensional array view: a shared <see cref="Storage"/> plus shape, strides (in elements) and offset.
/// Views (reshape, transpose, slice, expand) share storage without copying. Tensors are
/// <see cref="IDisposable"/> so device memory never waits for the garbage collector; a <see cref="TensorScope"/>
/// disposes the tensors created inside it.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly int[] _strides;
    private bool _disposed;
    private readonly LiveToken _liveToken;

    /// <summary>
    /// The one choke point of every tensor and view: the geometry is checked here, in 64-bit arithmetic, against the
    /// storage (see <see cref="ShapeUtil.CheckView"/>), so no kernel is ever handed a view that reaches outside it.
    /// </summary>
    internal Tensor(Storage storage, int[] shape, int[] strides, long offset, string op = "view")
    {
        if (storage.IsFreed) throw new ObjectDisposedException(nameof(Tensor), $"{op}: the storage of this tensor was already freed");
        Numel = ShapeUtil.CheckView(op, shape, strides, offset, storage.Length);
        _liveToken = new LiveToken();
        Storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = (int)offset;
        storage.Retain();
        MemoryStats.OnTensorCreated();
        TensorScope.Register(this);
    }

    internal Tensor(Storage storage, int[] shape) : this(storage, shape, ShapeUtil.ContiguousStrides(shape), 0) { }

    /// <summary>The shared element buffer.</summary>
    public Storage Storage { get; }

    /// <summary>Dimensions (a copy is not made: do not mutate).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Strides in elements per dimension; 0 marks a broadcast dimension.</summary>
    public ReadOnlySpan<int> Strides => _strides;

    /// <summary>Dimensions as an array (a copy).</summary>
    public int[] ShapeArray => (int[])_shape.Clone();

    internal int[] ShapeRef => _shape;
    internal int[] StridesRef => _strides;

    /// <summary>Offset of element [0,...,0] in the storage, in elements.</summary>
    public int Offset { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Numel { get; }

    /// <summary>Element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>Where the data lives.</summary>
    public Device Device => Storage.Device;

    /// <summary>Size of dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Size(int axis) => _shape[ShapeUtil.NormalizeAxis("Size", axis, Rank)];

    /// <summary>True when the elements are laid out densely in row-major order from <see cref="Offset"/>.</summary>
    public bool IsContiguous
    {
        get
        {
            int expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>True once disposed; any further use throws <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => _disposed;

    // ---- autodiff state ----

    /// <summary>Whether gradients flow to this tensor. Set it on leaves (parameters, inputs to check).</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Accumulated gradient after <see cref="Backward"/>, same shape as this tensor; null before.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The recorded gate that produced this tensor (null for leaves and no-grad results).</summary>
    internal TapeNode? Node { get; set; }

    /// <summary>True for tensors not produced by a recorded op.</summary>
    public bool IsLeaf => Node is null;

    /// <summary>Optional name used in messages and checkpoints.</summary>
    public string? Name { get; set; }

    /// <summary>Runs reverse-mode autodiff from this tensor; see <see cref="Tape.Backward"/>.</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Tape.Backward(this, gradient, retainGraph);

    /// <summary>A view of the same data that records no history and requires no gradient.</summary>
    public Tensor Detach()
    {
        ThrowIfDisposed("Detach");
        return new(Storage, _shape, _strides, Offset, "Detach");
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor, for fluent construction.</summary>
    public Tensor RequireGrad(bool requires = true)
    {
        if (requires && !DType.IsFloat()) throw new DTypeMismatchException($"RequireGrad: only floating-point tensors can require gradients, not {DType}");
        RequiresGrad = requires;
        return this;
    }

    internal void ThrowIfDisposed(string? op = null)
    {
        if (_disposed) throw new ObjectDisposedException(DisposedName, $"{(op is null ? "" : op + ": ")}tensor {DisposedName} was disposed");
    }

    private string DisposedName => Name is null ? Describe() : $"'{Name}' ({Describe()})";

    /// <summary>"Float32[2, 3] on cpu" style description for messages.</summary>
    public string Describe() => $"{DType}{ShapeUtil.Format(_shape)} on {Device}";

    /// <summary>Releases this view's hold on the storage (the last view frees it). Safe to call twice.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Storage.Release();
        MemoryStats.OnTensorDisposed();
        GC.SuppressFinalize(_liveToken);
    }

    /// <summary>
    /// Finalized when its tensor was dropped without <see cref="Dispose"/>, to take that tensor off the live count. A
    /// separate small object rather than a finalizer on the tensor, so a forgotten tensor (and its storage) is not kept
    /// for an extra collection; the storage's own finalizer counts its bytes as freed once no view references it.
    /// </summary>
    private sealed class LiveToken
    {
        ~LiveToken() => MemoryStats.OnTensorReclaimed();
    }

    /// <summary>A view with new geometry over the same storage.</summary>
    internal Tensor View(int[] shape, int[] strides, long offset, string op = "view")
    {
        ThrowIfDisposed(op);
        return new(Storage, shape, strides, offset, op);
    }

    /// <summary>The backend that computes on this tensor's device.</summary>
    internal Backend Backend => Backend.For(Device);

    /// <summary>The host array when this tensor lives on the CPU; throws otherwise.</summary>
    internal T[] HostData<T>() where T : unmanaged =>
        Storage is CpuStorage<T> cpu ? cpu.Data : throw new InvalidOperationException($"tensor {Describe()} is not a host {typeof(T).Name} tensor");

    /// <summary>The host array, handed over to the caller for good: it outlives the tensor, so it never goes back to <see cref="HostArrayPool"/>.</summary>
    internal T[] TakeHostData<T>() where T : unmanaged =>
        Storage is CpuStorage<T> cpu ? cpu.TakeData() : throw new InvalidOperationException($"tensor {Describe()} is not a host {typeof(T).Name} tensor");
}
