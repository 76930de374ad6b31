using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

/// <summary>
/// Raw device memory as the caching allocator sees it: the driver in production, a fake in tests,
/// so the allocator's bookkeeping can be tested without a GPU.
/// </summary>
internal interface IDeviceMemory
{
    /// <summary>Allocates <paramref name="bytes"/>; false on out-of-memory, an exception for any other failure.</summary>
    bool TryAllocate(long bytes, out ulong pointer);

    /// <summary>Returns a block obtained from <see cref="TryAllocate"/> to the device.</summary>
    void Free(ulong pointer);

    /// <summary>Waits for queued work that may still use memory about to be returned to the device.</summary>
    void Synchronize();
}

/// <summary>A block handed out by <see cref="CudaAllocator"/>: its device address and its rounded size.</summary>
internal readonly record struct DeviceBlock(ulong Pointer, long Size);

/// <summary>Statistics of one device's caching allocator.</summary>
/// <param name="BytesInUse">Bytes of blocks handed out and not yet returned (rounded sizes).</param>
/// <param name="BytesCached">Bytes of returned blocks kept for reuse.</param>
/// <param name="PeakBytesInUse">Highest <paramref name="BytesInUse"/> seen.</param>
/// <param name="Allocations">Allocation requests answered (including cache hits).</param>
/// <param name="CacheHits">Requests answered with a cached block.</param>
/// <param name="DeviceAllocations">Blocks actually allocated from the device.</param>
/// <param name="DeviceFrees">Blocks returned to the device (by <c>EmptyCache</c> or the out-of-memory retry).</param>
public readonly record struct CudaMemoryStats(
    long BytesInUse, long BytesCached, long PeakBytesInUse, long Allocations, long CacheHits, long DeviceAllocations, long DeviceFrees)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"in use {BytesInUse} B, cached {BytesCached} B, peak {PeakBytesInUse} B, {Allocations} allocations, {CacheHits} cache hits, {DeviceAllocations} device allocations, {DeviceFrees} device frees";
}

/// <summary>The device ran out of memory even after the allocator returned its cache to the device.</summary>
public sealed class CudaOutOfMemoryException : CudaException
{
    /// <summary>Creates the exception for a failed request.</summary>
    /// <param name="message">What was asked for and the allocator's statistics.</param>
    /// <param name="requestedBytes">The size asked for.</param>
    /// <param name="stats">The allocator's statistics at the failure.</param>
    public CudaOutOfMemoryException(string message, long requestedBytes, CudaMemoryStats stats) : base(message)
    {
        RequestedBytes = requestedBytes;
        Stats = stats;
    }

    /// <summary>The size asked for, in bytes.</summary>
    public long RequestedBytes { get; }

    /// <summary>The allocator's statistics when the request failed.</summary>
    public CudaMemoryStats Stats { get; }
}

/// <summary>
/// A caching allocator for one device, in the manner of PyTorch's: sizes are rounded into bins
/// (to <see cref="SmallRounding"/> bytes up to <see cref="SmallLimit"/>, else to <see cref="LargeRounding"/>),
/// returned blocks are kept per bin and reused for the next request of the same rounded size, and on
/// out-of-memory the cache is returned to the device and the request retried once.
/// <see cref="Free"/> only does bookkeeping under a lock and never calls the driver, so it is safe
/// from the finalizer thread; every block is used on the device's single stream, so a block reused
/// by a later request is only touched after the work queued before it.
/// </summary>
internal sealed class CudaAllocator
{
    /// <summary>Small requests are rounded up to a multiple of this (512 B).</summary>
    public const long SmallRounding = 512;

    /// <summary>Requests up to this size (1 MiB) are small.</summary>
    public const long SmallLimit = 1L << 20;

    /// <summary>Large requests are rounded up to a multiple of this (2 MiB).</summary>
    public const long LargeRounding = 2L << 20;

    private readonly IDeviceMemory _memory;
    private readonly string _deviceName;
    private readonly object _lock = new();
    private readonly Dictionary<long, Stack<ulong>> _free = [];
    private readonly bool _exact;
    private long _bytesInUse, _bytesCached, _peak, _allocations, _hits, _deviceAllocations, _deviceFrees;

