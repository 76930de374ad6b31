namespace NativeNet.Data;

/// <summary>
/// Consecutive batches of in-memory tensors in their stored order, the same every epoch (for evaluation data):
/// batch b is rows [b·size, min((b+1)·size, N)) of x and y, handed out as views (dispose them; the tensors stay owned by the caller).
/// </summary>
public sealed class TensorBatches : IBatchSource
{
    private readonly Tensor _x, _y;
    private readonly int _batchSize;

    /// <summary>Batches of <paramref name="batchSize"/> rows of <paramref name="x"/> [N, ...] and labels <paramref name="y"/> [N].</summary>
    public TensorBatches(Tensor x, Tensor y, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Rank < 1 || y.Rank != 1 || x.Shape[0] != y.Shape[0])
            throw new ShapeMismatchException($"TensorBatches: features {x.Describe()} and labels {y.Describe()} must have the same number of rows");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"TensorBatches: batch size must be at least 1, got {batchSize}");
        (_x, _y, _batchSize) = (x, y, batchSize);
    }

    /// <inheritdoc/>
    public int BatchesPerEpoch => (_x.Shape[0] + _batchSize - 1) / _batchSize;

    /// <inheritdoc/>
    public IEnumerable<(Tensor X, Tensor Y)> Epoch(int epoch, int startBatch)
    {
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), $"TensorBatches: start batch must be in [0, {BatchesPerEpoch}], got {startBatch}");
        return Batches(startBatch);
    }

    private IEnumerable<(Tensor X, Tensor Y)> Batches(int startBatch)
    {
        int n = _x.Shape[0];
        for (int b = startBatch; b < BatchesPerEpoch; b++)
        {
            int start = b * _batchSize, count = Math.Min(_batchSize, n - start);
            yield return (_x.Narrow(0, start, count), _y.Narrow(0, start, count));
        }
    }
}
