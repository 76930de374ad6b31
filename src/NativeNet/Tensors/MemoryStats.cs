namespace NativeNet;

/// <summary>Process-wide counters of tensors and storage bytes, for leak checks and memory reports.</summary>
public static class MemoryStats
{
    private static long _liveTensors;
    private static long _bytesInUse;
    private static long _peakBytes;
    private static long _reclaimedTensors;

    /// <summary>
    /// Tensors created and still alive: neither disposed nor reclaimed by the garbage collector. A tensor dropped without
    /// <see cref="Tensor.Dispose"/> stays counted until the collector finalizes it (then it moves to <see cref="ReclaimedTensors"/>).
    /// </summary>
    public static long LiveTensors => Interlocked.Read(ref _liveTensors);

    /// <summary>Tensors the garbage collector finalized without <see cref="Tensor.Dispose"/> (a leak indicator: their memory waited for the collector).</summary>
    public static long ReclaimedTensors => Interlocked.Read(ref _reclaimedTensors);

    /// <summary>Bytes held by storages that are still referenced.</summary>
    public static long BytesInUse => Interlocked.Read(ref _bytesInUse);

    /// <summary>Highest <see cref="BytesInUse"/> seen.</summary>
    public static long PeakBytes => Interlocked.Read(ref _peakBytes);

    internal static void OnTensorCreated() => Interlocked.Increment(ref _liveTensors);
    internal static void OnTensorDisposed() => Interlocked.Decrement(ref _liveTensors);

    internal static void OnTensorReclaimed()
    {
        Interlocked.Decrement(ref _liveTensors);
        Interlocked.Increment(ref _reclaimedTensors);
    }

    internal static void OnAllocate(long bytes)
    {
        long now = Interlocked.Add(ref _bytesInUse, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, now, peak) != peak) { }
    }

    internal static void OnFree(long bytes) => Interlocked.Add(ref _bytesInUse, -bytes);

    /// <summary>One-line summary.</summary>
    public static string Describe() => $"live tensors {LiveTensors} (reclaimed by the GC without Dispose: {ReclaimedTensors}), bytes in use {BytesInUse:N0}, peak {PeakBytes:N0}";
}
