using System.Buffers.Binary;
using System.Xml.Linq;
using NativeNet.Cli;
using NativeNet.Training;
using NUnit.Framework;

namespace NativeNet.Tests.Cli;

/// <summary>The ScottPlot/SkiaSharp charts: valid PNG (signature, IHDR size) and SVG (XML) carrying their series' legend texts.</summary>
public class ChartTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = Directory.CreateTempSubdirectory("nativenet-charts").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    /// <summary>Checks the PNG signature and IHDR chunk; returns the image's width and height.</summary>
    internal static (int Width, int Height) AssertPng(byte[] png)
    {
        Assert.That(png, Has.Length.GreaterThan(33), "a PNG has at least a signature and an IHDR chunk");
        Assert.That(png.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "PNG signature");
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(8)), Is.EqualTo(13), "IHDR length");
        Assert.That(System.Text.Encoding.ASCII.GetString(png, 12, 4), Is.EqualTo("IHDR"));
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    /// <summary>Parses the SVG and returns the trimmed contents of its text elements.</summary>
    internal static List<string> SvgTexts(string svg)
    {
        var doc = XDocument.Parse(svg);
        Assert.That(doc.Root!.Name.LocalName, Is.EqualTo("svg"));
        return doc.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToList();
    }

    private static readonly EpochMetrics[] s_epochs =
    [
        new(1, 0.6, 0.8, 0.5, 0.85, 10, 1, 6000, null, DevLoss: 0.55, DevAccuracy: 0.82),
        new(2, 0.4, 0.86, 0.45, 0.88, 10, 1, 6000, "a <sample> & \"quotes\"", DevLoss: 0.47, DevAccuracy: 0.87),
        new(3, 0.3, 0.9, 0.4, 0.89, 10, 1, 6000, null, DevLoss: 0.42, DevAccuracy: 0.88),
    ];

    [Test]
    public void TrainingChartHasLossAndAccuracyForTrainDevAndTest()
    {
        var chart = Charts.Training("cnn <adam> & friends", s_epochs);
        var (png, svg) = chart.Save(Path.Combine(_dir, "metrics"));
        Assert.That(AssertPng(File.ReadAllBytes(png)), Is.EqualTo((chart.Width, chart.Height)));
        var texts = SvgTexts(File.ReadAllText(svg));
        Assert.That(texts, Is.SupersetOf(new[] { "train loss", "dev loss", "test loss", "train accuracy", "dev accuracy", "test accuracy", "epoch", "cnn <adam> & friends: loss" }));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "metrics.png", "metrics.svg" }), "no temporary file is left behind");
    }

    [Test]
    public void TrainingChartWithoutDevSetOrWithOneEpochStillDraws()
    {
        var noDev = s_epochs.Select(e => e with { DevLoss = null, DevAccuracy = null }).ToArray();
        var texts = SvgTexts(Charts.Training("mlp", noDev).ToSvg());
        Assert.That(texts, Does.Contain("test accuracy").And.Not.Contain("dev accuracy"));
        AssertPng(Charts.Training("one epoch", s_epochs[..1]).ToPng());
        AssertPng(Charts.Training("no epoch", []).ToPng());
    }

    [Test]
    public void TuneChartHasOnePanelPerParameterAndALogAxisForLogSpaces()
    {
        var dims = new SearchDimension[] { new LogUniformDimension("lr", 1e-4, 1e-2), new ChoiceDimension("batch", [64, 128]) };
        var trials = new List<(IReadOnlyDictionary<string, double>, double, bool)>
        {
            (new Dictionary<string, double> { ["lr"] = 3e-4, ["batch"] = 64 }, 0.81, true),
            (new Dictionary<string, double> { ["lr"] = 2e-3, ["batch"] = 128 }, 0.74, false),
            (new Dictionary<string, double> { ["lr"] = 8e-3, ["batch"] = 64 }, 0.7, false),
        };
        var chart = Charts.Tune("mlp: dev accuracy", dims, trials);
        Assert.That(AssertPng(chart.ToPng()), Is.EqualTo((chart.Width, chart.Height)));
        var texts = SvgTexts(chart.ToSvg());
        Assert.That(texts, Is.SupersetOf(new[] { "lr (log scale)", "batch", "full budget", "stopped by halving", "1e-3", "64", "128" }));
    }

    [Test]
    public void ConfusionChartShowsClassNamesAndCounts()
    {
        var metrics = new ClassificationMetrics(3);
        // rows: true class; 3 samples: 0->0, 1->2, 2->2
        metrics.Add([5f, 0, 0, 0, 0, 5f, 0, 0, 5f], [0, 1, 2], 0.3);
        var texts = SvgTexts(Charts.Confusion(metrics, c => $"class {c}").ToSvg());
        Assert.That(texts, Is.SupersetOf(new[] { "class 0", "class 1", "class 2", "predicted", "true class" }));
        Assert.That(texts.Count(t => t == "1"), Is.EqualTo(3), "three cells hold one sample");
        Assert.That(texts.Count(t => t == "0"), Is.EqualTo(6));
    }

    [Test]
    public void ImageGridHasTheImagesAndTheirLabels()
    {
        var tiles = Enumerable.Range(0, 3).Select(k => Enumerable.Range(0, 28 * 28).Select(i => (byte)(i * (k + 1))).ToArray()).ToList();
        var chart = Charts.ImageGrid("worst", tiles, 28, [("Coat", "Shirt 97%"), ("Bag", "Sandal 90%"), ("Dress", "Coat 80%")], columns: 2);
        var (width, height) = AssertPng(chart.ToPng());
        Assert.That((width, height), Is.EqualTo((chart.Width, chart.Height)));
        string svg = chart.ToSvg();
        var texts = SvgTexts(svg);
        Assert.That(texts, Is.SupersetOf(new[] { "worst", "Coat", "Shirt 97%", "Bag", "Sandal 90%", "Dress", "Coat 80%" }));
        Assert.That(XDocument.Parse(svg).Descendants().Count(e => e.Name.LocalName == "image"), Is.EqualTo(3), "one embedded image per tile");
        Assert.That(() => Charts.ImageGrid("bad", tiles, 27, [("a", "b"), ("c", "d"), ("e", "f")]), Throws.ArgumentException.With.Message.Contains("not 27x27"));
        Assert.That(() => Charts.ImageGrid("bad", tiles, 28, [("a", "b")]), Throws.ArgumentException.With.Message.Contains("3 images but 1 captions"));
    }

    [Test]
    public void BenchCommandDrawsOneSeriesPerFamilyFromTheResultsData()
    {
        string data = Path.Combine(_dir, "chart-data.json");
        File.WriteAllText(data, """
            {"title": "speed vs reference", "bars": [
              {"family": "GEMM vs OpenBLAS", "label": "1024 T1", "ratio": 0.93},
              {"family": "GEMM vs OpenBLAS", "label": "1024 T2", "ratio": 0.63},
              {"family": "maxpool vs PyTorch", "label": "fwd T1", "ratio": 16.2}]}
            """);
        var output = new StringWriter();
        int code = CommandLine.Run(["chart", "bench", "--data", data, "--out", Path.Combine(_dir, "chart")], new CliConsole(output, new StringWriter(), false));
        Assert.That(code, Is.Zero, output.ToString());
        Assert.That(output.ToString(), Does.Contain("(3 bars)"));
        AssertPng(File.ReadAllBytes(Path.Combine(_dir, "chart.png")));
        var texts = SvgTexts(File.ReadAllText(Path.Combine(_dir, "chart.svg")));
        Assert.That(texts, Is.SupersetOf(new[] { "speed vs reference", "GEMM vs OpenBLAS", "maxpool vs PyTorch", "1024 T1", "fwd T1", "0.93×", "16.20×" }));
    }

    [Test]
    public void CommandChartsWarnWhenSkiaSharpIsMissingAndFailOtherwise()
    {
        var warnings = new StringWriter();
        bool written = Charts.SaveBesideResults(() => throw new TypeInitializationException("ScottPlot.Fonts", new DllNotFoundException("Unable to load shared library 'libSkiaSharp'")),
            Path.Combine(_dir, "metrics"), warnings);
        Assert.That(written, Is.False);
        Assert.That(warnings.ToString(), Does.StartWith("nativenet: warning: metrics.png/.svg not written").And.Contain("libSkiaSharp"));
        Assert.That(() => Charts.SaveBesideResults(() => throw new InvalidOperationException("a real bug"), Path.Combine(_dir, "metrics"), warnings),
            Throws.InvalidOperationException.With.Message.EqualTo("a real bug"));
        Assert.That(Charts.SaveBesideResults(() => Charts.Training("ok", s_epochs), Path.Combine(_dir, "metrics"), warnings), Is.True);
        Assert.That(File.Exists(Path.Combine(_dir, "metrics.svg")));
    }

    [Test]
    public void BenchChartRejectsBadData()
    {
        string data = Path.Combine(_dir, "bad.json");
        File.WriteAllText(data, """{"bars": [{"family": "f", "label": "l", "ratio": -1}]}""");
        var error = new StringWriter();
        int code = CommandLine.Run(["chart", "bench", "--data", data, "--out", Path.Combine(_dir, "c")], new CliConsole(new StringWriter(), error, false));
        Assert.That(code, Is.Not.Zero);
        Assert.That(error.ToString(), Does.Contain("ratio of 'f: l' is -1"));
        File.WriteAllText(data, """{"bars": [{"family": "f"}]}""");
        error = new StringWriter();
        Assert.That(CommandLine.Run(["chart", "bench", "--data", data, "--out", Path.Combine(_dir, "c")], new CliConsole(new StringWriter(), error, false)), Is.Not.Zero);
        Assert.That(error.ToString(), Does.Contain("needs \"family\", \"label\" and a numeric \"ratio\""));
        Assert.That(File.Exists(Path.Combine(_dir, "c.png")), Is.False);
    }
}
