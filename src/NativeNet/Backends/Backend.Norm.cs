namespace NativeNet.Backends;

// The fused row normalisation behind LayerNorm and GroupNorm: both view their input as contiguous rows [rows, cols] and
// normalise each row to zero mean and unit (biased) variance; the affine parts are broadcasts, written once in the gates.
public abstract partial class Backend
{
    /// <summary>
    /// x̂ = (x − mean)·rstd per row of <paramref name="x"/> [rows, cols], with mean the row mean and rstd = 1/√(var + eps),
    /// var the biased row variance (computed from the centred values); writes <paramref name="xHat"/> [rows, cols] and
    /// <paramref name="rstd"/> [rows].
    /// </summary>
    public abstract void NormalizeRows(Tensor x, Tensor xHat, Tensor rstd, double eps);

    /// <summary>
    /// Backward of <see cref="NormalizeRows"/> from its outputs: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) per row, for
    /// <paramref name="dxHat"/>, <paramref name="xHat"/> and <paramref name="dx"/> [rows, cols] and <paramref name="rstd"/> [rows].
    /// </summary>
    public abstract void NormalizeRowsBackward(Tensor dxHat, Tensor xHat, Tensor rstd, Tensor dx);

    /// <summary>Checks the operands of a row normalisation: contiguous, one float dtype and device, [rows, cols] and [rows]; returns (rows, cols).</summary>
    protected static (int Rows, int Cols) CheckRows(string op, Tensor[] matrices, Tensor rstd)
    {
        var first = matrices[0];
        if (!first.DType.IsFloat()) throw new DTypeMismatchException($"{op}: expected Float32 or Float64 operands, got {first.Describe()}");
        if (first.Rank != 2) throw new ShapeMismatchException($"{op}: expected rows [rows, cols], got {first.Describe()}");
        int rows = first.Shape[0], cols = first.Shape[1];
        void Check(Tensor t, params int[] shape)
        {
            t.ThrowIfDisposed();
            if (t.DType != first.DType || t.Device != first.Device)
                throw new DTypeMismatchException($"{op}: operands differ in dtype or device, {t.Describe()} vs {first.Describe()}");
            if (!t.IsContiguous || !t.Shape.SequenceEqual(shape))
                throw new ShapeMismatchException($"{op}: expected a contiguous {ShapeUtil.Format(shape)} operand, got {t.Describe()}");
        }
        foreach (var m in matrices) Check(m, rows, cols);
        Check(rstd, rows);
        return (rows, cols);
    }
}
