using System.Collections;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace NativeNet.Data;

/// <summary>
/// Iterates a dataset in mini-batches <c>(X Float32 [B, ..SampleShape], Y Int32 [B])</c> on the CPU.
/// Each enumeration is one epoch: the order is a permutation seeded from (seed, epoch), so every sample appears
/// exactly once and a run is reproducible; the last partial batch is kept or dropped by choice. With
/// <c>prefetch</c> &gt; 0 a worker thread assembles (and transforms) up to that many batches ahead in a bounded
/// queue; the batches are identical to those built without prefetch.
/// </summary>
/// <remarks>
/// The caller owns each yielded batch: the tensors join the caller's current <see cref="TensorScope"/> (as if created
/// on its thread) or must be disposed. Leaving a <c>foreach</c> early (break, exception) disposes the enumerator,
/// which stops and joins the worker and disposes batches that were prepared but not handed out; disposing the
/// loader does the same for every enumeration still open.
/// </remarks>
public sealed class DataLoader : IEnumerable<(Tensor X, Tensor Y)>, IBatchSource, IDisposable
{
    private readonly IDataset _dataset;
    private readonly int[] _sampleShape;
    private readonly int _sampleSize;
    private readonly IBatchTransform? _transform;
    private readonly ConcurrentDictionary<Prefetcher, byte> _active = new();
    private int _nextEpoch;
    private bool _disposed;

    /// <summary>Creates a loader.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch (≥ 1).</param>
    /// <param name="shuffle">Permute the samples each epoch (else dataset order).</param>
    /// <param name="seed">Seed of the per-epoch permutations and of the transforms' random numbers.</param>
    /// <param name="dropLast">Drop the last batch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="prefetch">Batches prepared ahead on a worker thread (0: build each batch on the caller's thread).</param>
    /// <param name="transform">Applied to each feature batch (augmentation, normalisation) on the thread that builds it.</param>
    public DataLoader(IDataset dataset, int batchSize, bool shuffle = true, int seed = 0, bool dropLast = false, int prefetch = 2, IBatchTransform? transform = null)
    {
        _dataset = dataset ?? throw new ArgumentNullException(nameof(dataset));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader: batch size must be at least 1, got {batchSize}");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), $"DataLoader: prefetch must be non-negative, got {prefetch}");
        (BatchSize, Shuffle, Seed, DropLast, Prefetch, _transform) = (batchSize, shuffle, seed, dropLast, prefetch, transform);
        _sampleShape = dataset.SampleShape;
        _sampleSize = ShapeUtil.Numel(_sampleShape);
    }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch is shuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed.</summary>
    public int Seed { get; }

