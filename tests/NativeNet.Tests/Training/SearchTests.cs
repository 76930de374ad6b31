using NativeNet.Data;
using NativeNet.Nn;
using NativeNet.Optim;
using NativeNet.Training;
using NUnit.Framework;

namespace NativeNet.Tests.Training;

public class SearchTests
{
    [Test]
    public void SpacesParseAndSampleWithinTheirRanges()
    {
        var log = SearchDimension.Parse("lr", "log:1e-4:1e-2");
        var uniform = SearchDimension.Parse("p", "uniform:0.1:0.5");
        var choice = SearchDimension.Parse("batch", "choice:64,128,256");
        Assert.That(log.IsLogarithmic && !uniform.IsLogarithmic && !choice.IsLogarithmic);
        var search = new RandomSearch([log, uniform, choice], seed: 1);
        var samples = Enumerable.Range(0, 400).Select(search.Sample).ToList();
        Assert.That(samples.Select(s => s["lr"]), Has.All.InRange(1e-4, 1e-2));
        Assert.That(samples.Select(s => s["p"]), Has.All.InRange(0.1, 0.5));
        Assert.That(samples.Select(s => s["batch"]).Distinct().Order(), Is.EqualTo(new[] { 64.0, 128.0, 256.0 }));
        // Log-uniform: about half the draws below the geometric midpoint 1e-3 (400 draws: 5 sigma is ±50).
        Assert.That(samples.Count(s => s["lr"] < 1e-3), Is.InRange(150, 250));
        Assert.That(() => SearchDimension.Parse("lr", "log:1e-2:1e-4"), Throws.TypeOf<FormatException>().With.Message.Contains("below the high end"));
        Assert.That(() => new RandomSearch([log, SearchDimension.Parse("lr", "uniform:0:1")], 0), Throws.ArgumentException.With.Message.Contains("'lr' appears twice"));
    }

    [Test]
    public void TrialValuesDependOnlyOnSeedAndIndex()
    {
        var a = new RandomSearch([SearchDimension.Parse("lr", "log:1e-4:1e-2")], seed: 5);
        var b = new RandomSearch([SearchDimension.Parse("lr", "log:1e-4:1e-2")], seed: 5);
        Assert.That(Enumerable.Range(0, 8).Select(t => b.Sample(7 - t)["lr"]).Reverse(), Is.EqualTo(Enumerable.Range(0, 8).Select(t => a.Sample(t)["lr"])));
        Assert.That(new RandomSearch(a.Dimensions, seed: 6).Sample(0)["lr"], Is.Not.EqualTo(a.Sample(0)["lr"]));
    }

    [Test]
    public void HalvingKeepsTheBestHalfAtEveryRung()
    {
        Assert.That(SuccessiveHalving.Rungs(2000, 16, 2, maxRungs: 4), Is.EqualTo(new long[] { 250, 500, 1000, 2000 }));
        Assert.That(SuccessiveHalving.Rungs(2000, 16, 2), Is.EqualTo(new long[] { 125, 250, 500, 1000, 2000 }));
        Assert.That(SuccessiveHalving.Rungs(100, 1), Is.EqualTo(new long[] { 100 }));
        var quality = new double[] { 0.3, 0.9, 0.1, 0.7, 0.5, 0.8, 0.2, 0.6 };
        var calls = new List<(int, long)>();
        var dropped = new List<int>();
        var history = SuccessiveHalving.Run(8, [10, 20, 40], (t, steps) => { calls.Add((t, steps)); return quality[t] * steps; }, eliminated: dropped.Add);
        Assert.That(dropped.Order(), Is.EqualTo(Enumerable.Range(0, 8)), "every trial is released once");
        Assert.That(dropped.Take(4), Is.EquivalentTo(Enumerable.Range(0, 8).OrderByDescending(t => quality[t]).Skip(4)), "the worst half first");
        var byQuality = Enumerable.Range(0, 8).OrderByDescending(t => quality[t]).ToList();
        Assert.That(calls.Where(c => c.Item2 == 20).Select(c => c.Item1), Is.EqualTo(byQuality.Take(4).Order()));
        Assert.That(calls.Where(c => c.Item2 == 40).Select(c => c.Item1), Is.EqualTo(byQuality.Take(2).Order()));
        Assert.That(history.Select(h => h.Count), Is.EqualTo(Enumerable.Range(0, 8).Select(t => byQuality.IndexOf(t) switch { < 2 => 3, < 4 => 2, _ => 1 })));
    }

    [Test]
    public void ASearchOverRealTrainersIsReproducible()
    {
        static List<string> Search()
        {
            var g = new Generator(1);
            var features = Enumerable.Range(0, 60 * 4).Select(i => (float)(g.NextNormal() + (i / 4 % 3 == i % 4 ? 1.5 : 0))).ToArray();
            var labels = Enumerable.Range(0, 60).Select(i => i % 3).ToArray();
            var (train, dev) = DevSplit.Stratified(new TensorDataset(features, labels, 4), 0.25, seed: 2);
            using var devLoader = new DataLoader(dev, 100, shuffle: false, prefetch: 0);
            var search = new RandomSearch([SearchDimension.Parse("lr", "log:1e-3:1"), SearchDimension.Parse("batch", "choice:4,8")], seed: 9);
            var runs = new List<(Module, Optimizer, DataLoader, Trainer)>();
            for (int t = 0; t < 4; t++)
            {
                var values = search.Sample(t);
                var model = new Sequential(new Linear(4, 6, generator: new Generator(3)), new ReLU(), new Linear(6, 3, generator: new Generator(4)));
                var optimizer = new Sgd(model.NamedParameters(), values["lr"]);
                var loader = new DataLoader(train, (int)values["batch"], seed: 1, prefetch: 0);
                runs.Add((model, optimizer, loader, new Trainer(model, optimizer, loader, devLoader, new TrainerOptions { Epochs = 0, MaxSteps = 16 })));
            }
            try
            {
                var history = SuccessiveHalving.Run(4, [4, 8, 16], (t, steps) =>
                {
                    runs[t].Item4.Run(untilStep: steps);
                    return runs[t].Item4.Evaluate(devLoader).Loss * -1;
                });
                return history.Select((h, t) => $"{t}: " + string.Join(" ", h.Select(r => $"{r.Steps}:{r.Score:R}"))).ToList();
            }
            finally
            {
                foreach (var (model, optimizer, loader, _) in runs)
                {
                    loader.Dispose();
                    optimizer.Dispose();
                    model.Dispose();
                }
            }
        }
        var first = Search();
        Assert.That(Search(), Is.EqualTo(first));
        Assert.That(first.Count(line => line.Contains("16:")), Is.EqualTo(1));
    }
}
