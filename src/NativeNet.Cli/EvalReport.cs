using System.Globalization;
using System.Security;
using System.Text;
using NativeNet.Autodiff;
using NativeNet.Training;
using Spectre.Console;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet eval --report</c> for the image models: the course's error analysis. Prints the confusion matrix and
/// per-class precision and recall, and writes report.json, confusion.svg (heat map), worst.png (the N most confidently
/// wrong test images, a greyscale grid without text) and worst.svg (the same images with true and predicted labels).
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
        File.WriteAllText(Path.Combine(outDir, "confusion.svg"), ConfusionSvg(metrics));
        if (worstList.Count > 0)
        {
            var tiles = worstList.Select(m => Pixels(testX, m.Index, mean, std)).ToList();
            File.WriteAllBytes(Path.Combine(outDir, "worst.png"), Grid(tiles));
            File.WriteAllText(Path.Combine(outDir, "worst.svg"), WorstSvg(worstList, tiles));
        }
        if (!json) Print(console, metrics, worstList, outDir);
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

    private static void Print(CliConsole console, ClassificationMetrics m, List<Mistake> worst, string outDir)
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
        console.Out.WriteLine($"wrote {Path.Combine(outDir, "report.json")}, confusion.svg{(worst.Count > 0 ? ", worst.png (images only), worst.svg (with labels)" : "")}");
    }

    private static string Percent(double v) => double.IsFinite(v) ? string.Create(CultureInfo.InvariantCulture, $"{v * 100:F2}%") : "-";

    /// <summary>Test image <paramref name="index"/> back in [0, 255] (undoing the standardisation).</summary>
    private static byte[] Pixels(Tensor x, int index, double mean, double std)
    {
        using var image = x.Narrow(0, index, 1);
        var values = image.ToArray<float>();
        return values.Select(v => (byte)Math.Clamp(Math.Round((v * std + mean) * 255), 0, 255)).ToArray();
    }

    private static byte[] Grid(List<byte[]> tiles)
    {
        const int side = 28, pad = 2, cell = side * Scale + pad;
        int columns = Math.Min(Columns, tiles.Count), rows = (tiles.Count + columns - 1) / columns;
        int width = columns * cell + pad, height = rows * cell + pad;
        var pixels = new byte[width * height];
        Array.Fill(pixels, (byte)128);
        for (int k = 0; k < tiles.Count; k++)
        {
            int x0 = pad + k % columns * cell, y0 = pad + k / columns * cell;
            for (int y = 0; y < side * Scale; y++)
                for (int x = 0; x < side * Scale; x++)
                    pixels[(y0 + y) * width + x0 + x] = tiles[k][y / Scale * side + x / Scale];
        }
        return PngWriter.Greyscale(pixels, width, height);
    }

    private static string WorstSvg(List<Mistake> worst, List<byte[]> tiles)
    {
        const int size = 28 * Scale, cellW = size + 40, cellH = size + 44;
        int columns = Math.Min(Columns, worst.Count), rows = (worst.Count + columns - 1) / columns;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{columns * cellW}" height="{rows * cellH + 30}" font-family="sans-serif" font-size="11">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="100%" height="100%" fill="white"/><text x="8" y="18" font-size="14">the {worst.Count} most confidently wrong test images (true / predicted, confidence)</text>""").Append('\n');
        for (int k = 0; k < worst.Count; k++)
        {
            int x = k % columns * cellW + 20, y = k / columns * cellH + 30;
            string data = Convert.ToBase64String(PngWriter.Greyscale(tiles[k], 28, 28));
            svg.Append(CultureInfo.InvariantCulture, $"""<image x="{x}" y="{y}" width="{size}" height="{size}" style="image-rendering:pixelated" href="data:image/png;base64,{data}"/>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x + size / 2}" y="{y + size + 14}" text-anchor="middle" fill="#2a7">{Escape(Name(worst[k].Truth))}</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x + size / 2}" y="{y + size + 28}" text-anchor="middle" fill="#c22">{Escape(Name(worst[k].Predicted))} {worst[k].Confidence * 100:F0}%</text>""").Append('\n');
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string ConfusionSvg(ClassificationMetrics m)
    {
        const int cell = 44, left = 110, top = 110;
        int k = m.Classes;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{left + k * cell + 20}" height="{top + k * cell + 40}" font-family="sans-serif" font-size="11">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="100%" height="100%" fill="white"/><text x="8" y="18" font-size="14">confusion matrix (rows: true, columns: predicted; shade: fraction of the row)</text>""").Append('\n');
        for (int t = 0; t < k; t++)
        {
            long rowTotal = Enumerable.Range(0, k).Sum(p => m.Confusion(t, p));
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{left - 6}" y="{top + t * cell + cell / 2 + 4}" text-anchor="end">{Escape(Name(t))}</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text transform="translate({left + t * cell + cell / 2 + 4} {top - 6}) rotate(-60)">{Escape(Name(t))}</text>""").Append('\n');
            for (int p = 0; p < k; p++)
            {
                long v = m.Confusion(t, p);
                double f = rowTotal == 0 ? 0 : (double)v / rowTotal;
                int shade = (int)Math.Round(255 * (1 - f));
                string fill = t == p ? $"rgb({shade},{shade},255)" : $"rgb(255,{shade},{shade})";
                svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{left + p * cell}" y="{top + t * cell}" width="{cell}" height="{cell}" fill="{fill}" stroke="#999"/>""").Append('\n');
                svg.Append(CultureInfo.InvariantCulture, $"""<text x="{left + p * cell + cell / 2}" y="{top + t * cell + cell / 2 + 4}" text-anchor="middle" fill="{(f > 0.6 ? "white" : "black")}">{v}</text>""").Append('\n');
            }
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";
}