    /// <param name="memory">Where blocks come from.</param>
    /// <param name="deviceName">Named in out-of-memory messages.</param>
    /// <param name="exact">
    /// Allocate exactly the bytes asked for and return each block to the device when freed, with no
    /// rounding and no cache: used on the emulated device, whose guard zones then sit right at each
    /// tensor's end and whose quarantine sees every use after free.
    /// </param>
    public CudaAllocator(IDeviceMemory memory, string deviceName, bool exact = false)
    {
        _memory = memory;
        _deviceName = deviceName;
        _exact = exact;
    }

    /// <summary>The bin size of a request: 0 for 0, else rounded up to 512 B (small) or 2 MiB (large).</summary>
    public static long RoundSize(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return 0;
        long unit = bytes <= SmallLimit ? SmallRounding : LargeRounding;
        return checked((bytes + unit - 1) / unit * unit);
    }

    /// <summary>The current statistics.</summary>
    public CudaMemoryStats Stats
    {
        get
        {
            lock (_lock)
                return new CudaMemoryStats(_bytesInUse, _bytesCached, _peak, _allocations, _hits, _deviceAllocations, _deviceFrees);
        }
    }

    /// <summary>A block of at least <paramref name="bytes"/>: a cached one of the same bin, else a new one from the device.</summary>
    /// <exception cref="CudaOutOfMemoryException">The device is out of memory even after the cache was returned to it.</exception>
    public DeviceBlock Allocate(long bytes)
    {
        long size = RoundSize(bytes);
        if (_exact) size = bytes;
        lock (_lock)
        {
            _allocations++;
            if (size == 0) return new DeviceBlock(0, 0);
            if (_free.TryGetValue(size, out var bin) && bin.Count > 0)
            {
                _hits++;
                _bytesCached -= size;
                return Hand(new DeviceBlock(bin.Pop(), size));
            }
            if (!_memory.TryAllocate(size, out ulong pointer))
            {
                ReleaseCachedLocked();
                if (!_memory.TryAllocate(size, out pointer))
                {
                    var stats = new CudaMemoryStats(_bytesInUse, _bytesCached, _peak, _allocations, _hits, _deviceAllocations, _deviceFrees);
                    throw new CudaOutOfMemoryException(
                        $"{_deviceName}: out of memory allocating {bytes} bytes (rounded to {size}) after returning the cache to the device; allocator: {stats}",
                        bytes, stats);
                }
            }
            _deviceAllocations++;
            return Hand(new DeviceBlock(pointer, size));
        }
    }

    private DeviceBlock Hand(DeviceBlock block)
    {
        _bytesInUse += block.Size;
        if (_bytesInUse > _peak) _peak = _bytesInUse;
        return block;
    }

    /// <summary>Returns a block to the cache (no driver call, so any thread may call it).</summary>
    public void Free(DeviceBlock block)
    {
        if (block.Size == 0) return;
        if (_exact)
        {
            lock (_lock)
            {
                _bytesInUse -= block.Size;
                _memory.Free(block.Pointer);
                _deviceFrees++;
            }
            return;
        }
        lock (_lock)
        {
            if (!_free.TryGetValue(block.Size, out var bin)) _free[block.Size] = bin = new Stack<ulong>();
            bin.Push(block.Pointer);
            _bytesInUse -= block.Size;
            _bytesCached += block.Size;
        }
    }

    /// <summary>Returns every cached block to the device.</summary>
    public void EmptyCache()
    {
        lock (_lock) ReleaseCachedLocked();
    }

    private void ReleaseCachedLocked()
    {
        if (_bytesCached == 0) return;
        _memory.Synchronize();
        foreach (var bin in _free.Values)
        {
            while (bin.Count > 0)
            {
                _memory.Free(bin.Pop());
                _deviceFrees++;
            }
        }
        _free.Clear();
        _bytesCached = 0;
    }
}

/// <summary>Device memory through the driver (cuMemAlloc/cuMemFree) in one context.</summary>
internal sealed class DriverDeviceMemory(nint context, nint stream) : IDeviceMemory
{
    public bool TryAllocate(long bytes, out ulong pointer)
    {
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(context));
        CuResult r = CudaDriver.cuMemAlloc_v2(out pointer, (nuint)bytes);
        if (r == CuResult.ErrorOutOfMemory) return false;
        CudaDriver.Check(r, "cuMemAlloc_v2");
        return true;
    }

    public void Free(ulong pointer)
    {
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(context));
        CudaDriver.Check(CudaDriver.cuMemFree_v2(pointer));
    }

    public void Synchronize()
    {
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(context));
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(stream));
    }
}
