using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeNet.Backends.Cuda;

/// <summary>Mirror of <c>Strided2</c> in kernels/common.cuh: rank, then shape and two stride arrays of 8 i64 each.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Strided2
{
    public int Rank;
    public fixed long Shape[LaunchShape.MaxRank];
    public fixed long Stride0[LaunchShape.MaxRank];
    public fixed long Stride1[LaunchShape.MaxRank];
}

/// <summary>Mirror of <c>Strided3</c> in kernels/common.cuh.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Strided3
{
    public int Rank;
    public fixed long Shape[LaunchShape.MaxRank];
    public fixed long Stride0[LaunchShape.MaxRank];
    public fixed long Stride1[LaunchShape.MaxRank];
    public fixed long Stride2[LaunchShape.MaxRank];
}

/// <summary>Mirror of <c>Strided4</c> in kernels/common.cuh.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Strided4
{
    public int Rank;
    public fixed long Shape[LaunchShape.MaxRank];
    public fixed long Stride0[LaunchShape.MaxRank];
    public fixed long Stride1[LaunchShape.MaxRank];
    public fixed long Stride2[LaunchShape.MaxRank];
    public fixed long Stride3[LaunchShape.MaxRank];
}

/// <summary>A shape with one stride array per operand, after merging dimensions that can be walked as one.</summary>
internal sealed record StridedLayout(long[] Shape, long[][] Strides)
{
    public int Rank => Shape.Length;
}

/// <summary>Host-side launch geometry and argument marshalling; pure functions, tested without a GPU.</summary>
internal static class LaunchShape
{
    /// <summary>NN_MAX_RANK in kernels/common.cuh.</summary>
    public const int MaxRank = 8;

    /// <summary>Threads per block of the grid-stride kernels.</summary>
    public const int Threads = 256;

    /// <summary>Blocks per SM at most; the grid-stride loops cover the rest.</summary>
    public const int BlocksPerSm = 32;

    /// <summary>Blocks for a grid-stride loop over <paramref name="n"/> items: min(ceil(n/256), SMs·32), 0 when there is nothing to do.</summary>
    public static uint Grid(long n, int multiprocessors)
    {
        if (n <= 0) return 0;
        long blocks = (n + Threads - 1) / Threads;
        return (uint)Math.Min(blocks, Math.Max(1L, (long)multiprocessors * BlocksPerSm));
    }

    /// <summary>Blocks for a block-per-slice kernel: one per slice up to SMs·32 (the kernels loop over the rest).</summary>
    public static uint SliceGrid(long slices, int multiprocessors) =>
        slices <= 0 ? 0 : (uint)Math.Min(slices, Math.Max(1L, (long)multiprocessors * BlocksPerSm));

    /// <summary>Threads of a block-per-slice kernel: the slice length rounded up to a multiple of 32, between 32 and 256.</summary>
    public static uint SliceThreads(long dim) => (uint)Math.Clamp((dim + 31) / 32 * 32, 32, Threads);

    /// <summary>
    /// Whether a reduction over [outer, dim, inner] should use one block per output (threads along dim)
    /// rather than one thread per output: when dim is long and there are few outputs or they are not
    /// adjacent in memory along dim.
    /// </summary>
    public static bool UseBlockReduction(long outer, long dim, long inner, int multiprocessors)
    {
        if (dim < 64) return false;
        long outputs = outer * inner;
        return inner == 1 || outputs < (long)multiprocessors * 4 * Threads;
    }

