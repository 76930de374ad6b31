using NativeNet.Data;
using NUnit.Framework;

namespace NativeNet.Tests.Data;

public class DataLoaderTests
{
    /// <summary>Sample i has features [i, i+0.5] and label i.</summary>
    private static TensorDataset Indexed(int n) =>
        new(Enumerable.Range(0, n).SelectMany(i => new[] { (float)i, i + 0.5f }).ToArray(), Enumerable.Range(0, n).ToArray(), 2);

    private static List<(float[] X, int[] Y)> Collect(IEnumerable<(Tensor X, Tensor Y)> batches)
    {
        var result = new List<(float[], int[])>();
        foreach (var (x, y) in batches)
        {
            Assert.That(x.Shape[0], Is.EqualTo(y.Shape[0]));
            result.Add((x.ToArray(), y.ToArray<int>()));
            x.Dispose();
            y.Dispose();
        }
        return result;
    }

    [Test]
    public void EverySampleExactlyOncePerEpochWithMatchingLabels([Values(0, 3)] int prefetch)
    {
        using var loader = new DataLoader(Indexed(10), 4, shuffle: true, seed: 7, prefetch: prefetch);
        var epoch = Collect(loader);
        Assert.That(epoch.Select(b => b.Y.Length), Is.EqualTo(new[] { 4, 4, 2 }));
        var labels = epoch.SelectMany(b => b.Y).ToArray();
        Assert.That(labels, Is.EquivalentTo(Enumerable.Range(0, 10)));
        Assert.That(labels, Is.Not.Ordered, "shuffled");
        foreach (var (x, y) in epoch)
            for (int j = 0; j < y.Length; j++) Assert.That(x[2 * j], Is.EqualTo(y[j]));
        Assert.That(loader.NextEpoch, Is.EqualTo(1));
    }

    [Test]
    public void SeededOrderIsReproducibleAndDiffersBetweenEpochs()
    {
        using var a = new DataLoader(Indexed(50), 8, seed: 3);
        using var b = new DataLoader(Indexed(50), 8, seed: 3);
        var a0 = Collect(a).SelectMany(t => t.Y).ToArray();
        var a1 = Collect(a).SelectMany(t => t.Y).ToArray();
        Assert.That(Collect(b.Epoch(0)).SelectMany(t => t.Y), Is.EqualTo(a0));
        Assert.That(Collect(b.Epoch(1)).SelectMany(t => t.Y), Is.EqualTo(a1));
        Assert.That(a1, Is.Not.EqualTo(a0));
        using var other = new DataLoader(Indexed(50), 8, seed: 4);
        Assert.That(Collect(other).SelectMany(t => t.Y), Is.Not.EqualTo(a0));
        using var plain = new DataLoader(Indexed(5), 2, shuffle: false);
        Assert.That(Collect(plain).SelectMany(t => t.Y), Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
    }

    [Test]
    public void DropLastDropsOnlyThePartialBatch()
    {
        using var loader = new DataLoader(Indexed(10), 4, dropLast: true);
        Assert.That(loader.BatchesPerEpoch, Is.EqualTo(2));
        Assert.That(Collect(loader).Select(b => b.Y.Length), Is.EqualTo(new[] { 4, 4 }));
        using var exact = new DataLoader(Indexed(8), 4, dropLast: true);
        Assert.That(Collect(exact).Count, Is.EqualTo(2));
    }

    [Test]
    public void PrefetchYieldsTheSameBatchesAsSynchronousBuilding()
    {
        var images = Tensor.Normal([13, 2, 4, 4], 0, 1, new Generator(1));
        var data = new TensorDataset(images, Tensor.FromArray(Enumerable.Range(0, 13).ToArray()));
        var transform = new Compose(new RandomHorizontalFlip(), new RandomCrop(1));
        using var sync = new DataLoader(data, 5, seed: 9, prefetch: 0, transform: transform);
        using var ahead = new DataLoader(data, 5, seed: 9, prefetch: 2, transform: transform);
        for (int e = 0; e < 2; e++)
        {
            var s = Collect(sync);
            var p = Collect(ahead);
            Assert.That(p.Count, Is.EqualTo(s.Count));
            for (int i = 0; i < s.Count; i++)
            {
                Assert.That(p[i].X, Is.EqualTo(s[i].X));
                Assert.That(p[i].Y, Is.EqualTo(s[i].Y));
            }
        }
    }

    [Test]
    public void EarlyExitAndDisposalStopTheWorkerAndFreeUnusedBatches()
    {
        long tensorsBefore = MemoryStats.LiveTensors;
        using (var loader = new DataLoader(Indexed(1000), 10, prefetch: 4))
        {
            foreach (var (x, y) in loader)
            {
                x.Dispose();
                y.Dispose();
                break;
            }
            Assert.That(loader.ActiveWorkers, Is.Zero, "break must join the worker");

            using var enumerator = loader.GetEnumerator();
            Assert.That(enumerator.MoveNext());
            enumerator.Current.X.Dispose();
            enumerator.Current.Y.Dispose();
            Assert.That(loader.ActiveWorkers, Is.EqualTo(1));
            loader.Dispose();
            Assert.That(loader.ActiveWorkers, Is.Zero, "disposing the loader stops open enumerations");
            Assert.Throws<ObjectDisposedException>(() => enumerator.MoveNext());
        }
        Assert.That(MemoryStats.LiveTensors, Is.EqualTo(tensorsBefore), "prepared batches that were never handed out are disposed");
    }

    [Test]
    public void BatchesJoinTheCallersTensorScope()
    {
        using var loader = new DataLoader(Indexed(6), 3, prefetch: 2);
        var seen = new List<Tensor>();
        using (new TensorScope())
            foreach (var (x, y) in loader) seen.AddRange([x, y]);
        Assert.That(seen, Has.All.Matches<Tensor>(t => t.IsDisposed));
    }

    [Test]
    public void WorkerExceptionsReachTheCaller()
    {
        using var loader = new DataLoader(new Failing(), 2, prefetch: 2);
        var e = Assert.Throws<InvalidOperationException>(() => Collect(loader));
        Assert.That(e!.Message, Does.Contain("sample 3"));
        Assert.That(loader.ActiveWorkers, Is.Zero);
    }

    private sealed class Failing : IDataset
    {
        public int Count => 6;
        public int[] SampleShape => [1];
        public (float[] Features, int Label) Get(int index) => index == 3 ? throw new InvalidOperationException("sample 3 is unreadable") : ([index], index);
    }
}

public class NormalizeAndAugmentTests
{
    [Test]
    public void NormalizeUsesTrainingStatisticsForTestDataToo()
    {
        var train = Tensor.FromArray(new float[] { 1, 10, 3, 10, 5, 10 }, 3, 2);
        var norm = Normalize.Fit(train, NormalizeMode.PerFeature);
        Assert.That(norm.Mean, Is.EqualTo(new[] { 3.0, 10.0 }));
        Assert.That(norm.Std[0], Is.EqualTo(Math.Sqrt(8.0 / 3)).Within(1e-12));
        Assert.That(norm.Std[1], Is.EqualTo(1), "a constant feature keeps std 1");
        var trained = norm.Apply(train).ToArray();
        Assert.That(trained.Where((_, i) => i % 2 == 0).Average(), Is.EqualTo(0).Within(1e-6));
        var test = Tensor.FromArray(new float[] { 3, 12 }, 1, 2);
        Assert.That(norm.Apply(test).ToArray(), Is.EqualTo(new[] { 0f, 2f }).Within(1e-6));
        norm.ApplyInPlace(test);
        Assert.That(test.ToArray(), Is.EqualTo(new[] { 0f, 2f }).Within(1e-6));
        Assert.Throws<ShapeMismatchException>(() => norm.Apply(Tensor.Zeros(2, 3)));
    }

