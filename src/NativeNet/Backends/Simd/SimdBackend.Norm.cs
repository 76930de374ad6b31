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
                var output = yd.AsSpan(xHat.Offset + r * cols, cols);
                T mean = TensorPrimitives.Sum<T>(row) / n;
                TensorPrimitives.Subtract(row, mean, output);
                T inv = T.One / T.Sqrt(TensorPrimitives.SumOfSquares<T>(output) / n + eps);
                TensorPrimitives.Multiply(output, inv, output);
                rd[rstd.Offset + r] = inv;
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
                var output = dd.AsSpan(dx.Offset + r * cols, cols);
                T meanG = TensorPrimitives.Sum<T>(g) / n, meanGh = TensorPrimitives.Dot<T>(g, h) / n, inv = rd[rstd.Offset + r];
                // dx = (g − x̂·mean(g·x̂) − mean(g))·rstd
                TensorPrimitives.MultiplyAdd(h, -meanGh, g, output);
                TensorPrimitives.Subtract(output, meanG, output);
                TensorPrimitives.Multiply(output, inv, output);
            }
        });
    }

    /// <summary>Runs rows(first, end) over contiguous row ranges, split over threads when rows × cols is large enough.</summary>
    private static void ForRows(int rows, int cols, Action<int, int> body)
    {
        int parts = Math.Min(SimdParallel.PartsFor((long)rows * cols), Math.Max(rows, 1));
        if (parts <= 1) { body(0, rows); return; }
        SimdParallel.For(parts, p => body((int)((long)p * rows / parts), (int)((long)(p + 1) * rows / parts)));
    }
}
