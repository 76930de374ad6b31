namespace NativeNet.Backends.Cuda;

/// <summary>
/// Device memory of one CUDA device holding a tensor's elements: a block of the device's caching allocator.
/// Freeing returns the block to the allocator's cache with no driver call, so it is safe from the finalizer thread.
/// </summary>
public sealed class CudaStorage : Storage
{
    private readonly CudaAllocator _allocator;
    private readonly DeviceBlock _block;

    internal CudaStorage(DType dtype, int length, Device device, CudaAllocator allocator)
        : base(dtype, length, device)
    {
        _allocator = allocator;
        _block = allocator.Allocate((long)length * dtype.SizeInBytes());
    }

    /// <summary>The device address of element 0 (0 for an empty storage).</summary>
    public ulong Pointer => _block.Pointer;

    /// <summary>Returns the block when a tensor was never disposed.</summary>
    ~CudaStorage() => FreeOnce();

    /// <inheritdoc/>
    protected override void FreeNative() => _allocator.Free(_block);
}
