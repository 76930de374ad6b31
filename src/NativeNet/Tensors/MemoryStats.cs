namespace NativeNet;

/// <summary>Process-wide counters of tensors and storage bytes, for leak checks and memory reports.</summary>
public static class MemoryStats
{
    private static long _liveTensors;
    private static long _bytesInUse;
    private static long _peakBytes;

    /// <summary>Tensors created and not yet disposed.</summary>
    public static long LiveTensors => Interlocked.Read(ref _liveTensors);

    /// <summary>Bytes held by storages that are still referenced.</summary>
    public static long BytesInUse => Interlocked.Read(ref _bytesInUse);

    /// <summary>Highest <see cref="BytesInUse"/> seen.</summary>
    public static long PeakBytes => Interlocked.Read(ref _peakBytes);

    internal static void OnTensorCreated() => Interlocked.Increment(ref _liveTensors);
    internal static void OnTensorDisposed() => Interlocked.Decrement(ref _liveTensors);

    internal static void OnAllocate(long bytes)
    {
        long now = Interlocked.Add(ref _bytesInUse, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, now, peak) != peak) { }
    }

    internal static void OnFree(long bytes) => Interlocked.Add(ref _bytesInUse, -bytes);

    /// <summary>One-line summary.</summary>
    public static string Describe() => $"live tensors {LiveTensors}, bytes in use {BytesInUse:N0}, peak {PeakBytes:N0}";
}
