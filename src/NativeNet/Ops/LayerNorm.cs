using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// Layer normalisation as PyTorch's <c>F.layer_norm</c>: each slice over the last dims <paramref name="normalizedShape"/>
    /// of x is normalised to zero mean and unit biased variance, then scaled by <paramref name="weight"/> and shifted by
    /// <paramref name="bias"/> (each of shape <paramref name="normalizedShape"/>, each optional).
    /// </summary>
    public static Tensor LayerNorm(Tensor x, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        var gate = new LayerNormGate(normalizedShape, eps, weight is not null, bias is not null);
        return Apply(gate, () => gate.Forward(x, weight, bias), [x, .. Present(weight, bias)]);
    }

    /// <summary>
    /// Group normalisation as PyTorch's <c>F.group_norm</c>: x [N, C, *] with its C channels in <paramref name="numGroups"/>
    /// groups; each (sample, group) is normalised over its channels and positions, then scaled and shifted per channel by
    /// <paramref name="weight"/> and <paramref name="bias"/> [C] (each optional).
    /// </summary>
    public static Tensor GroupNorm(Tensor x, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        var gate = new GroupNormGate(numGroups, eps, weight is not null, bias is not null);
        return Apply(gate, () => gate.Forward(x, weight, bias), [x, .. Present(weight, bias)]);
    }

    private static Tensor[] Present(params Tensor?[] tensors) => tensors.Where(t => t is not null).Select(t => t!).ToArray();
}

/// <summary>
/// Shared part of <see cref="LayerNormGate"/> and <see cref="GroupNormGate"/>: x viewed as rows is normalised by the backend's
/// fused <see cref="Backend.NormalizeRows"/>; the affine parameters broadcast along <c>AffineShape</c> (x's shape with ones where
/// a parameter does not vary). Backward: dx̂ = dy·γ, dx from <see cref="Backend.NormalizeRowsBackward"/>, dγ = Σ dy·x̂ and
/// dβ = Σ dy over the axes a parameter does not vary along.
/// </summary>
public abstract class RowNormGate(double eps, bool hasWeight, bool hasBias) : Gate
{
    private Tensor? _xHat, _rstd, _weight;
    private int[] _inputShape = [], _rowShape = [], _affineShape = [], _parameterShape = [], _sumAxes = [];

    /// <summary>Checks x and returns (the rows view [rows, cols], the broadcast shape of the parameters, the parameters' own shape).</summary>
    protected abstract (int[] RowShape, int[] AffineShape, int[] ParameterShape) Layout(Tensor x);

    /// <summary>Whether the parameters cover exactly one row (LayerNorm), so the backend's fused <see cref="Backend.NormalizeRowsAffine"/> applies.</summary>
    protected virtual bool ParametersSpanRow => false;

    /// <summary>Normalises x and applies the affine parameters.</summary>
    public Tensor Forward(Tensor x, Tensor? weight, Tensor? bias)
    {
        Raw.CheckFloat(Name, x);
        if (!(eps > 0)) throw new ArgumentException($"{Name}: eps must be positive, got {eps}");
        (_rowShape, _affineShape, _parameterShape) = Layout(x);
        _inputShape = x.ShapeArray;
        _sumAxes = Enumerable.Range(0, _affineShape.Length).Where(a => _affineShape[a] == 1).ToArray();
        CheckParameter("weight", x, weight);
        CheckParameter("bias", x, bias);
        if (ParametersSpanRow) return ForwardFused(x, weight, bias);

        using var dense = Raw.Contiguous(x);
        using var rows = Raw.Reshape(dense, _rowShape);
        using var xHatRows = Tensor.Empty(_rowShape, x.DType, x.Device);
        using var rstd = Tensor.Empty([_rowShape[0]], x.DType, x.Device);
        x.Backend.NormalizeRows(rows, xHatRows, rstd, eps);
        using var xHat = Raw.Reshape(xHatRows, _inputShape);
        _xHat = Save(xHat);
        _rstd = Save(rstd);
        if (weight is null && bias is null) return Raw.Clone(xHat);
        Tensor? scaled = null;
        if (weight is not null)
        {
            using var w = Raw.Reshape(weight, _affineShape);
            _weight = Save(w);
            scaled = Raw.Mul(xHat, w);
            if (bias is null) return scaled;
        }
        using (scaled)
        {
            using var b = Raw.Reshape(bias!, _affineShape);
            return Raw.Add(scaled ?? xHat, b);
        }
    }

    private Tensor ForwardFused(Tensor x, Tensor? weight, Tensor? bias)
    {
        int cols = _rowShape[1];
        using var dense = Raw.Contiguous(x);
        using var rows = Raw.Reshape(dense, _rowShape);
        var y = Tensor.Empty(_inputShape, x.DType, x.Device);
        using var yRows = Raw.Reshape(y, _rowShape);
        using var xHatRows = Tensor.Empty(_rowShape, x.DType, x.Device);
        using var rstd = Tensor.Empty([_rowShape[0]], x.DType, x.Device);
        using var w = weight is null ? null : ColumnVector(weight, cols);
        using var b = bias is null ? null : ColumnVector(bias, cols);
        x.Backend.NormalizeRowsAffine(rows, w, b, yRows, xHatRows, rstd, eps);
        _xHat = Save(xHatRows);
        _rstd = Save(rstd);
        if (w is not null) _weight = Save(w);
        return y;
    }

    private static Tensor ColumnVector(Tensor p, int cols)
    {
        using var dense = Raw.Contiguous(p);
        return Raw.Reshape(dense, [cols]);
    }

