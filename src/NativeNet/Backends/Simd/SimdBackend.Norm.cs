using System.Numerics;
using System.Runtime.InteropServices;

namespace NativeNet.Backends.Simd;

// Row normalisation in Vector<T> registers per row (sum, centre, sum of squares, scale and the affine map fused), rows
// split over threads when the work is large enough; the same two-pass formulas as the Naive reference.
public sealed partial class SimdBackend
{
    /// <inheritdoc/>
    public override void NormalizeRows(Tensor x, Tensor xHat, Tensor rstd, double eps)
    {
        var (rows, cols) = CheckRows("NormalizeRows", [x, xHat], rstd);
        if (x.Storage == xHat.Storage) { base.NormalizeRows(x, xHat, rstd, eps); return; }
        ByFloatType(x.DType, "NormalizeRows", () => Normalize<float>(x, xHat, rstd, rows, cols, (float)eps), () => Normalize(x, xHat, rstd, rows, cols, eps));
    }

    private static void Normalize<T>(Tensor x, Tensor xHat, Tensor rstd, int rows, int cols, T eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xd = x.HostData<T>(); var yd = xHat.HostData<T>(); var rd = rstd.HostData<T>();
        T n = T.CreateTruncating(cols);
        ForRows(rows, cols, (first, end) =>
        {
            for (int r = first; r < end; r++)
            {
                var row = xd.AsSpan(x.Offset + r * cols, cols);
                rd[rstd.Offset + r] = NormalizeRow(row, yd.AsSpan(xHat.Offset + r * cols, cols), default, default, default, n, eps);
            }
        });
    }

    /// <inheritdoc/>
    public override void NormalizeRowsBackward(Tensor dxHat, Tensor xHat, Tensor rstd, Tensor dx)
    {
        var (rows, cols) = CheckRows("NormalizeRowsBackward", [dxHat, xHat, dx], rstd);
        if (dx.Storage == dxHat.Storage || dx.Storage == xHat.Storage) { base.NormalizeRowsBackward(dxHat, xHat, rstd, dx); return; }
        ByFloatType(dx.DType, "NormalizeRowsBackward", () => NormalizeBackward<float>(dxHat, xHat, rstd, dx, rows, cols), () => NormalizeBackward<double>(dxHat, xHat, rstd, dx, rows, cols));
    }

    private static void NormalizeBackward<T>(Tensor dxHat, Tensor xHat, Tensor rstd, Tensor dx, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gd = dxHat.HostData<T>(); var hd = xHat.HostData<T>(); var rd = rstd.HostData<T>(); var dd = dx.HostData<T>();
        T n = T.CreateTruncating(cols);
        ForRows(rows, cols, (first, end) =>
        {
            for (int r = first; r < end; r++)
            {
                var g = gd.AsSpan(dxHat.Offset + r * cols, cols);
                var h = hd.AsSpan(xHat.Offset + r * cols, cols);
                NormalizeRowBackward(g, default, h, rd[rstd.Offset + r], n, dd.AsSpan(dx.Offset + r * cols, cols));
            }
        });
    }

    /// <inheritdoc/>
    public override void NormalizeRowsAffine(Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor xHat, Tensor rstd, double eps)
    {
        var (rows, cols) = CheckRows("NormalizeRowsAffine", [x, y, xHat], rstd);
        CheckColumnParameters("NormalizeRowsAffine", x, cols, weight, bias);
        if (x.Storage == xHat.Storage || x.Storage == y.Storage || y.Storage == xHat.Storage)
        {
            base.NormalizeRowsAffine(x, weight, bias, y, xHat, rstd, eps);
            return;
        }
        ByFloatType(x.DType, "NormalizeRowsAffine", () => NormalizeAffine<float>(x, weight, bias, y, xHat, rstd, rows, cols, (float)eps),
            () => NormalizeAffine(x, weight, bias, y, xHat, rstd, rows, cols, eps));
    }