    [Test]
    public void PerChannelAndGlobalStatistics()
    {
        // [N=2, C=2, 1, 2]: channel 0 holds 0,2,4,6 and channel 1 holds 1 everywhere.
        var x = Tensor.FromArray(new float[] { 0, 2, 1, 1, 4, 6, 1, 1 }, 2, 2, 1, 2);
        var perChannel = Normalize.Fit(x);
        Assert.That(perChannel.Mean, Is.EqualTo(new[] { 3.0, 1.0 }));
        Assert.That(perChannel.Std[0], Is.EqualTo(Math.Sqrt(5)).Within(1e-12));
        var global = Normalize.Fit(new TensorDataset(x, Tensor.FromArray(new[] { 0, 1 })), NormalizeMode.Global);
        Assert.That(global.Mean.Single(), Is.EqualTo(2.0));
    }

    [Test]
    public void FlipTwiceIsIdentityAndFlipMirrors()
    {
        var x = Tensor.Normal([2, 3, 4, 5], 0, 1, new Generator(2));
        var once = Augment.HorizontalFlip(x);
        Assert.That(once[1, 2, 3, 0], Is.EqualTo(x[1, 2, 3, 4]));
        Assert.That(Augment.HorizontalFlip(once).ToArray(), Is.EqualTo(x.ToArray()));
        var flip = new RandomHorizontalFlip(1.0);
        var y = x.Clone();
        flip.Apply(flip.Apply(y, new Generator(0)), new Generator(0));
        Assert.That(y.ToArray(), Is.EqualTo(x.ToArray()));
    }

    [Test]
    public void CropKeepsShapeAndPadsWithZeros()
    {
        var x = Tensor.Ones([1, 1, 4, 4], DType.Float32);
        var topLeft = Augment.PadCrop(x, 2, 0, 0);
        Assert.That(topLeft.ShapeArray, Is.EqualTo(new[] { 1, 1, 4, 4 }));
        var v = topLeft.ToArray();
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) Assert.That(v[r * 4 + c], Is.EqualTo(r >= 2 && c >= 2 ? 1f : 0f), $"({r},{c})");
        Assert.That(Augment.PadCrop(x, 2, 2, 2).ToArray(), Is.All.EqualTo(1f), "the centre crop is the image");
    }

    [Test]
    public void RandomCropIsAShiftedWindowOfEachImage()
    {
        var x = Tensor.Normal([6, 2, 5, 5], 0, 1, new Generator(4));
        var cropped = new RandomCrop(2).Apply(x, new Generator(11));
        Assert.That(cropped.ShapeArray, Is.EqualTo(x.ShapeArray));
        for (int i = 0; i < 6; i++)
        {
            using var image = x.Narrow(0, i, 1).Contiguous();
            var actual = cropped.Narrow(0, i, 1).ToArray();
            bool found = false;
            for (int top = 0; top <= 4 && !found; top++)
                for (int left = 0; left <= 4 && !found; left++)
                    found = Augment.PadCrop(image, 2, top, left).ToArray().SequenceEqual(actual);
            Assert.That(found, $"image {i} is not a padded crop of the input");
        }
    }
}
