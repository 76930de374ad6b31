namespace NativeNet.Backends.Simd;

/// <summary>
/// Per-thread reusable scratch arrays, so that kernels called once per layer and step do not allocate large
/// buffers on every call. A buffer returned by <see cref="Get"/> is valid until the same thread asks again.
/// </summary>
internal static class ThreadScratch<T> where T : unmanaged
{
    [ThreadStatic] private static T[]? t_first;
    [ThreadStatic] private static T[]? t_second;

    /// <summary>A span of <paramref name="length"/> elements (contents undefined).</summary>
    public static Span<T> Get(int length) => Grow(ref t_first, length).AsSpan(0, length);

    /// <summary>The whole first buffer, at least <paramref name="length"/> long (for pinning).</summary>
    public static T[] First(int length) => Grow(ref t_first, length);

    /// <summary>A second buffer independent of the first, at least <paramref name="length"/> long.</summary>
    public static T[] Second(int length) => Grow(ref t_second, length);

    private static T[] Grow(ref T[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<T>(Math.Max(length, (buffer?.Length ?? 0) * 3 / 2), pinned: true);
        return buffer;
    }
}