    private static void NormalizeAffine<T>(Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor xHat, Tensor rstd, int rows, int cols, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xd = x.HostData<T>(); var hd = xHat.HostData<T>(); var yd = y.HostData<T>(); var rd = rstd.HostData<T>();
        var w = weight is null ? default : weight.HostData<T>().AsMemory(weight.Offset, cols);
        var b = bias is null ? default : bias.HostData<T>().AsMemory(bias.Offset, cols);
        T n = T.CreateTruncating(cols);
        ForRows(rows, cols, (first, end) =>
        {
            var ws = w.Span; var bs = b.Span;
            for (int r = first; r < end; r++)
            {
                var row = xd.AsSpan(x.Offset + r * cols, cols);
                var h = hd.AsSpan(xHat.Offset + r * cols, cols);
                var output = yd.AsSpan(y.Offset + r * cols, cols);
                rd[rstd.Offset + r] = NormalizeRow(row, h, output, ws, bs, n, eps);
            }
        });
    }

    /// <summary>Rows summed into float accumulators before they are added into the double totals of dγ and dβ.</summary>
    private const int AffineGradientBlockRows = 32;

    /// <inheritdoc/>
    public override void NormalizeRowsAffineBackward(Tensor dy, Tensor xHat, Tensor rstd, Tensor? weight, Tensor? dx, Tensor? dWeight, Tensor? dBias)
    {
        var (rows, cols) = CheckRows("NormalizeRowsAffineBackward", dx is null ? [dy, xHat] : [dy, xHat, dx], rstd);
        CheckColumnParameters("NormalizeRowsAffineBackward", dy, cols, weight, dWeight, dBias);
        Tensor?[] outputs = [dx, dWeight, dBias];
        Tensor?[] inputs = [dy, xHat, rstd, weight];
        if (outputs.Any(o => o is not null && inputs.Any(i => i is not null && i.Storage == o.Storage)))
        {
            base.NormalizeRowsAffineBackward(dy, xHat, rstd, weight, dx, dWeight, dBias);
            return;
        }
        ByFloatType(dy.DType, "NormalizeRowsAffineBackward", () => NormalizeAffineBackward<float>(dy, xHat, rstd, weight, dx, dWeight, dBias, rows, cols),
            () => NormalizeAffineBackward<double>(dy, xHat, rstd, weight, dx, dWeight, dBias, rows, cols));
    }

    private static void NormalizeAffineBackward<T>(Tensor dy, Tensor xHat, Tensor rstd, Tensor? weight, Tensor? dx, Tensor? dWeight, Tensor? dBias, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gd = dy.HostData<T>(); var hd = xHat.HostData<T>(); var rd = rstd.HostData<T>();
        var dd = dx?.HostData<T>();
        var w = weight is null ? default : weight.HostData<T>().AsMemory(weight.Offset, cols);
        T n = T.CreateTruncating(cols);
        int parts = Math.Max(1, Math.Min(SimdParallel.PartsFor((long)rows * cols), rows));
        bool sums = dWeight is not null || dBias is not null;
        // Per part: dγ totals, dβ totals (double), then the float block accumulators for each.
        var partSums = sums ? new double[parts][] : [];
        void Part(int p)
        {
            int first = (int)((long)p * rows / parts), end = (int)((long)(p + 1) * rows / parts);
            var ws = w.Span;
            var totals = sums ? new double[2 * cols] : [];
            var blockW = dWeight is not null ? new T[cols] : [];
            var blockB = dBias is not null ? new T[cols] : [];
            for (int r = first; r < end; r++)
            {
                var g = gd.AsSpan(dy.Offset + r * cols, cols);
                var h = hd.AsSpan(xHat.Offset + r * cols, cols);
                if (dd is not null) NormalizeRowBackward(g, ws, h, rd[rstd.Offset + r], n, dd.AsSpan(dx!.Offset + r * cols, cols));
                AccumulateAffineGradients(g, h, blockW, blockB);
                if (sums && ((r - first + 1) % AffineGradientBlockRows == 0 || r == end - 1))
                {
                    for (int c = 0; c < blockW.Length; c++) totals[c] += double.CreateTruncating(blockW[c]);
                    for (int c = 0; c < blockB.Length; c++) totals[cols + c] += double.CreateTruncating(blockB[c]);
                    Array.Clear(blockW);
                    Array.Clear(blockB);
                }
            }
            if (sums) partSums[p] = totals;
        }
        if (parts <= 1) Part(0);
        else SimdParallel.For(parts, Part);
        if (!sums) return;
        void Write(Tensor? target, int at)
        {
            if (target is null) return;
            var t = target.HostData<T>();
            for (int c = 0; c < cols; c++)
            {
                double total = 0;
                foreach (var part in partSums) total += part[at + c];
                t[target.Offset + c] = T.CreateTruncating(total);
            }
        }
        Write(dWeight, 0);
        Write(dBias, cols);
    }

