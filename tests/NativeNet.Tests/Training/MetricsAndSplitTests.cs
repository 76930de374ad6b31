using NativeNet.Data;
using NativeNet.Training;
using NUnit.Framework;

namespace NativeNet.Tests.Training;

public class ClassificationMetricsTests
{
    [Test]
    public void ConfusionPrecisionRecallAndTopKAgreeWithACountByHand()
    {
        var g = new Generator(2);
        const int n = 200, classes = 4;
        var scores = new float[n * classes];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = g.NextInt(classes);
            for (int c = 0; c < classes; c++) scores[i * classes + c] = (float)g.NextNormal() + (c == labels[i] ? 1f : 0f);
        }
        var metrics = new ClassificationMetrics(classes, topK: 2);
        metrics.Add(scores.AsSpan(0, 120 * classes), labels.AsSpan(0, 120), 12.5);
        metrics.Add(scores.AsSpan(120 * classes), labels.AsSpan(120), 7.5);

        // The same figures from sorting each row (an independent route to the prediction and the rank).
        var confusion = new long[classes, classes];
        int top2 = 0;
        for (int i = 0; i < n; i++)
        {
            var ranked = Enumerable.Range(0, classes).OrderByDescending(c => scores[i * classes + c]).ToArray();
            confusion[labels[i], ranked[0]]++;
            if (ranked.Take(2).Contains(labels[i])) top2++;
        }
        for (int t = 0; t < classes; t++)
            for (int p = 0; p < classes; p++)
                Assert.That(metrics.Confusion(t, p), Is.EqualTo(confusion[t, p]));
        long correct = Enumerable.Range(0, classes).Sum(c => confusion[c, c]);
        Assert.That(metrics.Accuracy, Is.EqualTo((double)correct / n));
        Assert.That(metrics.TopKAccuracy, Is.EqualTo((double)top2 / n));
        Assert.That(metrics.Loss, Is.EqualTo(20.0 / n));
        for (int c = 0; c < classes; c++)
        {
            long predicted = Enumerable.Range(0, classes).Sum(t => confusion[t, c]);
            long actual = Enumerable.Range(0, classes).Sum(p => confusion[c, p]);
            Assert.That(metrics.Precision(c), Is.EqualTo((double)confusion[c, c] / predicted));
            Assert.That(metrics.Recall(c), Is.EqualTo((double)confusion[c, c] / actual));
        }
        Assert.That(metrics.ConfusionMatrix().Sum(row => row.Sum()), Is.EqualTo(n));
        Assert.That(metrics.Get("top_k_accuracy"), Is.EqualTo(metrics.TopKAccuracy));
    }

    [Test]
    public void BadInputIsRejectedWithTheShapes()
    {
        var metrics = new ClassificationMetrics(3);
        Assert.That(metrics.TopK, Is.EqualTo(3), "k is capped at the class count");
        Assert.That(() => metrics.Add(new float[5], new int[2], 0), Throws.ArgumentException.With.Message.Contains("5 scores are not 2 rows of 3 classes"));
        Assert.That(() => metrics.Add(new float[3], [7], 0), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("label 7"));
        Assert.That(double.IsNaN(metrics.Precision(0)), "no predictions yet");
    }
}

public class DevSplitTests
{
    [Test]
    public void SplitIsStratifiedDisjointCompleteAndSeeded()
    {
        int[] perClass = [10, 25, 55, 3];
        var labels = perClass.SelectMany((count, c) => Enumerable.Repeat(c, count)).ToArray();
        new Generator(1).Shuffle(labels.AsSpan());
        var (train, dev) = DevSplit.Stratified(labels, 0.2, seed: 7);
        Assert.That(train.Concat(dev).Order(), Is.EqualTo(Enumerable.Range(0, labels.Length)));
        Assert.That(train, Is.Ordered);
        Assert.That(dev, Is.Ordered);
        for (int c = 0; c < perClass.Length; c++)
            Assert.That(dev.Count(i => labels[i] == c), Is.EqualTo((int)Math.Round(0.2 * perClass[c], MidpointRounding.AwayFromZero)), $"class {c}");
        Assert.That(DevSplit.Stratified(labels, 0.2, seed: 7).Dev, Is.EqualTo(dev));
        Assert.That(DevSplit.Stratified(labels, 0.2, seed: 8).Dev, Is.Not.EqualTo(dev));
        Assert.That(() => DevSplit.Stratified(labels, 1.0, 0), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("[0, 1)"));
    }

    [Test]
    public void SubsetDatasetReadsTheParentsSamples()
    {
        var features = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        var data = new TensorDataset(features, [0, 1, 0, 1, 2, 2], 2);
        var (train, dev) = DevSplit.Stratified(data, 0.5, seed: 1);
        Assert.That(dev.Count, Is.EqualTo(3));
        foreach (var subset in new[] { train, dev })
            for (int i = 0; i < subset.Count; i++)
                Assert.That(subset.Get(i), Is.EqualTo(data.Get(subset.Indices[i])).Using<(float[], int)>((a, b) => a.Item1.SequenceEqual(b.Item1) && a.Item2 == b.Item2));
        Assert.That(() => new SubsetDataset(data, [6]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void LoaderStartingMidEpochYieldsTheTailOfThatEpoch([Values(0, 2)] int prefetch)
    {
        var features = Enumerable.Range(0, 40).Select(i => (float)i).ToArray();
        using var loader = new DataLoader(new TensorDataset(features, Enumerable.Range(0, 20).ToArray(), 2), 3, seed: 4, prefetch: prefetch);
        var all = loader.Epoch(1).Select(b => { using (b.X) using (b.Y) return b.Y.ToArray<int>(); }).ToList();
        var tail = loader.Epoch(1, 4).Select(b => { using (b.X) using (b.Y) return b.Y.ToArray<int>(); }).ToList();
        Assert.That(tail, Is.EqualTo(all.Skip(4)));
        Assert.That(loader.Epoch(1, loader.BatchesPerEpoch), Is.Empty);
        Assert.That(() => loader.Epoch(0, loader.BatchesPerEpoch + 1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
