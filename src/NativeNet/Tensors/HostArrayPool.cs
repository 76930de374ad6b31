namespace NativeNet;

/// <summary>
/// Reuse of the large host arrays behind the CPU backends' storages. A training step allocates and frees hundreds of MB of
/// activations and gradients of the same few sizes; fresh large arrays come from the large-object heap, which hands back
/// its memory to the OS between gen-2 collections, so every step page-faults (and the kernel zeroes) that memory again.
/// Arrays of at least <see cref="MinimumBytes"/> whose storage was disposed (never one a caller handed in, never from a
/// finalizer) wait here by exact length, up to <see cref="CapacityBytes"/> in all, and a later allocation of that length
/// takes one (clearing it when zeroed storage is asked for).
/// </summary>
internal static class HostArrayPool
{
    /// <summary>The large-object threshold: smaller arrays are cheap gen-0 allocations.</summary>
    public const int MinimumBytes = 85_000;

    /// <summary>At most this many bytes wait in the pool: an eighth of the memory the GC may use, at most 2 GiB.</summary>
    public static readonly long CapacityBytes = Math.Min(2L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8);

    private static readonly object Gate = new();
    private static long _pooledBytes;

    /// <summary>Counts bytes entering (positive) or leaving (negative) the pool; false when they do not fit.</summary>
    public static bool TryReserve(long bytes)
    {
        lock (Gate)
        {
            if (bytes > 0 && _pooledBytes + bytes > CapacityBytes) return false;
            _pooledBytes += bytes;
            return true;
        }
    }
}

/// <summary>The arrays of one element type in <see cref="HostArrayPool"/>.</summary>
internal static class HostArrayPool<T> where T : unmanaged
{
    private static readonly Dictionary<int, Stack<T[]>> Free = [];

    private static long BytesOf(int length) => (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    /// <summary>Whether arrays of this length are pooled.</summary>
    public static bool Pools(int length) => BytesOf(length) >= HostArrayPool.MinimumBytes;

    /// <summary>An array of exactly <paramref name="length"/> elements, from the pool when one waits; cleared when <paramref name="zeroed"/>.</summary>
    public static T[] Rent(int length, bool zeroed)
    {
        if (Pools(length))
        {
            T[]? reused = null;
            lock (Free)
                if (Free.TryGetValue(length, out var stack) && stack.Count > 0) reused = stack.Pop();
            if (reused is not null)
            {
                HostArrayPool.TryReserve(-BytesOf(length));
                if (zeroed) Array.Clear(reused);
                return reused;
            }
        }
        return zeroed ? new T[length] : GC.AllocateUninitializedArray<T>(length);
    }

    /// <summary>Takes back an array no storage uses any more (dropped to the GC when the pool is full).</summary>
    public static void Return(T[] array)
    {
        if (!Pools(array.Length) || !HostArrayPool.TryReserve(BytesOf(array.Length))) return;
        lock (Free)
        {
            if (!Free.TryGetValue(array.Length, out var stack)) Free[array.Length] = stack = new Stack<T[]>();
            stack.Push(array);
        }
    }
}
