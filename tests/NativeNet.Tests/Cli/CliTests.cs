using System.Text.Json;
using System.Xml.Linq;
using NativeNet.Cli;
using NativeNet.Data;
using NUnit.Framework;
using static NativeNet.Tests.CliRun;

namespace NativeNet.Tests.Cli;

public class CliTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = Directory.CreateTempSubdirectory("nativenet-cli").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static bool HaveFashionMnist => File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte.gz"))
        || File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte"));

    [Test]
    public void UnknownFlagIsOneLineUsageError()
    {
        var result = Run("train", "--model", "mlp", "--frobnicate", "3");
        AssertOneLineError(result, "--frobnicate");
        Assert.That(result.Code, Is.EqualTo(2));
    }

    [TestCase("--epochs", "abc", "--epochs must be an integer")]
    [TestCase("--model", "vgg", "--model must be one of")]
    [TestCase("--lr", "-1", "--lr must be a positive number")]
    [TestCase("--optimizer", "lbfgs", "--optimizer must be one of")]
    public void BadValueIsOneLineUsageError(string flag, string value, string message)
    {
        var result = Run("train", flag, value);
        AssertOneLineError(result, message);
        Assert.That(result.Code, Is.EqualTo(2));
    }

    [Test]
    public void UnknownCommandAndBenchAreUsageErrors()
    {
        Assert.That(Run("fly").Code, Is.EqualTo(2));
        AssertOneLineError(Run("bench", "fft"), "unknown benchmark 'fft'");
        AssertOneLineError(Run("bench", "gemm", "--m", "0"), "--m must be between");
    }


    [TestCase("tn")]
    [TestCase("NT")]
    public void BenchGemmTakesTheTransposeCaseInEitherCaseAndPrintsOneJsonObject(string op)
    {
        var result = Run("bench", "gemm", "--backend", "naive", "--m", "3", "--n", "5", "--k", "7", "--op", op,
            "--repeats", "1", "--min-time", "0", "--json");
        Assert.That(result.Code, Is.Zero, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        Assert.That(json.RootElement.GetProperty("gemm_op").GetString(), Is.EqualTo(op.ToUpperInvariant()));
        Assert.That(json.RootElement.GetProperty("median_ms").GetDouble(), Is.GreaterThan(0));
        AssertOneLineError(Run("bench", "gemm", "--op", "xx"), "--op must be one of");
        AssertOneLineError(Run("bench", "gemm", "--min-time", "-1"), "--min-time must be");
    }

    [Test]
    public void BenchConv2dDepthwiseReportsItsGroupsAndRejectsGroupsThatDoNotDivide()
    {
        var result = Run("bench", "conv2d", "--backend", "simd", "--threads", "1", "--shape", "depthwise", "--pass", "fwdbwd",
            "--repeats", "1", "--min-time", "0", "--json");
        Assert.That(result.Code, Is.Zero, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        Assert.That(json.RootElement.GetProperty("groups").GetInt32(), Is.EqualTo(64));
        Assert.That(json.RootElement.GetProperty("dx").GetString(), Is.EqualTo("yes"));
        AssertOneLineError(Run("bench", "conv2d", "--shape", "conv2", "--groups", "3"), "--groups 3 must divide the 32 input channels and the 64 filters");
    }

    [TestCase("lstm", "fwd")]
    [TestCase("gru", "fwdbwd")]
    public void BenchRecurrentPrintsOneJsonObjectWithTheShape(string cell, string pass)
    {
        var result = Run("bench", cell, "--backend", "simd", "--threads", "1", "--pass", pass, "--seq", "3", "--batch", "2", "--input", "5",
            "--hidden", "4", "--layers", "2", "--repeats", "1", "--min-time", "0", "--json");
        Assert.That(result.Code, Is.Zero, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.That(root.GetProperty("op").GetString(), Is.EqualTo(cell));
        Assert.That(root.GetProperty("pass").GetString(), Is.EqualTo(pass));
        Assert.That(root.GetProperty("layers").GetInt32(), Is.EqualTo(2));
        Assert.That(root.GetProperty("hidden").GetInt32(), Is.EqualTo(4));
        Assert.That(root.GetProperty("median_ms").GetDouble(), Is.GreaterThan(0));
        AssertOneLineError(Run("bench", cell, "--pass", "back"), "--pass must be one of");
        AssertOneLineError(Run("bench", cell, "--layers", "0"), "--layers must be between");
    }

    [Test]
    public void HelpAnywherePrintsTheUsage()
    {
        var result = Run("train", "--help");
        Assert.That(result.Code, Is.Zero);
        Assert.That(result.Out, Does.Contain("usage: nativenet"));
    }
    [Test]
    public void MissingDatasetDirectoryIsOneLineError()
    {
        var result = Run("train", "--model", "mlp", "--epochs", "1", "--data", Path.Combine(_dir, "no-such-dir"), "--out", Path.Combine(_dir, "run"));
        AssertOneLineError(result, "Fashion-MNIST file train-images-idx3-ubyte(.gz) not found");
        Assert.That(result.Code, Is.EqualTo(1));
    }

    [Test]
    public void CorruptOrMissingCheckpointIsOneLineError()
    {
        string corrupt = Path.Combine(_dir, "model.safetensors");
        File.WriteAllBytes(corrupt, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, (byte)'{', (byte)'}']);
        AssertOneLineError(Run("eval", "--checkpoint", corrupt), "not a valid safetensors file");
        AssertOneLineError(Run("eval", "--checkpoint", Path.Combine(_dir, "missing.safetensors")), "not found");
        AssertOneLineError(Run("eval"), "--checkpoint");
    }

    [Test]
    public void TrainWritesOutputsAndEvalReproducesTheAccuracy()
    {
        if (!HaveFashionMnist) Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist)");
        string run = Path.Combine(_dir, "mlp");
        var train = Run("train", "--model", "mlp", "--epochs", "1", "--limit", "512", "--batch", "64", "--threads", "2", "--out", run, "--json");
        Assert.That(train.Code, Is.Zero, train.Error);
        var line = train.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single();
        using var epoch = JsonDocument.Parse(line);
        double reported = epoch.RootElement.GetProperty("test_acc").GetDouble();
        Assert.That(epoch.RootElement.GetProperty("epoch").GetInt32(), Is.EqualTo(1));
        Assert.That(epoch.RootElement.GetProperty("train_loss").GetDouble(), Is.GreaterThan(0));
        Assert.That(reported, Is.GreaterThan(0.3), "one epoch on 512 images is well above chance");

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        Assert.That(metrics.RootElement.GetProperty("config").GetProperty("model").GetString(), Is.EqualTo("mlp"));
        Assert.That(metrics.RootElement.GetProperty("epochs").GetArrayLength(), Is.EqualTo(1));
        Assert.That(ChartTests.SvgTexts(File.ReadAllText(Path.Combine(run, "metrics.svg"))), Does.Contain("train loss").And.Contain("test accuracy"));
        ChartTests.AssertPng(File.ReadAllBytes(Path.Combine(run, "metrics.png")));

        string checkpoint = Path.Combine(run, "model.safetensors");
        var meta = NativeNet.IO.Checkpoint.ReadMetadata(checkpoint);
        Assert.That(meta["model"], Is.EqualTo("mlp"));
        using (var tensors = new DisposeAll(NativeNet.IO.Checkpoint.Load(checkpoint)))
        {
            Assert.That(tensors.Items.Keys, Does.Contain("model.1.weight"));
            Assert.That(tensors.Items.Keys, Does.Contain("optimizer.1.weight.exp_avg"));
        }

        var eval = Run("eval", "--checkpoint", checkpoint, "--json");
        Assert.That(eval.Code, Is.Zero, eval.Error);
        using var evaluated = JsonDocument.Parse(eval.Out);
        Assert.That(evaluated.RootElement.GetProperty("test_acc").GetDouble(), Is.EqualTo(reported), "eval must reproduce the accuracy train reported");
        Assert.That(evaluated.RootElement.GetProperty("count").GetInt32(), Is.EqualTo(512));
    }

    [Test]
    public void CharLstmTrainsOnATextAndEvalReproducesTheAccuracy()
    {
        var (run, lines, reported) = TrainOnARepeatedSentence("charlstm", "--hidden", "32", "--embedding", "8");
        Assert.That(lines, Has.Length.EqualTo(2));
        AssertEvalReproduces(run, reported);

        // Throughput in training characters per second: 8 streams of (1620 − 1) / 8 = 202 characters per epoch.
        const int charactersPerEpoch = 8 * 202;
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        var epochs = metrics.RootElement.GetProperty("epochs").EnumerateArray().ToArray();
        foreach (var e in epochs)
        {
            double perSecond = e.GetProperty("chars_per_s").GetDouble(), seconds = e.GetProperty("seconds").GetDouble();
            Assert.That(perSecond, Is.EqualTo(e.GetProperty("samples_per_s").GetDouble()));
            Assert.That(perSecond * seconds, Is.EqualTo(charactersPerEpoch).Within(5).Percent);
        }
        double trainSeconds = metrics.RootElement.GetProperty("train_seconds").GetDouble();
        Assert.That(trainSeconds, Is.EqualTo(epochs.Sum(e => e.GetProperty("seconds").GetDouble())).Within(0.002));
        Assert.That(trainSeconds, Is.LessThan(metrics.RootElement.GetProperty("total_seconds").GetDouble()), "evaluation and sampling are not training time");
        Assert.That(metrics.RootElement.GetProperty("chars_per_s").GetDouble() * trainSeconds, Is.EqualTo(2 * charactersPerEpoch).Within(5).Percent);
    }

    [Test]
    public void TransformerTrainsOnATextAndEvalReproducesTheAccuracy()
    {
        var (run, _, reported) = TrainOnARepeatedSentence("transformer", "--embedding", "16");
        AssertEvalReproduces(run, reported);
    }

    [Test]
    public void CharGptTrainsAFewStepsAndEvalReproducesTheAccuracy()
    {
        var (run, _, reported) = TrainOnARepeatedSentence("chargpt", "--embedding", "16", "--layers", "1", "--heads", "2", "--warmup", "3");
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        var config = metrics.RootElement.GetProperty("config");
        Assert.That((config.GetProperty("optimizer").GetString(), config.GetProperty("layers").GetInt32(), config.GetProperty("warmup").GetInt32()),
            Is.EqualTo(("adamw", 1, 3)));
        AssertEvalReproduces(run, reported);

        string text = Path.Combine(_dir, "text.txt");
        var bad = Run("train", "--model", "chargpt", "--text", text, "--embedding", "18", "--heads", "4", "--out", Path.Combine(_dir, "bad"));
        Assert.That(bad.Code, Is.Not.Zero);
        Assert.That(bad.Error, Does.Contain("--embedding 18 must be divisible by --heads 4"));
    }

    [Test]
    public void CharGptStoppedByAStepBudgetResumesOnTheSameSchedule()
    {
        string text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 20)));
        string[] common = ["train", "--model", "chargpt", "--text", text, "--epochs", "2", "--batch", "4", "--seq-len", "16",
            "--embedding", "8", "--layers", "1", "--heads", "2", "--warmup", "2", "--lr", "0.01", "--threads", "1", "--json"];
        string whole = Path.Combine(_dir, "whole"), parts = Path.Combine(_dir, "parts");
        Assert.That(Run([.. common, "--out", whole]).Code, Is.Zero);
        var first = Run([.. common, "--out", parts, "--max-steps", "5"]);
        Assert.That(first.Code, Is.Zero, first.Error);
        var second = Run("train", "--resume", parts, "--json");
        Assert.That(second.Code, Is.Zero, second.Error);
        static string Losses(string run)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
            return string.Join(" ", doc.RootElement.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("train_loss").GetRawText() + "/" + e.GetProperty("test_loss").GetRawText()));
        }
        Assert.That(Losses(parts), Is.EqualTo(Losses(whole)));
    }

    [Test]
    public void CharGptStopsAtItsTimeBudgetWithDropout()
    {
        string text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 20)));
        string run = Path.Combine(_dir, "budget");
        var train = Run("train", "--model", "chargpt", "--text", text, "--time-budget", "1e-6", "--batch", "4", "--seq-len", "16",
            "--embedding", "8", "--layers", "1", "--heads", "2", "--dropout", "0.3", "--threads", "1", "--out", run, "--json");
        Assert.That(train.Code, Is.Zero, train.Error);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        var config = metrics.RootElement.GetProperty("config");
        Assert.That((config.GetProperty("time_budget").GetDouble(), config.GetProperty("dropout").GetDouble(), config.GetProperty("epochs").GetInt32()),
            Is.EqualTo((1e-6, 0.3, 10_000)), "a time budget without --epochs leaves the epochs unbounded");
        Assert.That(metrics.RootElement.GetProperty("epochs").GetArrayLength(), Is.EqualTo(1), "the first epoch crosses the budget and ends the run");
        Assert.That(File.Exists(Path.Combine(run, "model.safetensors")));

        var bad = Run("train", "--model", "chargpt", "--text", text, "--dropout", "1", "--out", Path.Combine(_dir, "bad"));
        Assert.That((bad.Code, bad.Error), Is.Not.EqualTo((0, "")));
        Assert.That(bad.Error, Does.Contain("--dropout must be in [0, 1)"));
        var zero = Run("train", "--model", "charlstm", "--text", text, "--time-budget", "0", "--out", Path.Combine(_dir, "bad"));
        Assert.That(zero.Error, Does.Contain("--time-budget must be a positive number"));
    }

    /// <summary>
    /// Trains a character model for two epochs on a repeated sentence (the model's own flags in <paramref name="modelArgs"/>),
    /// checks that it succeeded, printed a sample in its last epoch line and predicts the sentence well; returns the run
    /// folder, the epoch lines and the test accuracy it reported.
    /// </summary>
    private (string Run, string[] Lines, double Reported) TrainOnARepeatedSentence(string model, params string[] modelArgs)
    {
        string text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 40)));
        string run = Path.Combine(_dir, model);
        var train = Run(["train", "--model", model, "--text", text, "--epochs", "2", "--batch", "8", "--seq-len", "16",
            .. modelArgs, "--lr", "0.01", "--out", run, "--json"]);
        Assert.That(train.Code, Is.Zero, train.Error);
        var lines = train.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var last = JsonDocument.Parse(lines[^1]);
        Assert.That(last.RootElement.GetProperty("sample").GetString(), Has.Length.GreaterThan(100), "the last epoch prints a sample");
        double reported = last.RootElement.GetProperty("test_acc").GetDouble();
        Assert.That(reported, Is.GreaterThan(0.3), "a repeated sentence is easy to predict");
        return (run, lines, reported);
    }

    /// <summary><c>eval</c> of the run's checkpoint reports exactly the test accuracy <c>train</c> reported.</summary>
    private void AssertEvalReproduces(string run, double reported)
    {
        var eval = Run("eval", "--checkpoint", Path.Combine(run, "model.safetensors"), "--json");
        Assert.That(eval.Code, Is.Zero, eval.Error);
        using var evaluated = JsonDocument.Parse(eval.Out);
        Assert.That(evaluated.RootElement.GetProperty("test_acc").GetDouble(), Is.EqualTo(reported));
    }

    private sealed class DisposeAll(Dictionary<string, Tensor> items) : IDisposable
    {
        public Dictionary<string, Tensor> Items { get; } = items;
        public void Dispose() { foreach (var t in Items.Values) t.Dispose(); }
    }
}
