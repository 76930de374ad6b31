using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    /// <summary>
    /// Contiguous sums are cut into blocks of this many elements: each block is summed in T with TensorPrimitives
    /// (several vector accumulators), block sums are added in double. Float error stays near that of a 4096-element
    /// sum however long the row, and the blocks do not depend on the thread count, so neither does the result.
    /// </summary>
    private const int SumBlock = 4096;

    /// <summary>Rows of a strided (inner &gt; 1) sum accumulated in T before being flushed into double.</summary>
    private const int StridedSumBlock = 64;

    /// <inheritdoc/>
    public override void Reduce(ReduceOp op, Tensor x, Tensor y, int outer, int dim, int inner) =>
        ByFloatType(x.DType, op.ToString(), () => ReduceCore<float>(op, x, y, outer, dim, inner), () => ReduceCore<double>(op, x, y, outer, dim, inner));

    private static void ReduceCore<T>(ReduceOp op, Tensor x, Tensor y, int outer, int dim, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (outer == 0 || inner == 0) return;
        T[] xs = x.HostData<T>(), ys = y.HostData<T>();
        int xo = x.Offset, yo = y.Offset;
        if (dim == 0)
        {
            // only Sum gets here (the caller rejects empty Max/Min)
            Array.Clear(ys, yo, outer * inner);
            return;
        }
        if (inner == 1)
        {
            if (op == ReduceOp.Sum)
            {
                int blocks = (dim + SumBlock - 1) / SumBlock;
                if (blocks == 1)
                {
                    // one block per row: the row's vector sum is the result (one double rounding, as below)
                    var rows = new RowSums<T> { X = xs, Xo = xo, Y = ys, Yo = yo, Dim = dim };
                    SimdParallel.ForRanges(outer, SimdParallel.PartsFor((long)outer * dim, SimdParallel.ReductionThreshold), ref rows);
                    return;
                }
                var partial = new double[(long)outer * blocks];
                var sums = new BlockSums<T> { X = xs, Xo = xo, Dim = dim, Blocks = blocks, Partial = partial };
                SimdParallel.ForRanges((long)outer * blocks, SimdParallel.PartsFor((long)outer * dim, SimdParallel.ReductionThreshold), ref sums);
                for (int o = 0; o < outer; o++)
                {
                    double acc = 0;
                    for (int bi = 0; bi < blocks; bi++) acc += partial[(long)o * blocks + bi];
                    ys[yo + o] = T.CreateTruncating(acc);
                }
                return;
            }
            var extremes = new RowExtremes<T> { X = xs, Xo = xo, Y = ys, Yo = yo, Dim = dim, Max = op == ReduceOp.Max };
            SimdParallel.ForRanges(outer, SimdParallel.PartsFor((long)outer * dim, SimdParallel.ReductionThreshold), ref extremes);
            return;
        }

        // inner > 1: reduce whole rows of length inner against each other; split over (outer, inner pieces)
        int pieceLen = Math.Max(256, inner);
        if ((long)outer * dim * inner > SimdParallel.ReductionThreshold && outer < Threads) pieceLen = Math.Max(256, (inner + Threads - 1) / Threads);
        int pieces = (inner + pieceLen - 1) / pieceLen;
        var columns = new ColumnReductions<T> { Op = op, X = xs, Xo = xo, Y = ys, Yo = yo, Dim = dim, Inner = inner, PieceLength = pieceLen, Pieces = pieces };
        SimdParallel.ForRanges((long)outer * pieces, SimdParallel.PartsFor((long)outer * dim * inner, SimdParallel.ReductionThreshold), ref columns);
    }

    private struct RowSums<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] X, Y;
        public int Xo, Yo, Dim;

        public readonly void Run(long start, long end)
        {
            for (long o = start; o < end; o++)
                Y[Yo + o] = T.CreateTruncating(double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(X, (int)(Xo + o * Dim), Dim))));
        }
    }

    private struct BlockSums<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] X;
        public double[] Partial;
        public int Xo, Dim, Blocks;

        public readonly void Run(long start, long end)
        {
            for (long j = start; j < end; j++)
            {
                long o = j / Blocks;
                int first = (int)(j % Blocks) * SumBlock;
                Partial[j] = double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(X, (int)(Xo + o * Dim + first), Math.Min(SumBlock, Dim - first))));
            }
        }
    }

    private struct RowExtremes<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] X, Y;
        public int Xo, Yo, Dim;
        public bool Max;

        public readonly void Run(long start, long end)
        {
            for (long o = start; o < end; o++)
            {
                var row = new ReadOnlySpan<T>(X, (int)(Xo + o * Dim), Dim);
                // TensorPrimitives.Max/Min propagate NaN and order -0 < +0 exactly like T.Max/T.Min
                Y[Yo + o] = Max ? TensorPrimitives.Max(row) : TensorPrimitives.Min(row);
            }
        }
    }

    private struct ColumnReductions<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReduceOp Op;
        public T[] X, Y;
        public int Xo, Yo, Dim, Inner, PieceLength, Pieces;

        public readonly void Run(long start, long end)
        {
            for (long j = start; j < end; j++)
            {
                int o = (int)(j / Pieces), i0 = (int)(j % Pieces) * PieceLength, len = Math.Min(PieceLength, Inner - i0);
                ReduceColumns(Op, X, Xo + o * Dim * Inner + i0, Dim, Inner, len, new Span<T>(Y, Yo + o * Inner + i0, len));
            }
        }
    }

    /// <summary>dst[i] = op over d of x[first + d·stride + i] for i &lt; len.</summary>
    private static void ReduceColumns<T>(ReduceOp op, T[] xs, int first, int dim, int stride, int len, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (op != ReduceOp.Sum)
        {
            new ReadOnlySpan<T>(xs, first, len).CopyTo(dst);
            for (int d = 1; d < dim; d++)
            {
                var row = new ReadOnlySpan<T>(xs, first + d * stride, len);
                if (op == ReduceOp.Max) TensorPrimitives.Max(dst, row, dst);
                else TensorPrimitives.Min(dst, row, dst);
            }
            return;
        }
        // len is at most one piece (256 elements, or inner / threads for few wide rows): small enough for the stack
        Span<double> total = len <= 1024 ? stackalloc double[len] : new double[len];
        Span<T> block = len <= 1024 ? stackalloc T[len] : new T[len];
        total.Clear();
        for (int d0 = 0; d0 < dim; d0 += StridedSumBlock)
        {
            int d1 = Math.Min(dim, d0 + StridedSumBlock);
            new ReadOnlySpan<T>(xs, first + d0 * stride, len).CopyTo(block);
            for (int d = d0 + 1; d < d1; d++) TensorPrimitives.Add(block, new ReadOnlySpan<T>(xs, first + d * stride, len), block);
            for (int i = 0; i < len; i++) total[i] += double.CreateTruncating(block[i]);
        }
        for (int i = 0; i < len; i++) dst[i] = T.CreateTruncating(total[i]);
    }

    /// <inheritdoc/>
    public override void ArgMax(Tensor x, Tensor y, int outer, int dim, int inner) =>
        ByFloatType(x.DType, "ArgMax", () => ArgMaxCore<float>(x, y, outer, dim, inner), () => ArgMaxCore<double>(x, y, outer, dim, inner));

    private static void ArgMaxCore<T>(Tensor x, Tensor y, int outer, int dim, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (outer == 0 || inner == 0 || dim == 0) return;
        T[] xs = x.HostData<T>();
        int[] ys = y.HostData<int>();
        int xo = x.Offset, yo = y.Offset;
        var body = new ArgMaxRows<T> { X = xs, Xo = xo, Y = ys, Yo = yo, Dim = dim, Inner = inner };
        SimdParallel.ForRanges(outer, SimdParallel.PartsFor((long)outer * dim * inner, SimdParallel.ReductionThreshold), ref body);
    }

    private struct ArgMaxRows<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] X;
        public int[] Y;
        public int Xo, Yo, Dim, Inner;

        public readonly void Run(long start, long end)
        {
            var best = Inner > 1 ? new T[Inner] : null;
            for (int o = (int)start; o < end; o++)
            {
                int first = Xo + o * Dim * Inner;
                if (Inner == 1)
                {
                    Y[Yo + o] = FirstMaxIndex(new ReadOnlySpan<T>(X, first, Dim));
                    continue;
                }
                // whole rows at a time: branch-free per element is not worth it here, the compare is predictable
                // once the running maximum settles, and rows are walked contiguously
                var idx = new Span<int>(Y, Yo + o * Inner, Inner);
                new ReadOnlySpan<T>(X, first, Inner).CopyTo(best);
                idx.Clear();
                for (int d = 1; d < Dim; d++)
                {
                    int rowStart = first + d * Inner;
                    for (int i = 0; i < Inner; i++)
                    {
                        T v = X[rowStart + i], b = best![i];
                        if (v > b || (T.IsNaN(v) && !T.IsNaN(b))) { best[i] = v; idx[i] = d; }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Index of the first maximum (the first NaN if there is one): the vectorised maximum (which propagates NaN),
    /// then a vectorised search for the first element equal to it. −0 and +0 compare equal, as in the reference.
    /// </summary>
    private static unsafe int FirstMaxIndex<T>(ReadOnlySpan<T> row) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(row);
        bool nan = T.IsNaN(max);
        int i = 0;
        // SAFETY: reads stay inside row (i + Count <= Length).
        fixed (T* p = row)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var m = Vector512.Create(max);
                for (; i + Vector512<T>.Count <= row.Length; i += Vector512<T>.Count)
                {
                    var v = Vector512.Load(p + i);
                    ulong bits = (nan ? Vector512.IsNaN(v) : Vector512.Equals(v, m)).ExtractMostSignificantBits();
                    if (bits != 0) return i + BitOperations.TrailingZeroCount(bits);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var m = Vector256.Create(max);
                for (; i + Vector256<T>.Count <= row.Length; i += Vector256<T>.Count)
                {
                    var v = Vector256.Load(p + i);
                    uint bits = (nan ? Vector256.IsNaN(v) : Vector256.Equals(v, m)).ExtractMostSignificantBits();
                    if (bits != 0) return i + BitOperations.TrailingZeroCount(bits);
                }
            }
        }
        for (; i < row.Length; i++)
            if (nan ? T.IsNaN(row[i]) : row[i] == max) return i;
        return 0;
    }

    /// <inheritdoc/>
    public override void Softmax(Tensor x, Tensor y, int outer, int dim, int inner, bool log) =>
        ByFloatType(x.DType, "Softmax", () => SoftmaxCore<float>(x, y, outer, dim, inner, log), () => SoftmaxCore<double>(x, y, outer, dim, inner, log));

    private static void SoftmaxCore<T>(Tensor x, Tensor y, int outer, int dim, int inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (outer == 0 || inner == 0 || dim == 0) return;
        T[] xs = x.HostData<T>(), ys = y.HostData<T>();
        int xo = x.Offset, yo = y.Offset;
        if (inner == 1 && dim <= ShortRow && !(ReferenceEquals(xs, ys) && xo != yo))
        {
            SoftmaxShortRows(xs, xo, ys, yo, outer, dim, log);
            return;
        }
        var body = new SoftmaxRows<T> { X = xs, Xo = xo, Y = ys, Yo = yo, Dim = dim, Inner = inner, Log = log };
        SimdParallel.ForRanges(outer, SimdParallel.PartsFor((long)outer * dim * inner, SimdParallel.ElementThreshold / 4), ref body);
    }

    private struct SoftmaxRows<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] X, Y;
        public int Xo, Yo, Dim, Inner;
        public bool Log;

        public readonly void Run(long start, long end)
        {
            var scratch = Inner > 1 ? new T[2 * Inner] : null;
            for (int o = (int)start; o < end; o++)
            {
                int bx = Xo + o * Dim * Inner, by = Yo + o * Dim * Inner;
                if (Inner == 1) SoftmaxRow(new ReadOnlySpan<T>(X, bx, Dim), new Span<T>(Y, by, Dim), Log);
                else SoftmaxColumns(X, bx, Y, by, Dim, Inner, Log, scratch!);
            }
        }
    }

    /// <summary>Rows at most this long take <see cref="SoftmaxShortRows"/>: one vector call per row would cost more than the row.</summary>
    private const int ShortRow = 32;

    /// <summary>Rows of a short-row block: its exponentials are one vector call over up to this many elements.</summary>
    private const int ShortRowBlock = 4096;

    /// <summary>
    /// Softmax of many short contiguous rows (a classifier's [batch, 10] logits): per-row max and shift in a plain
    /// loop, then one exponential over a whole block of rows, then per-row sums, with the reference's operation order
    /// per row. Single-threaded: a [128, 10] softmax is a few microseconds, less than a hand-off.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxShortRows<T>(T[] xs, int xo, T[] ys, int yo, int outer, int dim, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rowsPerBlock = Math.Max(1, ShortRowBlock / dim);
        Span<T> e = log ? ThreadScratch<T>.Get(rowsPerBlock * dim) : default;
        for (int r0 = 0; r0 < outer; r0 += rowsPerBlock)
        {
            int rows = Math.Min(rowsPerBlock, outer - r0), len = rows * dim;
            var x = new ReadOnlySpan<T>(xs, xo + r0 * dim, len);
            var y = new Span<T>(ys, yo + r0 * dim, len);
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Slice(r * dim, dim);
                T max = T.NegativeInfinity;
                for (int j = 0; j < dim; j++) max = T.Max(max, xr[j]);
                if (T.IsNegativeInfinity(max)) max = T.Zero; // as SoftmaxRow: an all −∞ row gives NaN, a +∞ max makes the row NaN (PyTorch)
                var yr = y.Slice(r * dim, dim);
                for (int j = 0; j < dim; j++) yr[j] = xr[j] - max;
            }
            var ex = log ? e[..len] : y;
            // the float overload is precompiled; the generic one runs unoptimised code for its first thousands of calls
            if (typeof(T) == typeof(float)) TensorPrimitives.Exp(MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(ex));
            else TensorPrimitives.Exp(y, ex);
            for (int r = 0; r < rows; r++)
            {
                var er = ex.Slice(r * dim, dim);
                T sum = T.Zero;
                for (int j = 0; j < dim; j++) sum += er[j];
                var yr = y.Slice(r * dim, dim);
                if (log)
                {
                    T shift = T.Log(sum);
                    for (int j = 0; j < dim; j++) yr[j] -= shift;
                }
                else for (int j = 0; j < dim; j++) yr[j] /= sum;
            }
        }
    }

    /// <summary>One contiguous row, same operation order as the reference: shift by the max, exp, sum, divide (or subtract the log-sum).</summary>
    private static void SoftmaxRow<T>(ReadOnlySpan<T> x, Span<T> y, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(x);
        if (T.IsNegativeInfinity(max)) max = T.Zero; // an all −∞ row gives NaN (−∞ − −∞ after the log-sum), as PyTorch; a +∞ max makes the row NaN too
        TensorPrimitives.Subtract(x, max, y);
        if (log)
        {
            var e = ThreadScratch<T>.Get(y.Length);
            TensorPrimitives.Exp(y, e);
            TensorPrimitives.Subtract(y, T.Log(TensorPrimitives.Sum(e)), y);
            return;
        }
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
    }

    /// <summary>Softmax along a strided axis: whole rows of length inner at a time, vectorised across them.</summary>
    private static void SoftmaxColumns<T>(T[] xs, int bx, T[] ys, int by, int dim, int inner, bool log, T[] scratch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var max = scratch.AsSpan(0, inner);
        var sum = scratch.AsSpan(inner, inner);
        new ReadOnlySpan<T>(xs, bx, inner).CopyTo(max);
        for (int d = 1; d < dim; d++) TensorPrimitives.Max(max, new ReadOnlySpan<T>(xs, bx + d * inner, inner), max);
        for (int i = 0; i < inner; i++) if (T.IsNegativeInfinity(max[i])) max[i] = T.Zero;
        sum.Clear();
        for (int d = 0; d < dim; d++)
        {
            var yr = new Span<T>(ys, by + d * inner, inner);
            TensorPrimitives.Subtract(new ReadOnlySpan<T>(xs, bx + d * inner, inner), max, yr);
            if (log)
            {
                var e = ThreadScratch<T>.Get(inner);
                TensorPrimitives.Exp(yr, e);
                TensorPrimitives.Add(sum, e, sum);
            }
            else
            {
                TensorPrimitives.Exp(yr, yr);
                TensorPrimitives.Add(sum, yr, sum);
            }
        }
        if (log) TensorPrimitives.Log(sum, sum);
        for (int d = 0; d < dim; d++)
        {
            var yr = new Span<T>(ys, by + d * inner, inner);
            if (log) TensorPrimitives.Subtract(yr, sum, yr);
            else TensorPrimitives.Divide(yr, sum, yr);
        }
    }

    /// <inheritdoc/>
    public override void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int dim, int inner, bool log) =>
        ByFloatType(y.DType, "SoftmaxBackward", () => SoftmaxBackwardCore<float>(y, dy, dx, outer, dim, inner, log), () => SoftmaxBackwardCore<double>(y, dy, dx, outer, dim, inner, log));

    private static void SoftmaxBackwardCore<T>(Tensor y, Tensor dy, Tensor dx, int outer, int dim, int inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (outer == 0 || inner == 0 || dim == 0) return;
        T[] ys = y.HostData<T>(), gs = dy.HostData<T>(), xs = dx.HostData<T>();
        if (inner == 1 && dim <= ShortRow && !log)
        {
            SoftmaxBackwardShortRows(ys, y.Offset, gs, dy.Offset, xs, dx.Offset, outer, dim);
            return;
        }
        var body = new SoftmaxBackwardRows<T> { Ys = ys, Yo = y.Offset, Gs = gs, Go = dy.Offset, Xs = xs, Xo = dx.Offset, Dim = dim, Inner = inner, Log = log };
        SimdParallel.ForRanges(outer, SimdParallel.PartsFor((long)outer * dim * inner, SimdParallel.ElementThreshold / 4), ref body);
    }

    private struct SoftmaxBackwardRows<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T[] Ys, Gs, Xs;
        public int Yo, Go, Xo, Dim, Inner;
        public bool Log;

        public readonly void Run(long start, long end)
        {
            // this thread's reusable buffer: nothing below asks ThreadScratch for another
            var scratch = ThreadScratch<T>.Get(Math.Max(Dim, 2 * Inner));
            for (int o = (int)start; o < end; o++)
            {
                int b = o * Dim * Inner;
                if (Inner == 1)
                {
                    var yr = new ReadOnlySpan<T>(Ys, Yo + b, Dim);
                    var gr = new ReadOnlySpan<T>(Gs, Go + b, Dim);
                    var xr = new Span<T>(Xs, Xo + b, Dim);
                    if (Log)
                    {
                        T total = TensorPrimitives.Sum(gr);
                        var e = scratch[..Dim];
                        TensorPrimitives.Exp(yr, e);
                        TensorPrimitives.Multiply(e, total, e);
                        TensorPrimitives.Subtract(gr, e, xr);
                    }
                    else
                    {
                        T dot = TensorPrimitives.Dot(gr, yr);
                        TensorPrimitives.Subtract(gr, dot, xr);
                        TensorPrimitives.Multiply(xr, yr, xr);
                    }
                    continue;
                }
                var acc = scratch[..Inner];
                var tmp = scratch.Slice(Inner, Inner);
                acc.Clear();
                for (int d = 0; d < Dim; d++)
                {
                    var gr = new ReadOnlySpan<T>(Gs, Go + b + d * Inner, Inner);
                    if (Log) TensorPrimitives.Add(acc, gr, acc);
                    else TensorPrimitives.FusedMultiplyAdd(gr, new ReadOnlySpan<T>(Ys, Yo + b + d * Inner, Inner), acc, acc);
                }
                for (int d = 0; d < Dim; d++)
                {
                    var yr = new ReadOnlySpan<T>(Ys, Yo + b + d * Inner, Inner);
                    var gr = new ReadOnlySpan<T>(Gs, Go + b + d * Inner, Inner);
                    var xr = new Span<T>(Xs, Xo + b + d * Inner, Inner);
                    if (Log)
                    {
                        TensorPrimitives.Exp(yr, tmp);
                        TensorPrimitives.Multiply(tmp, acc, tmp);
                        TensorPrimitives.Subtract(gr, tmp, xr);
                    }
                    else
                    {
                        TensorPrimitives.Subtract(gr, acc, tmp);
                        TensorPrimitives.Multiply(tmp, yr, xr);
                    }
                }
            }
        }
    }

    /// <summary>dx = y·(dy − Σ dy·y) for many short contiguous rows, in plain loops (the reference's order per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxBackwardShortRows<T>(T[] ys, int yo, T[] gs, int go, T[] xs, int xo, int outer, int dim) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = new ReadOnlySpan<T>(ys, yo, outer * dim);
        var g = new ReadOnlySpan<T>(gs, go, outer * dim);
        var dx = new Span<T>(xs, xo, outer * dim);
        for (int r = 0; r < outer; r++)
        {
            var yr = y.Slice(r * dim, dim);
            var gr = g.Slice(r * dim, dim);
            var xr = dx.Slice(r * dim, dim);
            T dot = T.Zero;
            for (int j = 0; j < dim; j++) dot += gr[j] * yr[j];
            for (int j = 0; j < dim; j++) xr[j] = yr[j] * (gr[j] - dot);
        }
    }
}
