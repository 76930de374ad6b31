using System.Globalization;
using NativeNet.Autodiff;
using NativeNet.Training;
using Spectre.Console;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet eval --report</c> for the image models: the course's error analysis. Prints the confusion matrix and
/// per-class precision and recall, and writes report.json, confusion.png/.svg (heat map) and worst.png/.svg (the N most
/// confidently wrong test images in a grid with their true and predicted labels).
/// </summary>
internal static class EvalReport
{
    /// <summary>Fashion-MNIST's class names, by label.</summary>
    public static readonly string[] ClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private const int EvalBatch = 1000, Columns = 8, Scale = 3;

    /// <summary>A misclassified test image: its index, true and predicted class, and the predicted class's softmax probability.</summary>
    public readonly record struct Mistake(int Index, int Truth, int Predicted, double Confidence);

    /// <summary>Evaluates and writes the report into <paramref name="outDir"/>; returns the metrics and the worst mistakes.</summary>
    public static (ClassificationMetrics Metrics, List<Mistake> Worst) Run(ImageTask task, Device device, int worst, string outDir, CliConsole console, bool json)
    {
        var (testX, testY) = task.TestData;
        var model = task.Model;
        ClassificationMetrics? metrics = null;
        var mistakes = new List<Mistake>();
        model.Eval();
        try
        {
            using var noGrad = GradMode.Disable();
            int n = testX.Shape[0];
            for (int start = 0; start < n; start += EvalBatch)
            {
                using var scope = new TensorScope();
                int count = Math.Min(EvalBatch, n - start);
                var x = testX.Narrow(0, start, count);
                var y = testY.Narrow(0, start, count);
                var scores = model.Forward(device.Kind == DeviceKind.Cpu ? x : x.To(device));
                double loss = Ops.SoftmaxCrossEntropy(scores, device.Kind == DeviceKind.Cpu ? y : y.To(device)).Item();
                var s = scores.ToArray<float>();
                var labels = y.ToArray<int>();
                int classes = scores.Shape[1];
                metrics ??= new ClassificationMetrics(classes);
                metrics.Add(s, labels, loss * count);
                for (int i = 0; i < count; i++)
                {
                    var row = s.AsSpan(i * classes, classes);
                    int best = 0;
                    for (int c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
                    if (best == labels[i]) continue;
                    double sum = 0;
                    foreach (float v in row) sum += Math.Exp(v - row[best]);
                    mistakes.Add(new Mistake(start + i, labels[i], best, 1 / sum));
                }
            }
        }
        finally
        {
            model.Train();
        }
        if (metrics is null) throw new InvalidOperationException("eval --report: the test set is empty");
        var worstList = mistakes.OrderByDescending(m => m.Confidence).ThenBy(m => m.Index).Take(worst).ToList();
        Directory.CreateDirectory(outDir);
        var metadata = task.Metadata();
        double mean = double.Parse(metadata["normalize_mean"], CultureInfo.InvariantCulture), std = double.Parse(metadata["normalize_std"], CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(outDir, "report.json"), Json.Write(w => WriteJson(w, metrics, worstList), indented: true) + "\n");
        bool charts = Charts.SaveBesideResults(() => Charts.Confusion(metrics, Name), Path.Combine(outDir, "confusion"), console.Error);
        if (worstList.Count > 0)
        {
            var tiles = worstList.Select(m => Pixels(testX, m.Index, mean, std)).ToList();
            var captions = worstList.Select(m => (Name(m.Truth), string.Create(CultureInfo.InvariantCulture, $"{Name(m.Predicted)} {m.Confidence * 100:F0}%"))).ToList();
            charts &= Charts.SaveBesideResults(() => Charts.ImageGrid($"the {worstList.Count} most confidently wrong test images (true / predicted, confidence)", tiles, 28, captions, Columns, Scale),
                Path.Combine(outDir, "worst"), console.Error);
        }
        if (!json) Print(console, metrics, worstList, outDir, charts);
        return (metrics, worstList);
    }

    private static string Name(int c) => c < ClassNames.Length ? ClassNames[c] : c.ToString(CultureInfo.InvariantCulture);

    private static void WriteJson(System.Text.Json.Utf8JsonWriter w, ClassificationMetrics m, List<Mistake> worst)
    {
        w.WriteStartObject();
        w.WriteNumber("test_acc", m.Accuracy);
        w.WriteNumber("test_loss", Math.Round(m.Loss, 6));
        w.WriteNumber("top_k", m.TopK);
        w.WriteNumber("top_k_acc", m.TopKAccuracy);
        w.WriteNumber("count", m.Count);
        w.WriteStartArray("classes");
        for (int c = 0; c < m.Classes; c++)
        {
            w.WriteStartObject();
            w.WriteNumber("class", c);
            w.WriteString("name", Name(c));
            WriteNumberOrNull(w, "precision", m.Precision(c));
            WriteNumberOrNull(w, "recall", m.Recall(c));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("confusion");
        foreach (var row in m.ConfusionMatrix())
        {
            w.WriteStartArray();
            foreach (long v in row) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteStartArray("worst");
        foreach (var e in worst)
        {
            w.WriteStartObject();
            w.WriteNumber("index", e.Index);
            w.WriteString("true", Name(e.Truth));
            w.WriteString("predicted", Name(e.Predicted));
            w.WriteNumber("confidence", Math.Round(e.Confidence, 6));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteNumberOrNull(System.Text.Json.Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static void Print(CliConsole console, ClassificationMetrics m, List<Mistake> worst, string outDir, bool charts)
    {
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(console.Out),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        ansi.Profile.Width = 200;
        var confusion = new Table().Border(TableBorder.Rounded).Title("confusion matrix (rows: true class, columns: predicted)");
        confusion.AddColumn("true \\ predicted");
        for (int c = 0; c < m.Classes; c++) confusion.AddColumn(new TableColumn(Markup.Escape(Name(c))).RightAligned());
        for (int t = 0; t < m.Classes; t++)
            confusion.AddRow(new[] { Markup.Escape(Name(t)) }.Concat(Enumerable.Range(0, m.Classes).Select(p => m.Confusion(t, p).ToString(CultureInfo.InvariantCulture))).ToArray());
        ansi.Write(confusion);
        var perClass = new Table().Border(TableBorder.Rounded).Title("per class");
        perClass.AddColumn("class").AddColumn(new TableColumn("precision").RightAligned()).AddColumn(new TableColumn("recall").RightAligned()).AddColumn(new TableColumn("samples").RightAligned());
        for (int c = 0; c < m.Classes; c++)
            perClass.AddRow(Markup.Escape(Name(c)), Percent(m.Precision(c)), Percent(m.Recall(c)),
                Enumerable.Range(0, m.Classes).Sum(p => m.Confusion(c, p)).ToString(CultureInfo.InvariantCulture));
        ansi.Write(perClass);
        string examples = string.Join(", ", worst.Take(5).Select(e => string.Create(CultureInfo.InvariantCulture, $"#{e.Index} {Name(e.Truth)} as {Name(e.Predicted)} ({e.Confidence * 100:F1}%)")));
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"accuracy {m.Accuracy * 100:F2}%, top-{m.TopK} {m.TopKAccuracy * 100:F2}%; {worst.Count} most confidently wrong: {examples}{(worst.Count > 5 ? ", ..." : "")}"));
        console.Out.WriteLine($"wrote {Path.Combine(outDir, "report.json")}{(!charts ? " (no charts)" : ", confusion.png, confusion.svg" + (worst.Count > 0 ? ", worst.png, worst.svg" : ""))}");
    }

    private static string Percent(double v) => double.IsFinite(v) ? string.Create(CultureInfo.InvariantCulture, $"{v * 100:F2}%") : "-";

    /// <summary>Test image <paramref name="index"/> back in [0, 255] (undoing the standardisation).</summary>
    private static byte[] Pixels(Tensor x, int index, double mean, double std)
    {
        using var image = x.Narrow(0, index, 1);
        var values = image.ToArray<float>();
        return values.Select(v => (byte)Math.Clamp(Math.Round((v * std + mean) * 255), 0, 255)).ToArray();
    }

}
