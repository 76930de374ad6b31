using NativeNet.Autodiff;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// Looks up rows of <paramref name="weight"/> [V, D] by Int32 <paramref name="indices"/> of any shape: the result has
    /// shape [..indices.shape, D]. Differentiable with respect to the weight (rows used several times get the sum of their gradients).
    /// </summary>
    public static Tensor Embedding(Tensor indices, Tensor weight)
    {
        var gate = new EmbeddingGate();
        return Apply(gate, () => gate.Forward(indices, weight), weight);
    }
}

/// <summary>
/// Gate of the embedding lookup: forward gathers rows, backward scatter-adds the upstream rows into a zero gradient.
/// The indices are read and range-checked on the host; each row is then moved with one backend copy (forward) or one
/// in-place add (backward) on the weight's device, so any backend works, at one backend call per index.
/// </summary>
public sealed class EmbeddingGate : Gate
{
    private int[] _indices = [];
    private int[] _weightShape = [];
    private DType _dtype;
    private Device _device;

    /// <inheritdoc/>
    public override string Name => "Embedding";

    /// <summary>Gathers weight[indices].</summary>
    public Tensor Forward(Tensor indices, Tensor weight)
    {
        indices.ThrowIfDisposed();
        Raw.CheckFloat(Name, weight);
        if (indices.DType != DType.Int32) throw new DTypeMismatchException($"{Name}: indices must be Int32, got {indices.Describe()}");
        if (weight.Rank != 2) throw new ShapeMismatchException($"{Name}: weight must be [num_embeddings, dim], got {ShapeUtil.Format(weight.Shape)}");
        int rows = weight.Shape[0], dim = weight.Shape[1];
        var ids = indices.ToArray<int>();
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)rows)
                throw new ArgumentOutOfRangeException(nameof(indices), $"{Name}: index {ids[i]} at position {i} is outside [0, {rows}) for weight {ShapeUtil.Format(weight.Shape)}");
        _indices = ids;
        _weightShape = weight.ShapeArray;
        _dtype = weight.DType;
        _device = weight.Device;
        var y = Tensor.Empty([.. indices.ShapeArray, dim], weight.DType, weight.Device);
        using var y2d = Raw.Reshape(y, [ids.Length, dim]);
        for (int i = 0; i < ids.Length; i++)
        {
            using var source = Raw.Narrow(weight, 0, ids[i], 1);
            using var target = Raw.Narrow(y2d, 0, i, 1);
            y.Backend.Copy(source, target);
        }
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dy)
    {
        var dw = Tensor.Zeros(_weightShape, _dtype, _device);
        using var dy2d = Raw.Reshape(dy, [_indices.Length, _weightShape[1]]);
        for (int i = 0; i < _indices.Length; i++)
        {
            using var target = Raw.Narrow(dw, 0, _indices[i], 1);
            using var source = Raw.Narrow(dy2d, 0, i, 1);
            Raw.AddInPlace(target, source);
        }
        return [dw];
    }
}