    /// <summary>Whether a last partial batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches prepared ahead (0: none, no worker thread).</summary>
    public int Prefetch { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => DropLast ? _dataset.Count / BatchSize : (_dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>The epoch the next plain enumeration (<c>foreach (var b in loader)</c>) will produce; starts at 0.</summary>
    public int NextEpoch => _nextEpoch;

    /// <summary>Enumerates the next epoch (see <see cref="NextEpoch"/>).</summary>
    public IEnumerator<(Tensor X, Tensor Y)> GetEnumerator() => Epoch(_nextEpoch++).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The sample order of <paramref name="epoch"/> (a permutation of 0..Count-1 when shuffling).</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, _dataset.Count).ToArray();
        if (Shuffle) new Generator(Mix(Seed, epoch, -1)).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>The batches of <paramref name="epoch"/> (the same batches each time it is enumerated).</summary>
    public IEnumerable<(Tensor X, Tensor Y)> Epoch(int epoch) => Epoch(epoch, 0);

    /// <summary>
    /// The batches of <paramref name="epoch"/> from batch <paramref name="startBatch"/> on: the same batches as the tail of
    /// <see cref="Epoch(int)"/>, without building the skipped ones (to resume an epoch in the middle).
    /// </summary>
    public IEnumerable<(Tensor X, Tensor Y)> Epoch(int epoch, int startBatch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"DataLoader: epoch must be non-negative, got {epoch}");
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), $"DataLoader: start batch must be in [0, {BatchesPerEpoch}], got {startBatch}");
        return Prefetch == 0 ? Synchronous(epoch, startBatch) : Prefetched(epoch, startBatch);
    }

    private IEnumerable<(Tensor X, Tensor Y)> Synchronous(int epoch, int startBatch)
    {
        var order = Order(epoch);
        int batches = BatchesPerEpoch;
        for (int b = startBatch; b < batches; b++)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            yield return Build(order, epoch, b);
        }
    }

    private IEnumerable<(Tensor X, Tensor Y)> Prefetched(int epoch, int startBatch)
    {
        using var worker = new Prefetcher(this, Order(epoch), epoch, startBatch);
        _active.TryAdd(worker, 0);
        try
        {
            while (worker.TryTake(out var batch))
            {
                TensorScope.Register(batch.X);
                TensorScope.Register(batch.Y);
                yield return batch;
            }
            worker.ThrowIfFailed();
            ObjectDisposedException.ThrowIf(_disposed, this);
        }
        finally
        {
            _active.TryRemove(worker, out _);
        }
    }

    /// <summary>Assembles batch <paramref name="b"/> of an epoch: gather, then transform with a generator seeded from (seed, epoch, b).</summary>
    private (Tensor X, Tensor Y) Build(int[] order, int epoch, int b)
    {
        int start = b * BatchSize;
        int count = Math.Min(BatchSize, order.Length - start);
        var features = GC.AllocateUninitializedArray<float>(count * _sampleSize);
        var labels = new int[count];
        for (int j = 0; j < count; j++) labels[j] = _dataset.CopyTo(order[start + j], features.AsSpan(j * _sampleSize, _sampleSize));
        var x = Tensor.FromHost(features, [count, .. _sampleShape]);
        var y = Tensor.FromHost(labels, [count]);
        if (_transform is not null)
        {
            Tensor transformed;
            try
            {
                transformed = _transform.Apply(x, new Generator(Mix(Seed, epoch, b)));
            }
            catch
            {
                x.Dispose();
                y.Dispose();
                throw;
            }
            if (!ReferenceEquals(transformed, x)) x.Dispose();
            x = transformed;
        }
        return (x, y);
    }

    /// <summary>A deterministic 32-bit seed from three integers (SplitMix64 finaliser; HashCode is randomised per process).</summary>
    internal static int Mix(int seed, int epoch, int batch)
    {
        ulong z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + ((ulong)(uint)epoch << 32 | (uint)batch));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return unchecked((int)(z ^ (z >> 31)));
    }

    /// <summary>Stops every enumeration still running (their workers are joined) and rejects new ones.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var worker in _active.Keys) worker.Stop();
    }

    /// <summary>Number of worker threads still running (for tests and leak checks).</summary>
    internal int ActiveWorkers => _active.Keys.Count(w => w.IsAlive);

    /// <summary>Builds one epoch's batches on a dedicated background thread into a bounded queue.</summary>
    private sealed class Prefetcher : IDisposable
    {
        private readonly DataLoader _loader;
        private readonly int[] _order;
        private readonly int _epoch, _startBatch;
        private readonly BlockingCollection<(Tensor X, Tensor Y)> _queue;
        private readonly CancellationTokenSource _cancel = new();
        private readonly Thread _thread;
        private ExceptionDispatchInfo? _failure;
        private int _disposed;

        public Prefetcher(DataLoader loader, int[] order, int epoch, int startBatch)
        {
            (_loader, _order, _epoch, _startBatch) = (loader, order, epoch, startBatch);
            _queue = new BlockingCollection<(Tensor, Tensor)>(loader.Prefetch);
            _thread = new Thread(Produce) { IsBackground = true, Name = $"DataLoader prefetch (epoch {epoch})" };
            _thread.Start();
        }

        public bool IsAlive => _thread.IsAlive;

        private void Produce()
        {
            try
            {
                int batches = _loader.BatchesPerEpoch;
                for (int b = _startBatch; b < batches && !_cancel.IsCancellationRequested; b++)
                {
                    var batch = _loader.Build(_order, _epoch, b);
                    try
                    {
                        _queue.Add(batch, _cancel.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        batch.X.Dispose();
                        batch.Y.Dispose();
                        break;
                    }
                }
            }
            catch (Exception e)
            {
                _failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                _queue.CompleteAdding();
            }
        }

        /// <summary>Waits for the next batch; false when the epoch is over or the loader was stopped.</summary>
        public bool TryTake(out (Tensor X, Tensor Y) batch)
        {
            try
            {
                return _queue.TryTake(out batch, Timeout.Infinite, _cancel.Token);
            }
            catch (OperationCanceledException)
            {
                batch = default;
                return false;
            }
        }

        public void ThrowIfFailed() => _failure?.Throw();

        /// <summary>Asks the worker to stop and waits for it (safe from any thread).</summary>
        public void Stop()
        {
            try { _cancel.Cancel(); } catch (ObjectDisposedException) { }
            _thread.Join();
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            Stop();
            while (_queue.TryTake(out var left))
            {
                left.X.Dispose();
                left.Y.Dispose();
            }
            _queue.Dispose();
            _cancel.Dispose();
        }
    }
}
