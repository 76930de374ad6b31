namespace NativeNet.Data;

/// <summary>A finite, indexable set of labelled samples with float features of a fixed shape.</summary>
public interface IDataset
{
    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>Shape of one sample's features (e.g. [1, 28, 28] or [784]); a batch is [N, ..SampleShape].</summary>
    int[] SampleShape { get; }

    /// <summary>Sample <paramref name="index"/>: its features (row-major, <c>Numel(SampleShape)</c> values) and class label.</summary>
    (float[] Features, int Label) Get(int index);

    /// <summary>Writes sample <paramref name="index"/>'s features into <paramref name="features"/> and returns its label (override to avoid the allocation of <see cref="Get"/>).</summary>
    int CopyTo(int index, Span<float> features)
    {
        var (f, label) = Get(index);
        if (f.Length != features.Length)
            throw new InvalidOperationException($"{GetType().Name}: sample {index} has {f.Length} features, expected {features.Length} for shape {ShapeUtil.Format(SampleShape)}");
        f.CopyTo(features);
        return label;
    }
}

/// <summary>
/// Samples held in memory: features x [N, ...] (Float32, or Float64 converted) and Int32 labels y [N].
/// The data is copied to host arrays at construction, so the tensors may be disposed afterwards.
/// </summary>
public sealed class TensorDataset : IDataset
{
    private readonly float[] _features;
    private readonly int[] _labels;
    private readonly int[] _sampleShape;
    private readonly int _sampleSize;

    /// <summary>Copies <paramref name="x"/> and <paramref name="y"/>; their first dimensions must agree.</summary>
    public TensorDataset(Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Rank < 1) throw new ShapeMismatchException($"TensorDataset: features must have a sample dimension, got {x.Describe()}");
        if (!x.DType.IsFloat()) throw new DTypeMismatchException($"TensorDataset: features must be Float32 or Float64, got {x.Describe()}");
        if (y.DType != DType.Int32 || y.Rank != 1) throw new DTypeMismatchException($"TensorDataset: labels must be Int32 [N], got {y.Describe()}");
        if (y.Shape[0] != x.Shape[0]) throw new ShapeMismatchException($"TensorDataset: {x.Shape[0]} samples in {x.Describe()} but {y.Shape[0]} labels in {y.Describe()}");
        _features = x.ToArray<float>();
        _labels = y.ToArray<int>();
        _sampleShape = x.ShapeArray[1..];
        _sampleSize = ShapeUtil.Numel(_sampleShape);
    }

    /// <summary>Wraps host arrays (not copied): <paramref name="features"/> holds <c>labels.Length</c> samples of <paramref name="sampleShape"/>.</summary>
    public TensorDataset(float[] features, int[] labels, params int[] sampleShape)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        _sampleShape = (int[])sampleShape.Clone();
        _sampleSize = ShapeUtil.Numel(_sampleShape);
        if ((long)_sampleSize * labels.Length != features.Length)
            throw new ShapeMismatchException($"TensorDataset: {features.Length} feature values are not {labels.Length} samples of shape {ShapeUtil.Format(_sampleShape)}");
        (_features, _labels) = (features, labels);
    }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <inheritdoc/>
    public int[] SampleShape => (int[])_sampleShape.Clone();

    /// <summary>All features as a new tensor [N, ..SampleShape].</summary>
    public Tensor Features() => Tensor.FromArray(_features, [Count, .. _sampleShape]);

    /// <summary>All labels as a new Int32 tensor [N].</summary>
    public Tensor Labels() => Tensor.FromArray(_labels, [Count]);

    /// <inheritdoc/>
    public (float[] Features, int Label) Get(int index)
    {
        CheckIndex(index);
        return (_features.AsSpan(index * _sampleSize, _sampleSize).ToArray(), _labels[index]);
    }

    /// <inheritdoc/>
    public int CopyTo(int index, Span<float> features)
    {
        CheckIndex(index);
        if (features.Length != _sampleSize) throw new ArgumentException($"TensorDataset.CopyTo: destination has {features.Length} elements, a sample has {_sampleSize}");
        _features.AsSpan(index * _sampleSize, _sampleSize).CopyTo(features);
        return _labels[index];
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"TensorDataset: index {index} is outside [0, {Count})");
    }
}
