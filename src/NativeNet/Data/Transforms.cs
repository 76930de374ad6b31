namespace NativeNet.Data;

/// <summary>
/// A transformation of a Float32 CPU batch [N, ...] (augmentation, normalisation). The <see cref="DataLoader"/> calls it on
/// its worker thread with a generator seeded from (loader seed, epoch, batch index), so results do not depend on timing.
/// </summary>
public interface IBatchTransform
{
    /// <summary>Returns the transformed batch: <paramref name="batch"/> itself modified in place, or a new tensor (the caller then disposes the input).</summary>
    Tensor Apply(Tensor batch, Generator rng);
}

/// <summary>Applies transforms in order.</summary>
public sealed class Compose(params IBatchTransform[] transforms) : IBatchTransform
{
    private readonly IBatchTransform[] _transforms = (IBatchTransform[])transforms.Clone();

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        var current = batch;
        foreach (var t in _transforms)
        {
            var next = t.Apply(current, rng);
            if (!ReferenceEquals(next, current) && !ReferenceEquals(current, batch)) current.Dispose();
            current = next;
        }
        return current;
    }
}

/// <summary>Per-statistic layout of <see cref="Normalize"/>.</summary>
public enum NormalizeMode
{
    /// <summary>One mean and std over every value (e.g. MNIST's 0.1307 / 0.3081).</summary>
    Global,
    /// <summary>One mean and std per channel: dimension 1 of [N, C, ...] (per feature for [N, D]).</summary>
    PerChannel,
    /// <summary>One mean and std per feature position (the CS231n "mean image").</summary>
    PerFeature,
}

/// <summary>
/// Input normalisation <c>(x − mean)/std</c> with statistics computed once from the training set (population std,
/// in double precision) and then applied unchanged to training, validation and test data. A statistic whose std is 0
/// (a constant feature) uses std 1, so it is only centred.
/// </summary>
public sealed class Normalize : IBatchTransform
{
    private readonly float[] _mean, _invStd;
    private readonly int[] _sampleShape;
    private readonly int _group;

    private Normalize(NormalizeMode mode, int[] sampleShape, double[] mean, double[] std)
    {
        Mode = mode;
        _sampleShape = sampleShape;
        Mean = mean;
        Std = std;
        _mean = mean.Select(m => (float)m).ToArray();
        _invStd = std.Select(s => (float)(1 / s)).ToArray();
        _group = ShapeUtil.Numel(sampleShape) / mean.Length;
    }

    /// <summary>The statistic layout.</summary>
    public NormalizeMode Mode { get; }