    /// <summary>
    /// Drops dimensions of extent 1 and merges neighbours that every operand walks as one
    /// (stride[d] == stride[d+1]·shape[d+1]), so that strided kernels see the smallest rank.
    /// </summary>
    public static StridedLayout Coalesce(ReadOnlySpan<int> shape, params int[][] strides)
    {
        foreach (var s in strides)
            if (s.Length != shape.Length) throw new ArgumentException($"Coalesce: stride rank {s.Length} differs from shape rank {shape.Length}");
        var dims = new List<long>();
        var st = strides.Select(_ => new List<long>()).ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            int last = dims.Count - 1;
            bool merge = last >= 0;
            for (int k = 0; k < strides.Length && merge; k++)
                merge = st[k][last] == (long)strides[k][d] * shape[d];
            if (merge)
            {
                dims[last] *= shape[d];
                for (int k = 0; k < strides.Length; k++) st[k][last] = strides[k][d];
            }
            else
            {
                dims.Add(shape[d]);
                for (int k = 0; k < strides.Length; k++) st[k].Add(strides[k][d]);
            }
        }
        return new StridedLayout(dims.ToArray(), st.Select(l => l.ToArray()).ToArray());
    }

    private static void CheckRank(string op, StridedLayout layout, int operands)
    {
        if (layout.Strides.Length != operands) throw new ArgumentException($"{op}: {layout.Strides.Length} stride arrays given, {operands} expected");
        if (layout.Rank > MaxRank)
            throw new NotSupportedException($"{op}: the strided view needs {layout.Rank} dimensions after merging ({string.Join(", ", layout.Shape)}); the Cuda kernels support at most {MaxRank}");
    }

    // SAFETY (all three): indexes into the fixed buffers are below layout.Rank, which CheckRank bounds by MaxRank.
    public static unsafe Strided2 ToStrided2(string op, StridedLayout layout)
    {
        CheckRank(op, layout, 2);
        var s = new Strided2 { Rank = layout.Rank };
        for (int d = 0; d < layout.Rank; d++)
        {
            s.Shape[d] = layout.Shape[d];
            s.Stride0[d] = layout.Strides[0][d];
            s.Stride1[d] = layout.Strides[1][d];
        }
        return s;
    }

    public static unsafe Strided3 ToStrided3(string op, StridedLayout layout)
    {
        CheckRank(op, layout, 3);
        var s = new Strided3 { Rank = layout.Rank };
        for (int d = 0; d < layout.Rank; d++)
        {
            s.Shape[d] = layout.Shape[d];
            s.Stride0[d] = layout.Strides[0][d];
            s.Stride1[d] = layout.Strides[1][d];
            s.Stride2[d] = layout.Strides[2][d];
        }
        return s;
    }

    public static unsafe Strided4 ToStrided4(string op, StridedLayout layout)
    {
        CheckRank(op, layout, 4);
        var s = new Strided4 { Rank = layout.Rank };
        for (int d = 0; d < layout.Rank; d++)
        {
            s.Shape[d] = layout.Shape[d];
            s.Stride0[d] = layout.Strides[0][d];
            s.Stride1[d] = layout.Strides[1][d];
            s.Stride2[d] = layout.Strides[2][d];
            s.Stride3[d] = layout.Strides[3][d];
        }
        return s;
    }

    /// <summary>
    /// The leading dimension cuBLAS must be given for a row-major rows×cols matrix stored with row
    /// stride <paramref name="ld"/>: ld itself, or (for a single row, where ld is never used) at least max(1, cols).
    /// </summary>
    public static int BlasLd(string op, int ld, int rows, int cols)
    {
        if (rows <= 1) return Math.Max(ld, Math.Max(1, cols));
        if (ld < Math.Max(1, cols)) throw new ArgumentException($"{op}: row stride {ld} is smaller than the row length {cols} of a {rows}x{cols} operand");
        return ld;
    }
}

/// <summary>
/// Kernel arguments packed for cuLaunchKernel: each value copied, 8-byte aligned, into a caller-owned
/// buffer (stack memory), with one pointer per argument built at launch.
/// </summary>
/// <remarks>
/// The kernelParams array ends with NULL, <see cref="SizesMarker"/> and each argument's size in bytes.
/// A real driver reads only as many entries as the kernel has parameters; the emulated device
/// (tests/CudaEmulator) reads the rest to reject a launch whose argument count or sizes differ from the PTX signature.
/// </remarks>
internal ref struct KernelArgs
{
    /// <summary>Follows the NULL that ends the argument pointers ("NEMUMARG" in little-endian ASCII).</summary>
    public const ulong SizesMarker = 0x4752414d554d454eUL;

    /// <summary>The most arguments one launch may take.</summary>
    public const int MaxArguments = 32;

    [InlineArray(MaxArguments)]
    private struct SizeList
    {
        private int _element;
    }

    private readonly Span<byte> _data;
    private readonly Span<int> _offsets;
    private SizeList _sizes;
    private int _used;

    public KernelArgs(Span<byte> data, Span<int> offsets)
    {
        _data = data;
        _offsets = offsets;
        _used = 0;
        Count = 0;
    }

    /// <summary>Arguments added so far.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of the buffer in use.</summary>
    public readonly int BytesUsed => _used;

    /// <summary>Appends one argument by value.</summary>
    public void Add<T>(T value) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        int offset = (_used + 7) & ~7;
        if (offset + size > _data.Length || Count >= _offsets.Length || Count >= MaxArguments)
            throw new InvalidOperationException($"kernel argument buffer full: {Count} arguments, {offset + size} of {_data.Length} bytes");
        MemoryMarshal.Write(_data.Slice(offset, size), in value);
        _sizes[Count] = size;
        _offsets[Count++] = offset;
        _used = offset + size;
    }

    /// <summary>Byte offset of argument <paramref name="index"/> in the buffer.</summary>
    public readonly int OffsetOf(int index) => _offsets[index];

    /// <summary>Size in bytes of argument <paramref name="index"/>.</summary>
    public readonly int SizeOf(int index) => index >= 0 && index < Count ? _sizes[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The buffer's bytes (for tests).</summary>
    public readonly ReadOnlySpan<byte> Data => _data[.._used];

    /// <summary>Calls <paramref name="launch"/> with the kernelParams array: one pointer per argument into the (fixed) buffer.</summary>
    // SAFETY: the buffer is stack memory (or pinned by `fixed` here) that outlives the call; each pointer addresses
    // a value written by Add, of the size the kernel parameter has, as cuLaunchKernel requires.
    public readonly unsafe void Invoke(LaunchAction launch)
    {
        void** pointers = stackalloc void*[2 * Count + 2];
        fixed (byte* basePtr = _data)
        {
            for (int i = 0; i < Count; i++)
            {
                pointers[i] = basePtr + _offsets[i];
                pointers[Count + 2 + i] = (void*)(nuint)_sizes[i];
            }
            pointers[Count] = null;
            pointers[Count + 1] = (void*)unchecked((nuint)SizesMarker);
            launch(pointers);
        }
    }
}

/// <summary>Receives the kernelParams array of a launch.</summary>
internal unsafe delegate void LaunchAction(void** args);