    /// <summary>
    /// x̂ = (row − mean)·rstd into <paramref name="xHat"/> and, unless <paramref name="y"/> is empty, y = x̂·γ + β (γ, β
    /// left out when empty); returns rstd = 1/√(var + eps). Two passes for the moments as Naive, then one that writes; in
    /// <see cref="Vector{T}"/> registers, since a row of a Transformer (128 wide) is too short for a library call per step.
    /// </summary>
    private static T NormalizeRow<T>(ReadOnlySpan<T> row, Span<T> xHat, Span<T> y, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, T n, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cols = row.Length, width = Vector<T>.Count, c = 0;
        ref T x = ref MemoryMarshal.GetReference(row);
        var sum = Vector<T>.Zero;
        for (; c <= cols - width; c += width) sum += Vector.LoadUnsafe(ref x, (nuint)c);
        T total = Vector.Sum(sum);
        for (; c < cols; c++) total += row[c];
        T mean = total / n;
        var meanV = new Vector<T>(mean);
        var squares = Vector<T>.Zero;
        for (c = 0; c <= cols - width; c += width)
        {
            var d = Vector.LoadUnsafe(ref x, (nuint)c) - meanV;
            squares += d * d;
        }
        T squareTotal = Vector.Sum(squares);
        for (; c < cols; c++) squareTotal += (row[c] - mean) * (row[c] - mean);
        T inv = T.One / T.Sqrt(squareTotal / n + eps);
        var invV = new Vector<T>(inv);
        ref T h = ref MemoryMarshal.GetReference(xHat);
        ref T o = ref MemoryMarshal.GetReference(y);
        ref T w = ref MemoryMarshal.GetReference(weight);
        ref T b = ref MemoryMarshal.GetReference(bias);
        bool affine = !y.IsEmpty, scaled = !weight.IsEmpty, shifted = !bias.IsEmpty;
        for (c = 0; c <= cols - width; c += width)
        {
            var hv = (Vector.LoadUnsafe(ref x, (nuint)c) - meanV) * invV;
            hv.StoreUnsafe(ref h, (nuint)c);
            if (!affine) continue;
            var ov = scaled ? hv * Vector.LoadUnsafe(ref w, (nuint)c) : hv;
            if (shifted) ov += Vector.LoadUnsafe(ref b, (nuint)c);
            ov.StoreUnsafe(ref o, (nuint)c);
        }
        for (; c < cols; c++)
        {
            xHat[c] = (row[c] - mean) * inv;
            if (affine) y[c] = (scaled ? xHat[c] * weight[c] : xHat[c]) + (shifted ? bias[c] : T.Zero);
        }
        return inv;
    }

