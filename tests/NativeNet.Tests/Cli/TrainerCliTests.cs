using System.Text.Json;
using NativeNet.Cli;
using NativeNet.Data;
using NativeNet.IO;
using NUnit.Framework;
using static NativeNet.Tests.CliRun;

namespace NativeNet.Tests.Cli;

/// <summary>train --dev-fraction/--resume, tune and eval --report on tiny slices of Fashion-MNIST.</summary>
public class TrainerCliTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = Directory.CreateTempSubdirectory("nativenet-trainer-cli").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static void RequireFashionMnist()
    {
        if (!File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte.gz")) && !File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte")))
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist)");
    }

    /// <summary>The per-epoch figures of a metrics.json without the timings.</summary>
    private static List<string> Figures(string run)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        return doc.RootElement.GetProperty("epochs").EnumerateArray().Select(e => string.Join(" ",
            new[] { "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "dev_loss", "dev_acc" }.Select(k => e.GetProperty(k).GetRawText()))).ToList();
    }

    [Test]
    public void ResumedRunEndsWithTheSameMetricsAndWeightsAsAnUninterruptedOne()
    {
        RequireFashionMnist();
        string[] common = ["train", "--model", "mlp", "--epochs", "2", "--limit", "600", "--batch", "64", "--threads", "2", "--dev-fraction", "0.2", "--json"];
        string whole = Path.Combine(_dir, "whole"), parts = Path.Combine(_dir, "parts");
        Assert.That(Run([.. common, "--out", whole]).Code, Is.Zero);
        var first = Run([.. common, "--out", parts, "--max-steps", "11", "--checkpoint-every", "4"]);
        Assert.That(first.Code, Is.Zero, first.Error);
        Assert.That(Checkpoint.ReadMetadata(Path.Combine(parts, TrainCommand.ResumeFile))["trainer.step"], Is.EqualTo("11"));
        var second = Run("train", "--resume", parts, "--json");
        Assert.That(second.Code, Is.Zero, second.Error);
        Assert.That(Figures(parts), Is.EqualTo(Figures(whole)));
        Assert.That(Figures(whole), Has.Count.EqualTo(2));
        var a = Checkpoint.Load(Path.Combine(whole, "model.safetensors"));
        var b = Checkpoint.Load(Path.Combine(parts, "model.safetensors"));
        Assert.That(b.Keys, Is.EquivalentTo(a.Keys));
        foreach (var (name, t) in a)
        {
            if (t.DType == DType.Int32) Assert.That(b[name].ToArray<int>(), Is.EqualTo(t.ToArray<int>()), name);
            else Assert.That(b[name].ToArray<float>(), Is.EqualTo(t.ToArray<float>()), name);
        }
        AssertOneLineError(Run("train", "--resume", parts, "--lr", "0.1"), "unknown option --lr");
        AssertOneLineError(Run("train", "--resume", Path.Combine(_dir, "none")), "nothing to resume");
    }

    [Test]
    public void DevSplitAndEarlyStoppingFlagsAreCheckedUpFront()
    {
        AssertOneLineError(Run("train", "--model", "mlp", "--dev-fraction", "1.5"), "--dev-fraction must be in (0, 1)");
        AssertOneLineError(Run("train", "--model", "mlp", "--early-stop", "2"), "give --dev-fraction F too");
        AssertOneLineError(Run("train", "--model", "charlstm", "--dev-fraction", "0.1"), "charlstm holds out");
        AssertOneLineError(Run("tune", "--model", "mlp"), "at least one search space");
        AssertOneLineError(Run("tune", "--lr", "log:0:1"), "positive low end");
        AssertOneLineError(Run("tune", "--lr", "exp:1:2"), "expected log:LOW:HIGH");
    }

    [Test]
    public void TuneHalvesTrialsAndWritesTableJsonAndChart()
    {
        // Reproducibility of the search itself is tested on synthetic data in SearchTests; this checks the command's outputs.
        RequireFashionMnist();
        string dir = Path.Combine(_dir, "t1");
        var tune = Run("tune", "--model", "mlp", "--limit", "500", "--trials", "4", "--budget-steps", "8", "--lr", "log:1e-4:1e-2",
            "--weight-decay", "log:1e-6:1e-3", "--batch", "choice:16,32", "--threads", "2", "--seed", "3", "--out", dir);
        Assert.That(tune.Code, Is.Zero, tune.Error);
        Assert.That(tune.Out, Does.Contain("│ rank │ trial │"));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "tune.json")));
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.That(results.Select(r => r.GetProperty("steps").GetInt32()), Is.EqualTo(new[] { 8, 4, 2, 2 }), "successive halving: 4 trials to 2 steps, 2 to 4, 1 to 8");
        Assert.That(results.Select(r => r.GetProperty("batch").GetDouble()), Has.All.AnyOf(16.0, 32.0));
        var survivors = results.Where(r => r.GetProperty("steps").GetInt32() >= 4).Select(r => r.GetProperty("rungs")[0].GetProperty("dev_acc").GetDouble()).ToList();
        var halvedOut = results.Where(r => r.GetProperty("steps").GetInt32() == 2).Select(r => r.GetProperty("dev_acc").GetDouble()).ToList();
        Assert.That(survivors.Min(), Is.GreaterThanOrEqualTo(halvedOut.Max()), "the better half of the first rung went on");
        var texts = ChartTests.SvgTexts(File.ReadAllText(Path.Combine(dir, "tune.svg")));
        Assert.That(texts, Is.SupersetOf(new[] { "lr (log scale)", "weight_decay (log scale)", "batch", "full budget", "stopped by halving" }));
        ChartTests.AssertPng(File.ReadAllBytes(Path.Combine(dir, "tune.png")));
    }

    [Test]
    public void EvalReportWritesTheConfusionMatrixAndTheWorstImages()
    {
        RequireFashionMnist();
        string run = Path.Combine(_dir, "mlp");
        Assert.That(Run("train", "--model", "mlp", "--epochs", "1", "--limit", "400", "--batch", "64", "--threads", "2", "--out", run, "--json").Code, Is.Zero);
        var eval = Run("eval", "--checkpoint", Path.Combine(run, "model.safetensors"), "--report", "--worst", "5");
        Assert.That(eval.Code, Is.Zero, eval.Error);
        Assert.That(eval.Out, Does.Contain("confusion matrix").And.Contain("precision"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        var confusion = report.RootElement.GetProperty("confusion").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        Assert.That(confusion.Sum(r => r.Sum()), Is.EqualTo(400));
        double diagonal = Enumerable.Range(0, 10).Sum(c => confusion[c][c]);
        Assert.That(report.RootElement.GetProperty("test_acc").GetDouble(), Is.EqualTo(diagonal / 400));
        Assert.That(report.RootElement.GetProperty("worst").GetArrayLength(), Is.EqualTo(5));
        ChartTests.AssertPng(File.ReadAllBytes(Path.Combine(run, "worst.png")));
        ChartTests.AssertPng(File.ReadAllBytes(Path.Combine(run, "confusion.png")));
        var worstNames = report.RootElement.GetProperty("worst").EnumerateArray().Select(w => w.GetProperty("true").GetString()!).ToList();
        Assert.That(ChartTests.SvgTexts(File.ReadAllText(Path.Combine(run, "worst.svg"))), Is.SupersetOf(worstNames), "each image is labelled with its true class");
        Assert.That(ChartTests.SvgTexts(File.ReadAllText(Path.Combine(run, "confusion.svg"))), Is.SupersetOf(report.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)));
    }
}
