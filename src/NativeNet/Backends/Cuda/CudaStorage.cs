namespace NativeNet.Backends.Cuda;

/// <summary>
/// Device memory of one CUDA device holding a tensor's elements: a block of the device's caching allocator.
/// Freeing returns the block to the allocator's cache with no driver call, so it is safe from the finalizer thread.
/// </summary>
public sealed class CudaStorage : Storage
{
    private readonly CudaAllocator _allocator;
    private readonly DeviceBlock _block;

    private CudaStorage(DType dtype, int length, Device device, CudaAllocator allocator, DeviceBlock block)
        : base(dtype, length, device)
    {
        _allocator = allocator;
        _block = block;
    }

    /// <summary>
    /// Allocates the block first, so a failed allocation (out of memory) creates no storage whose
    /// finalizer or byte count would have to cope with a missing block.
    /// </summary>
    internal static CudaStorage Create(DType dtype, int length, Device device, CudaAllocator allocator)
    {
        DeviceBlock block = allocator.Allocate((long)length * dtype.SizeInBytes());
        try
        {
            return new CudaStorage(dtype, length, device, allocator, block);
        }
        catch
        {
            allocator.Free(block);
            throw;
        }
    }

    /// <summary>The device address of element 0 (0 for an empty storage).</summary>
    public ulong Pointer => _block.Pointer;

    /// <summary>Returns the block when a tensor was never disposed.</summary>
    ~CudaStorage() => FreeOnce();

    /// <inheritdoc/>
    protected override void FreeNative() => _allocator.Free(_block);
}
