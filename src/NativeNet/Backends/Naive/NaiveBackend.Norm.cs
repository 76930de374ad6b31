using System.Numerics;

namespace NativeNet.Backends.Naive;

// The reference row normalisation: two passes per row (mean, then the variance of the centred values), sums in T.
public partial class NaiveBackend
{
    /// <inheritdoc/>
    public override void NormalizeRows(Tensor x, Tensor xHat, Tensor rstd, double eps)
    {
        var (rows, cols) = CheckRows("NormalizeRows", [x, xHat], rstd);
        ByFloat(x.DType, "NormalizeRows", () => Normalize<float>(x, xHat, rstd, rows, cols, (float)eps), () => Normalize(x, xHat, rstd, rows, cols, eps));
    }

    private static void Normalize<T>(Tensor x, Tensor xHat, Tensor rstd, int rows, int cols, T eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xd = x.HostData<T>(); var yd = xHat.HostData<T>(); var rd = rstd.HostData<T>();
        T n = T.CreateTruncating(cols);
        for (int r = 0; r < rows; r++)
        {
            int xo = x.Offset + r * cols, yo = xHat.Offset + r * cols;
            T sum = T.Zero;
            for (int c = 0; c < cols; c++) sum += xd[xo + c];
            T mean = sum / n, squares = T.Zero;
            for (int c = 0; c < cols; c++) squares += (xd[xo + c] - mean) * (xd[xo + c] - mean);
            T inv = T.One / T.Sqrt(squares / n + eps);
            for (int c = 0; c < cols; c++) yd[yo + c] = (xd[xo + c] - mean) * inv;
            rd[rstd.Offset + r] = inv;
        }
    }

    /// <inheritdoc/>
    public override void NormalizeRowsBackward(Tensor dxHat, Tensor xHat, Tensor rstd, Tensor dx)
    {
        var (rows, cols) = CheckRows("NormalizeRowsBackward", [dxHat, xHat, dx], rstd);
        ByFloat(dx.DType, "NormalizeRowsBackward", () => NormalizeBackward<float>(dxHat, xHat, rstd, dx, rows, cols), () => NormalizeBackward<double>(dxHat, xHat, rstd, dx, rows, cols));
    }

    private static void NormalizeBackward<T>(Tensor dxHat, Tensor xHat, Tensor rstd, Tensor dx, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gd = dxHat.HostData<T>(); var hd = xHat.HostData<T>(); var rd = rstd.HostData<T>(); var dd = dx.HostData<T>();
        T n = T.CreateTruncating(cols);
        for (int r = 0; r < rows; r++)
        {
            int go = dxHat.Offset + r * cols, ho = xHat.Offset + r * cols, o = dx.Offset + r * cols;
            T sum = T.Zero, dot = T.Zero;
            for (int c = 0; c < cols; c++)
            {
                sum += gd[go + c];
                dot += gd[go + c] * hd[ho + c];
            }
            T meanG = sum / n, meanGh = dot / n, inv = rd[rstd.Offset + r];
            for (int c = 0; c < cols; c++) dd[o + c] = inv * (gd[go + c] - meanG - hd[ho + c] * meanGh);
        }
    }
}
