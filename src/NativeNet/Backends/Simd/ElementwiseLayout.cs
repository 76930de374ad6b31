namespace NativeNet.Backends.Simd;

/// <summary>
/// The iteration space of an elementwise op over up to four same-shape views (operand 0 is the output):
/// size-1 dimensions dropped and adjacent dimensions merged wherever every operand steps through them as one,
/// so a contiguous op becomes one long row, [m,n] op [n] becomes m rows with a contiguous b row, and so on.
/// Work is then done row by row over the innermost (merged) dimension.
/// </summary>
internal sealed class ElementwiseLayout
{
    public const int MaxOperands = 4;

    /// <summary>Merged shape, outermost first (at least one dimension).</summary>
    public readonly int[] Shape;
    /// <summary>Strides[operand][dim] of the merged dimensions.</summary>
    public readonly int[][] Strides;
    /// <summary>Storage offset of each operand's first element.</summary>
    public readonly int[] Offsets;
    public readonly int Operands;
    /// <summary>Length of the innermost dimension (one row).</summary>
    public readonly int Inner;
    /// <summary>Number of rows (product of the outer dimensions).</summary>
    public readonly long Rows;

    private static readonly int[] UnitStride = [1];

    public ElementwiseLayout(params Tensor[] tensors)
    {
        Operands = tensors.Length;
        var shape = tensors[0].ShapeRef;
        if (AllDenseAlike(tensors))
        {
            // the common case, and all of a tiny op's cost otherwise: one row, no lists to merge dimensions with
            long numel = tensors[0].Numel;
            Shape = [(int)numel];
            Strides = new int[Operands][];
            Offsets = new int[Operands];
            for (int o = 0; o < Operands; o++)
            {
                Strides[o] = UnitStride;
                Offsets[o] = tensors[o].Offset;
            }
            Inner = (int)numel;
            Rows = 1;
            return;
        }
        var dims = new List<int>();
        var strides = new List<int>[Operands];
        for (int o = 0; o < Operands; o++) strides[o] = [];
        // walk from the innermost dimension outwards, merging when every operand is "contiguous across" the boundary
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 1) continue;
            int last = dims.Count - 1;
            bool merge = last >= 0;
            for (int o = 0; o < Operands && merge; o++)
                merge = (long)tensors[o].StridesRef[d] == (long)strides[o][last] * dims[last];
            if (merge)
            {
                dims[last] *= shape[d];
                continue;
            }
            dims.Add(shape[d]);
            for (int o = 0; o < Operands; o++) strides[o].Add(tensors[o].StridesRef[d]);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            for (int o = 0; o < Operands; o++) strides[o].Add(1);
        }
        dims.Reverse();
        Shape = dims.ToArray();
        Strides = new int[Operands][];
        Offsets = new int[Operands];
        for (int o = 0; o < Operands; o++)
        {
            strides[o].Reverse();
            Strides[o] = strides[o].ToArray();
            Offsets[o] = tensors[o].Offset;
        }
        Inner = Shape[^1];
        long rows = 1;
        for (int d = 0; d < Shape.Length - 1; d++) rows *= Shape[d];
        Rows = rows;
    }

    /// <summary>Every operand contiguous with the shape of the output (no broadcast), and at least one element.</summary>
    private static bool AllDenseAlike(Tensor[] tensors)
    {
        var shape = tensors[0].ShapeRef;
        if (tensors[0].Numel == 0) return false;
        foreach (var t in tensors)
            if (!t.IsContiguous || !t.ShapeRef.AsSpan().SequenceEqual(shape)) return false;
        return true;
    }

    /// <summary>Inner stride of operand <paramref name="o"/>.</summary>
    public int InnerStride(int o) => Strides[o][^1];

    /// <summary>
    /// Calls <paramref name="row"/> for rows [<paramref name="first"/>, <paramref name="end"/>) with each operand's
    /// storage offset of the row start (an odometer over the outer dimensions: no division per row).
    /// </summary>
    public void ForRows<TRow>(long first, long end, ref TRow row) where TRow : struct, IRowVisitor
    {
        int outerRank = Shape.Length - 1;
        Span<int> index = stackalloc int[Math.Max(1, outerRank)];
        Span<nint> offsets = stackalloc nint[MaxOperands];
        long rem = first;
        for (int d = outerRank - 1; d >= 0; d--)
        {
            index[d] = (int)(rem % Shape[d]);
            rem /= Shape[d];
        }
        for (int o = 0; o < Operands; o++)
        {
            nint off = Offsets[o];
            for (int d = 0; d < outerRank; d++) off += (nint)index[d] * Strides[o][d];
            offsets[o] = off;
        }
        for (long r = first; r < end; r++)
        {
            row.Row(offsets, 0, Inner);
            for (int d = outerRank - 1; d >= 0; d--)
            {
                for (int o = 0; o < Operands; o++) offsets[o] += Strides[o][d];
                if (++index[d] < Shape[d]) break;
                for (int o = 0; o < Operands; o++) offsets[o] -= (nint)Strides[o][d] * Shape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>
    /// Runs the whole iteration space, split over <see cref="SimdBackend.Threads"/> threads when it is large:
    /// by rows, or for a single long row by aligned pieces of it. Elementwise results do not depend on the split.
    /// </summary>
    public void Run<TRow>(TRow row) where TRow : struct, IRowVisitor
    {
        long numel = Rows * Inner;
        int parts = SimdParallel.PartsFor(numel);
        if (parts <= 1)
        {
            ForRows(0, Rows, ref row);
            return;
        }
        if (Rows >= parts)
        {
            var byRows = new RowsBody<TRow> { Layout = this, Row = row, Parts = parts };
            WorkerPool.Run(parts, ref byRows);
            return;
        }
        // few long rows: cut each row into pieces of whole cache lines
        int pieces = (parts + (int)Rows - 1) / (int)Rows;
        int pieceLen = (Inner + pieces - 1) / pieces;
        pieceLen = (pieceLen + 63) / 64 * 64;
        pieces = (Inner + pieceLen - 1) / pieceLen;
        var bases = new nint[Rows][];
        var collect = new OffsetCollector(bases, Operands);
        ForRows(0, Rows, ref collect);
        var byPieces = new PiecesBody<TRow> { Layout = this, Row = row, Bases = bases, Pieces = pieces, PieceLength = pieceLen };
        WorkerPool.Run((int)Rows * pieces, ref byPieces);
    }

    private struct RowsBody<TRow> : IParallelBody where TRow : struct, IRowVisitor
    {
        public ElementwiseLayout Layout;
        public TRow Row;
        public int Parts;

        public readonly void Run(int part)
        {
            var local = Row;
            Layout.ForRows(Layout.Rows * part / Parts, Layout.Rows * (part + 1) / Parts, ref local);
        }
    }

    private struct PiecesBody<TRow> : IParallelBody where TRow : struct, IRowVisitor
    {
        public ElementwiseLayout Layout;
        public TRow Row;
        public nint[][] Bases;
        public int Pieces, PieceLength;

        public readonly void Run(int job)
        {
            var local = Row;
            int r = job / Pieces, start = job % Pieces * PieceLength;
            local.Row(Bases[r], start, Math.Min(PieceLength, Layout.Inner - start));
        }
    }

    private struct OffsetCollector(nint[][] bases, int operands) : IRowVisitor
    {
        private int _next;
        public void Row(Span<nint> offsets, int start, int length) => bases[_next++] = offsets[..operands].ToArray();
    }
}

/// <summary>Processes elements [start, start+length) of one row whose operands start at the given storage offsets.</summary>
internal interface IRowVisitor
{
    void Row(Span<nint> offsets, int start, int length);
}

/// <summary>Thread-count policy shared by the Simd kernels; the loops themselves run on <see cref="WorkerPool"/>.</summary>
internal static class SimdParallel
{
    /// <summary>
    /// Elementwise work below this many elements stays on the calling thread, and every part of a split op has at
    /// least half of it: a hand-off to a spinning worker costs about a microsecond, a woken one several, while 32 K
    /// floats of a binary op take 5–10 µs.
    /// </summary>
    public const long ElementThreshold = 1 << 16;

    /// <summary>
    /// Full reductions (sum, max/min, arg-max) below this many elements stay on the calling thread. They only read,
    /// so a second part pays off sooner than for elementwise ops: on the quiet 2-core machine two parts beat one from
    /// 16 K elements in all on the bare pool (`NativeNet.Bench grain`, bench/results/parallel.md), and a whole
    /// `Reduce` call split in two was faster from 32 K (1.4× at 48 K and 64 K in two of three rounds; below 32 K no gain).
    /// </summary>
    public const long ReductionThreshold = 1 << 15;

    /// <summary>How many parts to split <paramref name="work"/> elements into.</summary>
    public static int PartsFor(long work, long threshold = ElementThreshold)
    {
        int threads = SimdBackend.Threads;
        if (threads <= 1 || work <= threshold) return 1;
        return (int)Math.Min(threads, Math.Max(1, work / (threshold / 2)));
    }

    /// <summary>Options for code still on <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>; new code
    /// should use <see cref="For"/> or <see cref="WorkerPool.Run{TBody}"/>, which do not start late.</summary>
    public static ParallelOptions Options(int threads) => new() { MaxDegreeOfParallelism = threads };

    /// <summary>Runs body(part) for part in [0, parts) on the worker pool (inline when parts &lt;= 1).</summary>
    /// <remarks>Kept for callers outside the hot paths; it allocates the caller's closure, where
    /// <see cref="WorkerPool.Run{TBody}"/> with a struct body allocates nothing.</remarks>
    public static void For(int parts, Action<int> body)
    {
        if (parts <= 1)
        {
            for (int p = 0; p < parts; p++) body(p);
            return;
        }
        var wrapper = new ActionBody(body);
        WorkerPool.Run(parts, ref wrapper);
    }

    /// <summary>Runs body(part) for every part of a static split: part p gets the items [total·p/parts, total·(p+1)/parts).</summary>
    public static void ForRanges<TBody>(long total, int parts, ref TBody body) where TBody : struct, IRangeBody
    {
        if (parts <= 1)
        {
            body.Run(0, total);
            return;
        }
        var ranges = new RangesBody<TBody> { Body = body, Total = total, Parts = parts };
        WorkerPool.Run(parts, ref ranges);
    }

    private readonly struct ActionBody(Action<int> body) : IParallelBody
    {
        public void Run(int part) => body(part);
    }

    private struct RangesBody<TBody> : IParallelBody where TBody : struct, IRangeBody
    {
        public TBody Body;
        public long Total;
        public int Parts;

        public readonly void Run(int part)
        {
            var local = Body;
            local.Run(Total * part / Parts, Total * (part + 1) / Parts);
        }
    }
}

/// <summary>The items [start, end) of a statically split loop.</summary>
internal interface IRangeBody
{
    void Run(long start, long end);
}