    private Tensor?[] BackwardFused(Tensor dy)
    {
        int cols = _rowShape[1];
        using var dense = Raw.Contiguous(dy);
        using var dyRows = Raw.Reshape(dense, _rowShape);
        var dx = NeedsGrad(0) ? Tensor.Empty(_inputShape, dy.DType, dy.Device) : null;
        using var dxRows = dx is null ? null : Raw.Reshape(dx, _rowShape);
        var dWeight = hasWeight && NeedsGrad(1) ? Tensor.Empty([cols], dy.DType, dy.Device) : null;
        var dBias = hasBias && NeedsGrad(hasWeight ? 2 : 1) ? Tensor.Empty([cols], dy.DType, dy.Device) : null;
        dy.Backend.NormalizeRowsAffineBackward(dyRows, _xHat!, _rstd!, _weight, dxRows, dWeight, dBias);
        Tensor? AsParameter(Tensor? g)
        {
            if (g is null) return null;
            using (g) return Raw.Reshape(g, _parameterShape);
        }
        var grads = new List<Tensor?> { dx };
        if (hasWeight) grads.Add(AsParameter(dWeight));
        if (hasBias) grads.Add(AsParameter(dBias));
        return grads.ToArray();
    }

    private void CheckParameter(string what, Tensor x, Tensor? p)
    {
        if (p is null) return;
        Raw.CheckSameKind(Name, x, p);
        if (!p.Shape.SequenceEqual(_parameterShape))
            throw new ShapeMismatchException($"{Name}: {what} {ShapeUtil.Format(p.Shape)} must be {ShapeUtil.Format(_parameterShape)} for input {ShapeUtil.Format(x.Shape)}");
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dy)
    {
        if (ParametersSpanRow) return BackwardFused(dy);
        var grads = new List<Tensor?>(3);
        if (NeedsGrad(0))
        {
            using var dxHat = hasWeight ? Raw.Mul(dy, _weight!) : Raw.Contiguous(dy);
            using var dxHatDense = Raw.Contiguous(dxHat);
            using var dxHatRows = Raw.Reshape(dxHatDense, _rowShape);
            using var xHatRows = Raw.Reshape(_xHat!, _rowShape);
            using var dxRows = Tensor.Empty(_rowShape, dy.DType, dy.Device);
            dy.Backend.NormalizeRowsBackward(dxHatRows, xHatRows, _rstd!, dxRows);
            grads.Add(Raw.Reshape(dxRows, _inputShape));
        }
        else grads.Add(null);
        if (hasWeight)
        {
            if (NeedsGrad(1))
            {
                using var product = Raw.Mul(dy, _xHat!);
                using var sum = Raw.Sum(product, _sumAxes, keepDims: true);
                grads.Add(Raw.Reshape(sum, _parameterShape));
            }
            else grads.Add(null);
        }
        if (hasBias)
        {
            if (NeedsGrad(hasWeight ? 2 : 1))
            {
                using var sum = Raw.Sum(dy, _sumAxes, keepDims: true);
                grads.Add(Raw.Reshape(sum, _parameterShape));
            }
            else grads.Add(null);
        }
        return grads.ToArray();
    }
}

/// <summary>Gate of <see cref="Ops.LayerNorm"/>: rows are the slices over the normalised (last) dims.</summary>
public sealed class LayerNormGate(int[] normalizedShape, double eps, bool hasWeight, bool hasBias) : RowNormGate(eps, hasWeight, hasBias)
{
    /// <inheritdoc/>
    public override string Name => "LayerNorm";

    /// <inheritdoc/>
    protected override bool ParametersSpanRow => true;

    /// <inheritdoc/>
    protected override (int[] RowShape, int[] AffineShape, int[] ParameterShape) Layout(Tensor x)
    {
        int k = normalizedShape.Length;
        if (k == 0 || normalizedShape.Any(d => d < 1))
            throw new ArgumentException($"LayerNorm: normalized shape {ShapeUtil.Format(normalizedShape)} must have at least one dim, each positive");
        if (x.Rank < k || !x.Shape[(x.Rank - k)..].SequenceEqual(normalizedShape))
            throw new ShapeMismatchException($"LayerNorm: input {ShapeUtil.Format(x.Shape)} does not end with the normalized shape {ShapeUtil.Format(normalizedShape)}");
        int cols = normalizedShape.Aggregate(1, (a, d) => a * d);
        int rows = x.Numel / cols;
        var affine = Enumerable.Repeat(1, x.Rank - k).Concat(normalizedShape).ToArray();
        return ([rows, cols], affine, (int[])normalizedShape.Clone());
    }
}

/// <summary>Gate of <see cref="Ops.GroupNorm"/>: rows are the (sample, group) blocks of channels × positions.</summary>
public sealed class GroupNormGate(int numGroups, double eps, bool hasWeight, bool hasBias) : RowNormGate(eps, hasWeight, hasBias)
{
    /// <inheritdoc/>
    public override string Name => "GroupNorm";

    /// <inheritdoc/>
    protected override (int[] RowShape, int[] AffineShape, int[] ParameterShape) Layout(Tensor x)
    {
        if (x.Rank < 2) throw new ShapeMismatchException($"GroupNorm: input must be [N, C, ...] (rank 2 or more), got {ShapeUtil.Format(x.Shape)}");
        int channels = x.Shape[1];
        if (numGroups < 1 || channels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: {channels} channels of input {ShapeUtil.Format(x.Shape)} cannot be split into {numGroups} groups");
        int rows = x.Shape[0] * numGroups;
        int cols = rows == 0 ? 0 : x.Numel / rows;
        var affine = Enumerable.Range(0, x.Rank).Select(a => a == 1 ? channels : 1).ToArray();
        return ([rows, cols], affine, [channels]);
    }
}