    /// <summary>
    /// dx = (ĝ − x̂·mean(ĝ·x̂) − mean(ĝ))·rstd for one row, ĝ = g·γ the gradient of x̂ (g itself when γ is empty);
    /// ĝ is formed in registers in both passes instead of being stored.
    /// </summary>
    private static void NormalizeRowBackward<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> weight, ReadOnlySpan<T> xHat, T rstd, T n, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cols = g.Length, width = Vector<T>.Count, c = 0;
        ref T gr = ref MemoryMarshal.GetReference(g);
        ref T w = ref MemoryMarshal.GetReference(weight);
        ref T h = ref MemoryMarshal.GetReference(xHat);
        bool scaled = !weight.IsEmpty;
        Vector<T> sumG = Vector<T>.Zero, sumGh = Vector<T>.Zero;
        for (; c <= cols - width; c += width)
        {
            var gv = Vector.LoadUnsafe(ref gr, (nuint)c);
            if (scaled) gv *= Vector.LoadUnsafe(ref w, (nuint)c);
            sumG += gv;
            sumGh += gv * Vector.LoadUnsafe(ref h, (nuint)c);
        }
        T totalG = Vector.Sum(sumG), totalGh = Vector.Sum(sumGh);
        for (; c < cols; c++)
        {
            T gc = scaled ? g[c] * weight[c] : g[c];
            totalG += gc;
            totalGh += gc * xHat[c];
        }
        T meanG = totalG / n, meanGh = totalGh / n;
        Vector<T> meanGV = new(meanG), meanGhV = new(meanGh), rstdV = new(rstd);
        ref T d = ref MemoryMarshal.GetReference(dx);
        for (c = 0; c <= cols - width; c += width)
        {
            var gv = Vector.LoadUnsafe(ref gr, (nuint)c);
            if (scaled) gv *= Vector.LoadUnsafe(ref w, (nuint)c);
            ((gv - Vector.LoadUnsafe(ref h, (nuint)c) * meanGhV - meanGV) * rstdV).StoreUnsafe(ref d, (nuint)c);
        }
        for (; c < cols; c++) dx[c] = ((scaled ? g[c] * weight[c] : g[c]) - xHat[c] * meanGh - meanG) * rstd;
    }

    /// <summary>dγ block += g·x̂ and dβ block += g for one row (either block empty when not wanted).</summary>
    private static void AccumulateAffineGradients<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> xHat, Span<T> blockW, Span<T> blockB)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cols = g.Length, width = Vector<T>.Count, c = 0;
        ref T gr = ref MemoryMarshal.GetReference(g);
        ref T h = ref MemoryMarshal.GetReference(xHat);
        ref T bw = ref MemoryMarshal.GetReference(blockW);
        ref T bb = ref MemoryMarshal.GetReference(blockB);
        bool weights = !blockW.IsEmpty, biases = !blockB.IsEmpty;
        for (; c <= cols - width; c += width)
        {
            var gv = Vector.LoadUnsafe(ref gr, (nuint)c);
            if (weights) (Vector.LoadUnsafe(ref bw, (nuint)c) + gv * Vector.LoadUnsafe(ref h, (nuint)c)).StoreUnsafe(ref bw, (nuint)c);
            if (biases) (Vector.LoadUnsafe(ref bb, (nuint)c) + gv).StoreUnsafe(ref bb, (nuint)c);
        }
        for (; c < cols; c++)
        {
            if (weights) blockW[c] += g[c] * xHat[c];
            if (biases) blockB[c] += g[c];
        }
    }

    /// <summary>Runs rows(first, end) over contiguous row ranges, split over threads when rows × cols is large enough.</summary>
    private static void ForRows(int rows, int cols, Action<int, int> body)
    {
        int parts = Math.Min(SimdParallel.PartsFor((long)rows * cols), Math.Max(rows, 1));
        if (parts <= 1) { body(0, rows); return; }
        SimdParallel.For(parts, p => body((int)((long)p * rows / parts), (int)((long)(p + 1) * rows / parts)));
    }
}
