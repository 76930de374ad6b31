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

    /// <summary>
    /// LayerNorm over rows with a per-column affine: <see cref="NormalizeRows"/> into <paramref name="xHat"/> and
    /// <paramref name="rstd"/>, and y = x̂·γ + β into <paramref name="y"/> [rows, cols] for <paramref name="weight"/> γ and
    /// <paramref name="bias"/> β [cols] (either may be null). The default composes the backend's own ops; a backend may fuse it.
    /// </summary>
    public virtual void NormalizeRowsAffine(Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor xHat, Tensor rstd, double eps)
    {
        var (rows, cols) = CheckRows("NormalizeRowsAffine", [x, y, xHat], rstd);
        CheckColumnParameters("NormalizeRowsAffine", x, cols, weight, bias);
        NormalizeRows(x, xHat, rstd, eps);
        if (weight is null && bias is null) { Copy(xHat, y); return; }
        var source = xHat;
        if (weight is not null)
        {
            using var w = Raw.BroadcastTo("NormalizeRowsAffine", weight, [rows, cols]);
            Binary(BinaryOp.Mul, xHat, w, y, 0);
            source = y;
        }
        if (bias is not null)
        {
            using var b = Raw.BroadcastTo("NormalizeRowsAffine", bias, [rows, cols]);
            Binary(BinaryOp.Add, source, b, y, 0);
        }
    }

    /// <summary>
    /// Backward of <see cref="NormalizeRowsAffine"/> from dy [rows, cols]: dx̂ = dy·γ (dy without a weight), dx as
    /// <see cref="NormalizeRowsBackward"/>, dγ = Σ_rows dy·x̂ and dβ = Σ_rows dy [cols]. Each output may be null (not wanted).
    /// </summary>
    public virtual void NormalizeRowsAffineBackward(Tensor dy, Tensor xHat, Tensor rstd, Tensor? weight, Tensor? dx, Tensor? dWeight, Tensor? dBias)
    {
        var (rows, cols) = CheckRows("NormalizeRowsAffineBackward", dx is null ? [dy, xHat] : [dy, xHat, dx], rstd);
        CheckColumnParameters("NormalizeRowsAffineBackward", dy, cols, weight, dWeight, dBias);
        if (dx is not null)
        {
            if (weight is null) NormalizeRowsBackward(dy, xHat, rstd, dx);
            else
            {
                using var w = Raw.BroadcastTo("NormalizeRowsAffineBackward", weight, [rows, cols]);
                using var dxHat = Tensor.Empty([rows, cols], dy.DType, dy.Device);
                Binary(BinaryOp.Mul, dy, w, dxHat, 0);
                NormalizeRowsBackward(dxHat, xHat, rstd, dx);
            }
        }
        if (dWeight is not null)
        {
            using var product = Tensor.Empty([rows, cols], dy.DType, dy.Device);
            Binary(BinaryOp.Mul, dy, xHat, product, 0);
            Reduce(ReduceOp.Sum, product, dWeight, 1, rows, cols);
        }
        if (dBias is not null) Reduce(ReduceOp.Sum, dy, dBias, 1, rows, cols);
    }

    /// <summary>Checks that each present per-column operand is a contiguous [cols] tensor of x's dtype and device.</summary>
    protected static void CheckColumnParameters(string op, Tensor x, int cols, params Tensor?[] parameters)
    {
        foreach (var p in parameters)
        {
            if (p is null) continue;
            p.ThrowIfDisposed();
            if (p.DType != x.DType || p.Device != x.Device)
                throw new DTypeMismatchException($"{op}: operands differ in dtype or device, {p.Describe()} vs {x.Describe()}");
            if (!p.IsContiguous || p.Rank != 1 || p.Shape[0] != cols)
                throw new ShapeMismatchException($"{op}: expected a contiguous [{cols}] per-column operand, got {p.Describe()}");
        }
    }

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