    /// <summary>Means (one, one per channel, or one per feature).</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Standard deviations matching <see cref="Mean"/> (0 replaced by 1).</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>Computes the statistics of training features <paramref name="x"/> [N, ...].</summary>
    public static Normalize Fit(Tensor x, NormalizeMode mode = NormalizeMode.PerChannel)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 2) throw new ShapeMismatchException($"Normalize.Fit: expected samples [N, ...], got {x.Describe()}");
        if (x.Shape[0] == 0) throw new ArgumentException($"Normalize.Fit: no samples in {x.Describe()}");
        return FitCore(x.ToArray<double>(), x.Shape[0], x.ShapeArray[1..], mode);
    }

    /// <summary>Computes the statistics of every sample of <paramref name="dataset"/>.</summary>
    public static Normalize Fit(IDataset dataset, NormalizeMode mode = NormalizeMode.PerChannel)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count == 0) throw new ArgumentException("Normalize.Fit: the dataset is empty");
        var shape = dataset.SampleShape;
        int size = ShapeUtil.Numel(shape);
        var all = new double[(long)size * dataset.Count];
        var sample = new float[size];
        for (int i = 0; i < dataset.Count; i++)
        {
            dataset.CopyTo(i, sample);
            for (int k = 0; k < size; k++) all[(long)i * size + k] = sample[k];
        }
        return FitCore(all, dataset.Count, shape, mode);
    }

    private static Normalize FitCore(double[] values, int n, int[] sampleShape, NormalizeMode mode)
    {
        int size = ShapeUtil.Numel(sampleShape);
        int stats = mode switch
        {
            NormalizeMode.Global => 1,
            NormalizeMode.PerFeature => size,
            NormalizeMode.PerChannel => sampleShape.Length > 0 ? sampleShape[0] : 1,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        int group = size / Math.Max(1, stats);
        var mean = new double[stats];
        var variance = new double[stats];
        double count = (double)n * group;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < size; k++) mean[k / group] += values[(long)i * size + k];
        for (int s = 0; s < stats; s++) mean[s] /= count;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < size; k++)
            {
                double d = values[(long)i * size + k] - mean[k / group];
                variance[k / group] += d * d;
            }
        var std = variance.Select(v => Math.Sqrt(v / count)).Select(s => s > 0 ? s : 1).ToArray();
        return new Normalize(mode, sampleShape, mean, std);
    }

    /// <summary>A new normalised copy of <paramref name="x"/> [N, ..SampleShape] (Float32 or Float64, same dtype out).</summary>
    public Tensor Apply(Tensor x)
    {
        CheckShape(x);
        var values = x.ToArray<double>();
        int size = ShapeUtil.Numel(_sampleShape);
        for (long i = 0; i < values.Length; i++)
        {
            int s = (int)(i % size) / _group;
            values[i] = (values[i] - Mean[s]) / Std[s];
        }
        using var result = Tensor.FromHost(values, x.ShapeArray);
        return result.To(x.DType);
    }

    /// <summary>Normalises a contiguous Float32 CPU tensor in place.</summary>
    public void ApplyInPlace(Tensor x)
    {
        CheckShape(x);
        if (x.DType != DType.Float32 || x.Device.Kind != DeviceKind.Cpu || !x.IsContiguous)
            throw new ArgumentException($"Normalize.ApplyInPlace: expected a contiguous Float32 CPU tensor, got {x.Describe()}");
        var data = x.HostData<float>().AsSpan(x.Offset, x.Numel);
        int size = ShapeUtil.Numel(_sampleShape);
        for (int start = 0; start < data.Length; start += size)
        {
            var sample = data.Slice(start, size);
            for (int s = 0; s < _mean.Length; s++)
            {
                var part = sample.Slice(s * _group, _group);
                System.Numerics.Tensors.TensorPrimitives.Subtract(part, _mean[s], part);
                System.Numerics.Tensors.TensorPrimitives.Multiply(part, _invStd[s], part);
            }
        }
    }

    /// <inheritdoc/>
    Tensor IBatchTransform.Apply(Tensor batch, Generator rng)
    {
        ApplyInPlace(batch);
        return batch;
    }

    private void CheckShape(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        x.ThrowIfDisposed();
        if (x.Rank != _sampleShape.Length + 1 || !ShapeUtil.SameShape(x.Shape[1..], _sampleShape))
            throw new ShapeMismatchException($"Normalize: expected [N, {string.Join(", ", _sampleShape)}] like the training data, got {x.Describe()}");
    }
}

/// <summary>Image augmentation on NCHW Float32 CPU batches.</summary>
public static class Augment
{
    /// <summary>A new batch with every image mirrored left–right.</summary>
    public static Tensor HorizontalFlip(Tensor x)
    {
        var (n, c, h, w) = Nchw("Augment.HorizontalFlip", x);
        var data = x.ToArray<float>();
        for (int i = 0; i < n; i++) FlipImage(data.AsSpan(i * c * h * w, c * h * w), w);
        return Tensor.FromHost(data, x.ShapeArray);
    }

