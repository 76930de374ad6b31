using NativeNet.Autodiff;
using NativeNet.Backends;

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
/// On a backend with embedding kernels (Cuda) both run on the device and the indices never travel to the host: an index
/// outside the table is found by the kernel and reported after it. Elsewhere the indices are read and range-checked on
/// the host and each row is moved with one backend copy (forward) or one in-place add (backward), so any backend works.
/// </summary>
public sealed class EmbeddingGate : Gate
{
    private int[] _indices = [];
    private Tensor? _deviceIndices;
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
        _weightShape = weight.ShapeArray;
        _dtype = weight.DType;
        _device = weight.Device;
        var y = Tensor.Empty([.. indices.ShapeArray, dim], weight.DType, weight.Device);
        if (weight.Device.Kind != DeviceKind.Cpu && TryForwardOnDevice(indices, weight, y)) return y;
        var ids = indices.ToArray<int>();
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)rows)
            {
                y.Dispose();
                throw new ArgumentOutOfRangeException(nameof(indices), $"{Name}: index {ids[i]} at position {i} is outside [0, {rows}) for weight {ShapeUtil.Format(weight.Shape)}");
            }
        _indices = ids;
        if (weight.Device.Kind == DeviceKind.Cpu && weight.IsContiguous)
        {
            if (weight.DType == DType.Float32) GatherHost<float>(weight, ids, y, dim);
            else GatherHost<double>(weight, ids, y, dim);
            return y;
        }
        using var y2d = Raw.Reshape(y, [ids.Length, dim]);
        for (int i = 0; i < ids.Length; i++)
        {
            using var source = Raw.Narrow(weight, 0, ids[i], 1);
            using var target = Raw.Narrow(y2d, 0, i, 1);
            y.Backend.Copy(source, target);
        }
        return y;
    }

    /// <summary>Host rows copied straight between the arrays: a per-row backend copy costs more than the row for small widths.</summary>
    private static void GatherHost<T>(Tensor weight, int[] ids, Tensor y, int dim) where T : unmanaged
    {
        var w = weight.HostData<T>().AsSpan(weight.Offset, weight.Numel);
        var output = y.HostData<T>().AsSpan(y.Offset, y.Numel);
        for (int i = 0; i < ids.Length; i++) w.Slice(ids[i] * dim, dim).CopyTo(output.Slice(i * dim, dim));
    }

    /// <summary>dw[ids[i]] += dy[i] row by row on host arrays (dw contiguous and zeroed, dy contiguous).</summary>
    private static void ScatterAddHost<T>(Tensor dy, int[] ids, Tensor dw, int dim) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        var g = dy.HostData<T>().AsSpan(dy.Offset, dy.Numel);
        var d = dw.HostData<T>().AsSpan(dw.Offset, dw.Numel);
        for (int i = 0; i < ids.Length; i++)
            System.Numerics.Tensors.TensorPrimitives.Add(d.Slice(ids[i] * dim, dim), g.Slice(i * dim, dim), d.Slice(ids[i] * dim, dim));
    }

    /// <summary>The device path: a private contiguous copy of the indices on the weight's device (kept for backward), one gather kernel.</summary>
    private bool TryForwardOnDevice(Tensor indices, Tensor weight, Tensor y)
    {
        var backend = weight.Backend;
        var ids = Tensor.Empty(indices.ShapeArray, DType.Int32, weight.Device);
        try
        {
            if (indices.Device == weight.Device) backend.Copy(indices, ids);
            else
            {
                using var moved = indices.To(weight.Device);
                backend.Copy(moved, ids);
            }
            using var flat = Raw.Reshape(ids, [ids.Numel]);
            using var y2d = Raw.Reshape(y, [ids.Numel, weight.Shape[1]]);
            if (!backend.TryEmbeddingForward(Name, weight, flat, y2d))
            {
                ids.Dispose();
                return false;
            }
        }
        catch
        {
            ids.Dispose();
            y.Dispose();
            throw;
        }
        _deviceIndices = Save(ids);
        ids.Dispose();
        return true;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dy)
    {
        var dw = Tensor.Zeros(_weightShape, _dtype, _device);
        if (_deviceIndices is { } ids)
        {
            using var flat = Raw.Reshape(ids, [ids.Numel]);
            using var dense = Raw.Contiguous(dy);
            using var dy2d = Raw.Reshape(dense, [ids.Numel, _weightShape[1]]);
            if (!dw.Backend.TryEmbeddingBackward(dy2d, flat, dw))
                throw new InvalidOperationException($"{Name}.Backward: backend {dw.Backend} ran the forward pass on the device but has no backward kernel");
            return [dw];
        }
        if (_device.Kind == DeviceKind.Cpu)
        {
            using var dense = Raw.Contiguous(dy);
            if (_dtype == DType.Float32) ScatterAddHost<float>(dense, _indices, dw, _weightShape[1]);
            else ScatterAddHost<double>(dense, _indices, dw, _weightShape[1]);
            return [dw];
        }
        using var rows2d = Raw.Reshape(dy, [_indices.Length, _weightShape[1]]);
        for (int i = 0; i < _indices.Length; i++)
        {
            using var target = Raw.Narrow(dw, 0, _indices[i], 1);
            using var source = Raw.Narrow(rows2d, 0, i, 1);
            Raw.AddInPlace(target, source);
        }
        return [dw];
    }
}
