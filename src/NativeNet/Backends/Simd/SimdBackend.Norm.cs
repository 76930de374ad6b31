using System.Numerics;
using System.Numerics.Tensors;

namespace NativeNet.Backends.Simd;

// Row normalisation with TensorPrimitives per row (sum, centre, sum of squares, scale), rows split over threads when the
// work is large enough; the same two-pass formulas as the Naive reference.
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
                rd[rstd.Offset + r] = NormalizeRow(row, yd.AsSpan(xHat.Offset + r * cols, cols), n, eps);
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
                NormalizeRowBackward(g, h, rd[rstd.Offset + r], n, dd.AsSpan(dx.Offset + r * cols, cols));
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
                rd[rstd.Offset + r] = NormalizeRow(row, h, n, eps);
                if (weight is not null && bias is not null) TensorPrimitives.FusedMultiplyAdd(h, ws, bs, output);
                else if (weight is not null) TensorPrimitives.Multiply(h, ws, output);
                else if (bias is not null) TensorPrimitives.Add(h, bs, output);
                else h.CopyTo(output);
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
            var scratch = dx is not null && weight is not null ? new T[cols] : [];
            var totals = sums ? new double[2 * cols] : [];
            var blockW = dWeight is not null ? new T[cols] : [];
            var blockB = dBias is not null ? new T[cols] : [];
            for (int r = first; r < end; r++)
            {
                var g = gd.AsSpan(dy.Offset + r * cols, cols);
                var h = hd.AsSpan(xHat.Offset + r * cols, cols);
                if (dd is not null)
                {
                    ReadOnlySpan<T> gHat = g;
                    if (weight is not null)
                    {
                        TensorPrimitives.Multiply(g, ws, scratch);
                        gHat = scratch;
                    }
                    NormalizeRowBackward(gHat, h, rd[rstd.Offset + r], n, dd.AsSpan(dx!.Offset + r * cols, cols));
                }
                if (dWeight is not null) TensorPrimitives.FusedMultiplyAdd(g, h, blockW, blockW);
                if (dBias is not null) TensorPrimitives.Add(g, blockB, blockB);
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

    /// <summary>x̂ = (row − mean)·rstd into <paramref name="xHat"/>; returns rstd = 1/√(var + eps) (two passes, as Naive).</summary>
    private static T NormalizeRow<T>(ReadOnlySpan<T> row, Span<T> xHat, T n, T eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T mean = TensorPrimitives.Sum(row) / n;
        TensorPrimitives.Subtract(row, mean, xHat);
        T inv = T.One / T.Sqrt(TensorPrimitives.SumOfSquares<T>(xHat) / n + eps);
        TensorPrimitives.Multiply(xHat, inv, xHat);
        return inv;
    }

    /// <summary>dx = (g − x̂·mean(g·x̂) − mean(g))·rstd for one row, g the gradient of x̂.</summary>
    private static void NormalizeRowBackward<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> xHat, T rstd, T n, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T meanG = TensorPrimitives.Sum(g) / n, meanGh = TensorPrimitives.Dot(g, xHat) / n;
        TensorPrimitives.MultiplyAdd(xHat, -meanGh, g, dx);
        TensorPrimitives.Subtract(dx, meanG, dx);
        TensorPrimitives.Multiply(dx, rstd, dx);
    }

    /// <summary>Runs rows(first, end) over contiguous row ranges, split over threads when rows × cols is large enough.</summary>
    private static void ForRows(int rows, int cols, Action<int, int> body)
    {
        int parts = Math.Min(SimdParallel.PartsFor((long)rows * cols), Math.Max(rows, 1));
        if (parts <= 1) { body(0, rows); return; }
        SimdParallel.For(parts, p => body((int)((long)p * rows / parts), (int)((long)(p + 1) * rows / parts)));
    }
}
