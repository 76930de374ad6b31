using System.Globalization;
using NativeNet.Training;
using ScottPlot;
using SkiaSharp;

namespace NativeNet.Cli;

/// <summary>
/// The CLI's charts, drawn with ScottPlot on SkiaSharp and written as PNG and SVG: the training curves, the tuning
/// scatter, the confusion matrix, the grid of worst test images and the benchmark ratios.
/// </summary>
public static class Charts
{
    /// <summary>A drawing on a canvas of the given pixel rectangle (the whole image).</summary>
    public delegate void Drawing(SKCanvas canvas, PixelRect area);

    /// <summary>A chart: its size in pixels and how to draw it.</summary>
    public sealed record Chart(int Width, int Height, Drawing Draw)
    {
        /// <summary>The chart as PNG bytes.</summary>
        public byte[] ToPng()
        {
            using var surface = SKSurface.Create(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
                ?? throw new InvalidOperationException($"Charts: SkiaSharp could not create a {Width}x{Height} surface");
            surface.Canvas.Clear(SKColors.White);
            Draw(surface.Canvas, new PixelRect(0, Width, Height, 0));
            surface.Canvas.Flush();
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            return data.ToArray();
        }

        /// <summary>The chart as an SVG document.</summary>
        public string ToSvg()
        {
            using var stream = new MemoryStream();
            using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, Height), stream))
            {
                canvas.Clear(SKColors.White);
                Draw(canvas, new PixelRect(0, Width, Height, 0));
            }
            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }

        /// <summary>Writes <c><paramref name="pathWithoutExtension"/>.png</c> and <c>.svg</c>, each through a temporary file and a rename.</summary>
        public (string Png, string Svg) Save(string pathWithoutExtension)
        {
            string png = pathWithoutExtension + ".png", svg = pathWithoutExtension + ".svg";
            WriteAtomically(png, ToPng());
            WriteAtomically(svg, System.Text.Encoding.UTF8.GetBytes(ToSvg()));
            return (png, svg);
        }
    }

    /// <summary>
    /// Draws <paramref name="chart"/> and saves it (<see cref="Chart.Save"/>) next to a command's results: where
    /// SkiaSharp's native library is missing (the trimmed GPU bundle leaves it out) the results still count, so this
    /// prints one warning to <paramref name="warnings"/> instead of failing. Returns whether the files were written.
    /// </summary>
    public static bool SaveBesideResults(Func<Chart> chart, string pathWithoutExtension, TextWriter warnings)
    {
        try
        {
            chart().Save(pathWithoutExtension);
            return true;
        }
        catch (Exception e) when (MissingNativeLibrary(e) is { } missing)
        {
            warnings.WriteLine($"nativenet: warning: {Path.GetFileName(pathWithoutExtension)}.png/.svg not written: SkiaSharp's native library is not available ({missing.Message.Split('\n')[0]})");
            return false;
        }
    }

    /// <summary>The <see cref="DllNotFoundException"/> behind <paramref name="e"/> (ScottPlot's and SkiaSharp's type initialisers wrap it), if any.</summary>
    private static DllNotFoundException? MissingNativeLibrary(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is DllNotFoundException missing) return missing;
        return null;
    }

    private static readonly Color[] s_palette = [Colors.C0, Colors.C1, Colors.C2, Colors.C3, Colors.C4, Colors.C5, Colors.C6, Colors.C7, Colors.C8, Colors.C9];

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> so that a reader sees the old file or the whole new one, never a part.</summary>
    public static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Loss (left panel) and accuracy in percent (right panel) per epoch, for the training set and, where the run has
    /// them, the dev and test sets.
    /// </summary>
    public static Chart Training(string title, IReadOnlyList<EpochMetrics> epochs)
    {
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var loss = NewPlot($"{title}: loss", "epoch", "loss");
        var accuracy = NewPlot("accuracy", "epoch", "accuracy (%)");
        AddLine(loss, x, epochs.Select(e => e.TrainLoss), "train loss", s_palette[0]);
        AddLine(accuracy, x, epochs.Select(e => e.TrainAccuracy * 100), "train accuracy", s_palette[0]);
        if (epochs.Count > 0 && epochs.All(e => e.DevLoss is not null))
        {
            AddLine(loss, x, epochs.Select(e => e.DevLoss!.Value), "dev loss", s_palette[2]);
            AddLine(accuracy, x, epochs.Select(e => (e.DevAccuracy ?? double.NaN) * 100), "dev accuracy", s_palette[2]);
        }
        if (epochs.Any(e => double.IsFinite(e.TestLoss)))
        {
            AddLine(loss, x, epochs.Select(e => e.TestLoss), "test loss", s_palette[3]);
            AddLine(accuracy, x, epochs.Select(e => e.TestAccuracy * 100), "test accuracy", s_palette[3]);
        }
        foreach (var plot in new[] { loss, accuracy })
        {
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            if (x.Length <= 1) plot.Axes.SetLimitsX(x.Length == 0 ? 0 : x[0] - 1, x.Length == 0 ? 2 : x[0] + 1);
            plot.ShowLegend(Alignment.UpperRight);
        }
        accuracy.Legend.Alignment = Alignment.LowerRight;
        return SideBySide(500, 400, loss, accuracy);
    }

    /// <summary>
    /// The dev accuracy of each trial against each searched hyper-parameter, one panel per parameter (a log axis where
    /// the space is logarithmic); trials that ran the full budget are filled, the ones successive halving stopped are hollow.
    /// </summary>
    public static Chart Tune(string title, IReadOnlyList<SearchDimension> dimensions, IReadOnlyList<(IReadOnlyDictionary<string, double> Values, double Accuracy, bool Full)> trials)
    {
        var panels = new List<Plot>();
        for (int p = 0; p < dimensions.Count; p++)
        {
            var dim = dimensions[p];
            bool log = dim.IsLogarithmic && trials.All(t => t.Values[dim.Name] > 0);
            double X(double v) => log ? Math.Log10(v) : v;
            var plot = NewPlot(p == 0 ? title : "", log ? $"{dim.Name} (log scale)" : dim.Name, p == 0 ? "dev accuracy (%)" : "");
            foreach (bool full in new[] { true, false })
            {
                var points = trials.Where(t => t.Full == full && double.IsFinite(t.Accuracy)).ToList();
                if (points.Count == 0) continue;
                var scatter = plot.Add.ScatterPoints(points.Select(t => X(t.Values[dim.Name])).ToArray(), points.Select(t => t.Accuracy * 100).ToArray(), s_palette[0]);
                scatter.MarkerShape = full ? MarkerShape.FilledCircle : MarkerShape.OpenCircle;
                scatter.MarkerSize = 8;
                scatter.LegendText = full ? "full budget" : "stopped by halving";
            }
            if (log)
            {
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
                {
                    MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                    IntegerTicksOnly = true,
                    LabelFormatter = v => Math.Pow(10, v).ToString("0e+0", CultureInfo.InvariantCulture),
                };
                double lo = dim is LogUniformDimension l ? l.Low : trials.Min(t => t.Values[dim.Name]);
                double hi = dim is LogUniformDimension h ? h.High : trials.Max(t => t.Values[dim.Name]);
                plot.Axes.SetLimitsX(Math.Floor(Math.Log10(lo) * 4) / 4, Math.Ceiling(Math.Log10(hi) * 4) / 4);
            }
            else if (dim is ChoiceDimension choice)
            {
                plot.Axes.Bottom.SetTicks(choice.Values.ToArray(), choice.Values.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)).ToArray());
            }
            plot.ShowLegend(Alignment.LowerRight);
            panels.Add(plot);
        }
        if (panels.Count == 0) panels.Add(NewPlot(title + " (no hyper-parameters searched)", "", "dev accuracy (%)"));
        return SideBySide(380, 380, panels.ToArray());
    }

    /// <summary>The confusion matrix as a heat map (rows: true class, columns: predicted; shade: fraction of the row), counts in the cells.</summary>
    public static Chart Confusion(ClassificationMetrics metrics, Func<int, string> className)
    {
        int k = metrics.Classes;
        var plot = NewPlot("confusion matrix (rows: true, columns: predicted; shade: fraction of the row)", "predicted", "true class");
        for (int t = 0; t < k; t++)
        {
            long rowTotal = Enumerable.Range(0, k).Sum(p => metrics.Confusion(t, p));
            for (int p = 0; p < k; p++)
            {
                long count = metrics.Confusion(t, p);
                double f = rowTotal == 0 ? 0 : (double)count / rowTotal;
                byte shade = (byte)Math.Round(255 * (1 - f));
                var cell = plot.Add.Rectangle(p - 0.5, p + 0.5, -t - 0.5, -t + 0.5);
                cell.FillColor = t == p ? new Color(shade, shade, (byte)255) : new Color((byte)255, shade, shade);
                cell.LineColor = Colors.Gray;
                cell.LineWidth = 1;
                var text = plot.Add.Text(count.ToString(CultureInfo.InvariantCulture), p, -t);
                text.Alignment = Alignment.MiddleCenter;
                text.LabelFontSize = 11;
                text.LabelFontColor = f > 0.6 ? Colors.White : Colors.Black;
            }
        }
        var names = Enumerable.Range(0, k).Select(className).ToArray();
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, k).Select(i => (double)i).ToArray(), names);
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 90;
        plot.Axes.Left.MinimumSize = 110;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, k).Select(i => (double)-i).ToArray(), names);
        plot.Axes.SetLimits(-0.5, k - 0.5, -k + 0.5, 0.5);
        plot.Grid.IsVisible = false;
        int size = 160 + 48 * k;
        return new Chart(Math.Max(size + 40, 660), size, (canvas, area) => RenderOnce(plot, canvas, area));
    }

    /// <summary>A grid of greyscale images (each <paramref name="side"/>² bytes, 0 black … 255 white), each with a caption of two lines under it.</summary>
    public static Chart ImageGrid(string title, IReadOnlyList<byte[]> tiles, int side, IReadOnlyList<(string First, string Second)> captions, int columns = 8, int scale = 3)
    {
        if (captions.Count != tiles.Count) throw new ArgumentException($"Charts.ImageGrid: {tiles.Count} images but {captions.Count} captions");
        foreach (var tile in tiles)
            if (tile.Length != side * side) throw new ArgumentException($"Charts.ImageGrid: an image of {tile.Length} pixels is not {side}x{side}");
        int size = side * scale, cellW = size + 40, cellH = size + 44;
        columns = Math.Max(1, Math.Min(columns, tiles.Count));
        int rows = (tiles.Count + columns - 1) / columns;
        return new Chart(Math.Max(columns * cellW, 420), rows * cellH + 30, (canvas, area) =>
        {
            using var typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;
            using var titleFont = new SKFont(typeface, 14);
            using var font = new SKFont(typeface, 11);
            using var black = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            using var green = new SKPaint { Color = new SKColor(0x22, 0x77, 0x33), IsAntialias = true };
            using var red = new SKPaint { Color = new SKColor(0xcc, 0x22, 0x22), IsAntialias = true };
            canvas.DrawText(title, area.Left + 8, area.Top + 18, SKTextAlign.Left, titleFont, black);
            for (int i = 0; i < tiles.Count; i++)
            {
                float x = area.Left + i % columns * cellW + 20, y = area.Top + i / columns * cellH + 30;
                using var bitmap = new SKBitmap(new SKImageInfo(side, side, SKColorType.Gray8, SKAlphaType.Opaque));
                System.Runtime.InteropServices.Marshal.Copy(tiles[i], 0, bitmap.GetPixels(), tiles[i].Length);
                using var image = SKImage.FromBitmap(bitmap);
                canvas.DrawImage(image, new SKRect(x, y, x + size, y + size), new SKSamplingOptions(SKFilterMode.Nearest));
                canvas.DrawText(captions[i].First, x + size / 2f, y + size + 14, SKTextAlign.Center, font, green);
                canvas.DrawText(captions[i].Second, x + size / 2f, y + size + 28, SKTextAlign.Center, font, red);
            }
        });
    }

    /// <summary>One bar of the benchmark chart: NativeNet's speed relative to a reference (&gt; 1 is faster).</summary>
    public sealed record BenchBar(string Family, string Label, double Ratio);

    /// <summary>
    /// Horizontal bars of speed ratios on a log scale (1 = parity, right of it faster), one colour and legend entry per
    /// op family and comparison.
    /// </summary>
    public static Chart Bench(string title, IReadOnlyList<BenchBar> bars)
    {
        foreach (var bar in bars)
            if (!(bar.Ratio > 0) || !double.IsFinite(bar.Ratio))
                throw new ArgumentException($"Charts.Bench: the ratio of '{bar.Family}: {bar.Label}' is {bar.Ratio.ToString(CultureInfo.InvariantCulture)}; ratios must be positive and finite");
        var plot = NewPlot(title, "speed relative to the reference (log scale; right of 1 = faster)", "");
        var families = bars.Select(b => b.Family).Distinct().ToList();
        var positions = new List<double>();
        var labels = new List<string>();
        double position = 0;
        for (int f = 0; f < families.Count; f++)
        {
            var colour = s_palette[f % s_palette.Length];
            var group = bars.Where(b => b.Family == families[f]).ToList();
            var plotted = new List<Bar>();
            foreach (var bar in group)
            {
                plotted.Add(new Bar
                {
                    Position = -position,
                    ValueBase = 0,
                    Value = Math.Log10(bar.Ratio),
                    FillColor = colour,
                    Label = bar.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×",
                    Orientation = Orientation.Horizontal,
                    Size = 0.8,
                });
                positions.Add(-position);
                labels.Add(bar.Label);
                position++;
            }
            var series = plot.Add.Bars(plotted);
            series.Horizontal = true;
            series.LegendText = families[f];
            series.ValueLabelStyle.FontSize = 10;
            position += 0.6;
        }
        plot.Axes.Left.SetTicks(positions.ToArray(), labels.ToArray());
        double top = bars.Count == 0 ? 1 : Math.Max(1, Math.Log10(bars.Max(b => b.Ratio)) + 0.35);
        double bottom = bars.Count == 0 ? -1 : Math.Min(-1, Math.Log10(bars.Min(b => b.Ratio)) - 0.35);
        plot.Axes.SetLimits(bottom, top, -position, 1);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => Math.Pow(10, v).ToString("0.###", CultureInfo.InvariantCulture),
        };
        var parity = plot.Add.VerticalLine(0, 1.5f, Colors.Black);
        parity.LegendText = "";
        plot.ShowLegend(Alignment.UpperRight);
        return new Chart(900, 120 + 22 * (int)Math.Ceiling(position), (canvas, area) => RenderOnce(plot, canvas, area));
    }

    /// <summary>
    /// Renders <paramref name="plot"/> into <paramref name="area"/>. ScottPlot draws a plot a second time when its first
    /// render moved the axis limits (auto-scaling); a render in memory first settles them, so the SVG holds each element once.
    /// </summary>
    private static void RenderOnce(Plot plot, SKCanvas canvas, PixelRect area)
    {
        plot.RenderInMemory((int)Math.Round(area.Width), (int)Math.Round(area.Height));
        canvas.Save();
        canvas.ClipRect(new SKRect(area.Left, area.Top, area.Right, area.Bottom));   // a plot clears the whole canvas it is given
        plot.Render(canvas, area);
        canvas.Restore();
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        if (title.Length > 0) plot.Title(title, 14);
        if (xLabel.Length > 0) plot.XLabel(xLabel, 12);
        if (yLabel.Length > 0) plot.YLabel(yLabel, 12);
        return plot;
    }

    private static void AddLine(Plot plot, double[] x, IEnumerable<double> y, string legend, Color colour)
    {
        var series = plot.Add.Scatter(x, y.ToArray(), colour);
        series.LegendText = legend;
        series.LineWidth = 2;
        series.MarkerSize = 7;
    }

    /// <summary>Panels of <paramref name="panelWidth"/>×<paramref name="height"/> pixels next to each other.</summary>
    private static Chart SideBySide(int panelWidth, int height, params Plot[] panels) =>
        new(panelWidth * panels.Length, height, (canvas, area) =>
        {
            float width = area.Width / panels.Length;
            for (int i = 0; i < panels.Length; i++)
                RenderOnce(panels[i], canvas, new PixelRect(area.Left + i * width, area.Left + (i + 1) * width, area.Bottom, area.Top));
        });
}
