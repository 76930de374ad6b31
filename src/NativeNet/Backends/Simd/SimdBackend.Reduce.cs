using System.Numerics;
using System.Numerics.Tensors;
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
                var partial = new double[(long)outer * blocks];
                SimdParallel.For(SimdParallel.PartsFor((long)outer * dim), part =>
                {
                    int parts = Math.Max(1, SimdParallel.PartsFor((long)outer * dim));
                    long total = (long)outer * blocks;
                    for (long j = total * part / parts; j < total * (part + 1) / parts; j++)
                    {
                        long o = j / blocks;
                        int start = (int)(j % blocks) * SumBlock;
                        partial[j] = double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(xs, (int)(xo + o * dim + start), Math.Min(SumBlock, dim - start))));
                    }
                });
                for (int o = 0; o < outer; o++)
                {
                    double acc = 0;
                    for (int bi = 0; bi < blocks; bi++) acc += partial[(long)o * blocks + bi];
                    ys[yo + o] = T.CreateTruncating(acc);
                }
                return;
            }
            bool max = op == ReduceOp.Max;
            SimdParallel.For(SimdParallel.PartsFor((long)outer * dim), part =>
            {
                int parts = Math.Max(1, SimdParallel.PartsFor((long)outer * dim));
                for (long o = (long)outer * part / parts; o < (long)outer * (part + 1) / parts; o++)
                {
                    var row = new ReadOnlySpan<T>(xs, (int)(xo + o * dim), dim);
                    // TensorPrimitives.Max/Min propagate NaN and order -0 < +0 exactly like T.Max/T.Min
                    ys[yo + o] = max ? TensorPrimitives.Max(row) : TensorPrimitives.Min(row);
                }
            });
            return;
        }

        // inner > 1: reduce whole rows of length inner against each other; split over (outer, inner pieces)
        int pieceLen = Math.Max(256, inner);
        if ((long)outer * dim * inner > SimdParallel.ElementThreshold && outer < Threads) pieceLen = Math.Max(256, (inner + Threads - 1) / Threads);
        int pieces = (inner + pieceLen - 1) / pieceLen;
        long jobs = (long)outer * pieces;
        SimdParallel.For(SimdParallel.PartsFor((long)outer * dim * inner), part =>
        {
            int parts = Math.Max(1, SimdParallel.PartsFor((long)outer * dim * inner));
            for (long j = jobs * part / parts; j < jobs * (part + 1) / parts; j++)
            {
                int o = (int)(j / pieces), i0 = (int)(j % pieces) * pieceLen, len = Math.Min(pieceLen, inner - i0);
                ReduceColumns(op, xs, xo + o * dim * inner + i0, dim, inner, len, new Span<T>(ys, yo + o * inner + i0, len));
            }
        });
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
        var total = new double[len];
        var block = new T[len];
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
        int parts = SimdParallel.PartsFor((long)outer * dim * inner);
        SimdParallel.For(parts, part =>
        {
            int p = Math.Max(1, parts);
            var best = inner > 1 ? new T[inner] : null;
            for (int o = (int)((long)outer * part / p); o < (int)((long)outer * (part + 1) / p); o++)
            {
                int first = xo + o * dim * inner;
                if (inner == 1)
                {
                    ys[yo + o] = FirstMaxIndex(new ReadOnlySpan<T>(xs, first, dim));
                    continue;
                }
                // whole rows at a time: branch-free per element is not worth it here, the compare is predictable
                // once the running maximum settles, and rows are walked contiguously
                var idx = new Span<int>(ys, yo + o * inner, inner);
                new ReadOnlySpan<T>(xs, first, inner).CopyTo(best);
                idx.Clear();
                for (int d = 1; d < dim; d++)
                {
                    int rowStart = first + d * inner;
                    for (int i = 0; i < inner; i++)
                    {
                        T v = xs[rowStart + i], b = best![i];
                        if (v > b || (T.IsNaN(v) && !T.IsNaN(b))) { best[i] = v; idx[i] = d; }
                    }
                }
            }
        });
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
        int parts = SimdParallel.PartsFor((long)outer * dim * inner, SimdParallel.ElementThreshold / 4);
        SimdParallel.For(parts, part =>
        {
            int p = Math.Max(1, parts);
            var scratch = inner > 1 ? new T[2 * inner] : null;
            for (int o = (int)((long)outer * part / p); o < (int)((long)outer * (part + 1) / p); o++)
            {
                int bx = xo + o * dim * inner, by = yo + o * dim * inner;
                if (inner == 1) SoftmaxRow(new ReadOnlySpan<T>(xs, bx, dim), new Span<T>(ys, by, dim), log);
                else SoftmaxColumns(xs, bx, ys, by, dim, inner, log, scratch!);
            }
        });
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
        int parts = SimdParallel.PartsFor((long)outer * dim * inner, SimdParallel.ElementThreshold / 4);
        SimdParallel.For(parts, part =>
        {
            int p = Math.Max(1, parts);
            var scratch = new T[Math.Max(dim, 2 * inner)];
            for (int o = (int)((long)outer * part / p); o < (int)((long)outer * (part + 1) / p); o++)
            {
                int b = o * dim * inner;
                if (inner == 1)
                {
                    var yr = new ReadOnlySpan<T>(ys, y.Offset + b, dim);
                    var gr = new ReadOnlySpan<T>(gs, dy.Offset + b, dim);
                    var xr = new Span<T>(xs, dx.Offset + b, dim);
                    if (log)
                    {
                        T total = TensorPrimitives.Sum(gr);
                        var e = scratch.AsSpan(0, dim);
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
                var acc = scratch.AsSpan(0, inner);
                var tmp = scratch.AsSpan(inner, inner);
                acc.Clear();
                for (int d = 0; d < dim; d++)
                {
                    var gr = new ReadOnlySpan<T>(gs, dy.Offset + b + d * inner, inner);
                    if (log) TensorPrimitives.Add(acc, gr, acc);
                    else TensorPrimitives.FusedMultiplyAdd(gr, new ReadOnlySpan<T>(ys, y.Offset + b + d * inner, inner), acc, acc);
                }
                for (int d = 0; d < dim; d++)
                {
                    var yr = new ReadOnlySpan<T>(ys, y.Offset + b + d * inner, inner);
                    var gr = new ReadOnlySpan<T>(gs, dy.Offset + b + d * inner, inner);
                    var xr = new Span<T>(xs, dx.Offset + b + d * inner, inner);
                    if (log)
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
        });
    }
}
