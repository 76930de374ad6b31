namespace NativeNet;

/// <summary>
/// A reference-counted block of elements that one or more tensor views share.
/// Freed when the last view is disposed (or, for forgotten CPU tensors, by the garbage collector).
/// </summary>
public abstract class Storage
{
    private int _refCount;
    private int _freed;

    /// <summary>Creates a storage of <paramref name="length"/> elements and counts its bytes.</summary>
    protected Storage(DType dtype, int length, Device device)
    {
        DType = dtype;
        Length = length;
        Device = device;
        MemoryStats.OnAllocate(Bytes);
    }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Where the elements live.</summary>
    public Device Device { get; }

    /// <summary>Size in bytes.</summary>
    public long Bytes => (long)Length * DType.SizeInBytes();

    /// <summary>True once the last reference is gone.</summary>
    public bool IsFreed => Volatile.Read(ref _freed) != 0;

    internal void Retain() => Interlocked.Increment(ref _refCount);

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refCount) == 0) FreeOnce();
    }

    /// <summary>Finalizer path for storages whose tensors were never disposed.</summary>
    protected void FreeOnce()
    {
        if (Interlocked.Exchange(ref _freed, 1) != 0) return;
        MemoryStats.OnFree(Bytes);
        FreeNative();
        GC.SuppressFinalize(this);
    }

    /// <summary>Returns device memory; host arrays need nothing.</summary>
    protected abstract void FreeNative();
}

/// <summary>Host storage backed by a managed array.</summary>
public sealed class CpuStorage<T> : Storage where T : unmanaged
{
    private bool _pooled;
    private bool _finalizing;

    /// <summary>Wraps <paramref name="data"/> without copying.</summary>
    public CpuStorage(T[] data) : base(DTypeExtensions.Of<T>(), data.Length, Device.Cpu) => Data = data;

    private CpuStorage(T[] data, bool pooled) : this(data) => _pooled = pooled;

    /// <summary>A storage of <paramref name="length"/> elements on an array from <see cref="HostArrayPool"/>, which gets it back when the storage is freed.</summary>
    internal static CpuStorage<T> Allocate(int length, bool zeroed) =>
        new(HostArrayPool<T>.Rent(length, zeroed), HostArrayPool<T>.Pools(length));

    /// <summary>The elements.</summary>
    public T[] Data { get; }

    /// <summary>The elements for a caller that keeps them after the storage is freed: the array is not pooled any more.</summary>
    internal T[] TakeData()
    {
        _pooled = false;
        return Data;
    }

    /// <summary>Counts the bytes as freed when a tensor was never disposed.</summary>
    ~CpuStorage()
    {
        _finalizing = true;
        FreeOnce();
    }

    /// <inheritdoc/>
    protected override void FreeNative()
    {
        if (_pooled && !_finalizing) HostArrayPool<T>.Return(Data);
    }
}