    /// <summary>
    /// A new batch: each image zero-padded by <paramref name="padding"/> on every side, then cropped back to H×W
    /// starting at row <paramref name="top"/> and column <paramref name="left"/> of the padded image (both in [0, 2·padding]).
    /// </summary>
    public static Tensor PadCrop(Tensor x, int padding, int top, int left)
    {
        var (n, _, _, _) = Nchw("Augment.PadCrop", x);
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), $"Augment.PadCrop: padding must be non-negative, got {padding}");
        if (top < 0 || top > 2 * padding || left < 0 || left > 2 * padding)
            throw new ArgumentOutOfRangeException(nameof(top), $"Augment.PadCrop: offsets ({top}, {left}) must be within [0, {2 * padding}]");
        return PadCrop(x, padding, Enumerable.Repeat(top, n).ToArray(), Enumerable.Repeat(left, n).ToArray());
    }

    internal static Tensor PadCrop(Tensor x, int padding, int[] tops, int[] lefts)
    {
        var (n, c, h, w) = Nchw("Augment.PadCrop", x);
        var src = x.ToArray<float>();
        var dst = new float[src.Length];
        for (int i = 0; i < n; i++)
        {
            int dy = tops[i] - padding, dx = lefts[i] - padding;
            for (int ch = 0; ch < c; ch++)
            {
                int plane = (i * c + ch) * h * w;
                for (int r = 0; r < h; r++)
                {
                    int sr = r + dy;
                    if (sr < 0 || sr >= h) continue;
                    int c0 = Math.Max(0, -dx), c1 = Math.Min(w, w - dx);
                    if (c1 > c0) src.AsSpan(plane + sr * w + c0 + dx, c1 - c0).CopyTo(dst.AsSpan(plane + r * w + c0, c1 - c0));
                }
            }
        }
        return Tensor.FromHost(dst, x.ShapeArray);
    }

    internal static void FlipImage(Span<float> image, int w)
    {
        for (int row = 0; row < image.Length; row += w) image.Slice(row, w).Reverse();
    }

    internal static (int N, int C, int H, int W) Nchw(string op, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        x.ThrowIfDisposed();
        if (x.Rank != 4) throw new ShapeMismatchException($"{op}: expected an image batch [N, C, H, W], got {x.Describe()}");
        if (x.DType != DType.Float32) throw new DTypeMismatchException($"{op}: expected Float32 images, got {x.Describe()}");
        return (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);
    }
}

/// <summary>Mirrors each image of an NCHW batch left–right with probability <c>p</c>.</summary>
public sealed class RandomHorizontalFlip : IBatchTransform
{
    /// <summary>Creates the transform with flip probability <paramref name="p"/>.</summary>
    public RandomHorizontalFlip(double p = 0.5)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"RandomHorizontalFlip: probability must be in [0, 1], got {p}");
        P = p;
    }

    /// <summary>Flip probability.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        var (n, c, h, w) = Augment.Nchw("RandomHorizontalFlip", batch);
        var result = batch.Device.Kind == DeviceKind.Cpu && batch.IsContiguous ? batch : Raw.Clone(batch);
        var data = result.HostData<float>().AsSpan(result.Offset, result.Numel);
        for (int i = 0; i < n; i++)
            if (rng.NextDouble() < P) Augment.FlipImage(data.Slice(i * c * h * w, c * h * w), w);
        return result;
    }
}

/// <summary>Zero-pads each image of an NCHW batch by <c>padding</c> and crops a random H×W window (offsets drawn per image).</summary>
public sealed class RandomCrop : IBatchTransform
{
    /// <summary>Creates the transform with <paramref name="padding"/> pixels of zeros on every side.</summary>
    public RandomCrop(int padding)
    {
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), $"RandomCrop: padding must be non-negative, got {padding}");
        Padding = padding;
    }

    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        var (n, _, _, _) = Augment.Nchw("RandomCrop", batch);
        var tops = new int[n];
        var lefts = new int[n];
        for (int i = 0; i < n; i++)
        {
            tops[i] = rng.NextInt(2 * Padding + 1);
            lefts[i] = rng.NextInt(2 * Padding + 1);
        }
        return Augment.PadCrop(batch, Padding, tops, lefts);
    }
}
