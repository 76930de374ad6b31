using System.Globalization;
using System.Security;
using System.Text;
using NativeNet.Training;

namespace NativeNet.Cli;

/// <summary>A hand-written SVG scatter chart: dev accuracy (y) against each searched hyper-parameter (one panel each; log x axis for log spaces).</summary>
public static class TuneChart
{
    private const double PanelWidth = 340, Height = 360, Left = 60, Right = 20, Top = 50, Bottom = 60;

    /// <summary>The chart as a standalone SVG document; full-budget trials are drawn filled, halved-out ones hollow.</summary>
    public static string Render(string title, IReadOnlyList<SearchDimension> dimensions, IReadOnlyList<(IReadOnlyDictionary<string, double> Values, double Accuracy, bool Full)> trials)
    {
        double width = Math.Max(1, dimensions.Count) * PanelWidth;
        double plotW = PanelWidth - Left - Right, plotH = Height - Top - Bottom;
        var finite = trials.Where(t => double.IsFinite(t.Accuracy)).ToList();
        double yMin = finite.Count == 0 ? 0 : Math.Floor(finite.Min(t => t.Accuracy) * 20) / 20;
        double yMax = finite.Count == 0 ? 1 : Math.Min(1, Math.Ceiling(finite.Max(t => t.Accuracy) * 20) / 20);
        if (yMax <= yMin) yMax = Math.Min(1, yMin + 0.05);
        if (yMax <= yMin) yMin = yMax - 0.05;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{Height}" viewBox="0 0 {width} {Height}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect x="0" y="0" width="{width}" height="{Height}" fill="white"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{Escape(title)}</text>""").Append('\n');
        for (int p = 0; p < dimensions.Count; p++)
        {
            var dim = dimensions[p];
            double x0 = p * PanelWidth + Left;
            var xs = trials.Select(t => t.Values[dim.Name]).ToList();
            bool log = dim.IsLogarithmic && xs.All(v => v > 0);
            double Transform(double v) => log ? Math.Log10(v) : v;
            double lo = dim switch { LogUniformDimension l => l.Low, UniformDimension u => u.Low, _ => xs.Min() };
            double hi = dim switch { LogUniformDimension l => l.High, UniformDimension u => u.High, _ => xs.Max() };
            double tLo = Transform(lo), tHi = Transform(hi);
            if (tHi <= tLo) (tLo, tHi) = (tLo - 1, tHi + 1);
            double X(double v) => x0 + plotW * (Transform(v) - tLo) / (tHi - tLo);
            double Y(double a) => Top + plotH * (1 - (a - yMin) / (yMax - yMin));
            for (int k = 0; k <= 5; k++)
            {
                double y = Top + plotH * k / 5;
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x0}" y1="{y:F1}" x2="{x0 + plotW}" y2="{y:F1}" stroke="#ddd"/>""").Append('\n');
                double acc = yMax - (yMax - yMin) * k / 5;
                svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x0 - 6}" y="{y + 4:F1}" text-anchor="end">{acc * 100:0.#}%</text>""").Append('\n');
            }
            var ticks = log
                ? Enumerable.Range((int)Math.Ceiling(tLo), (int)Math.Floor(tHi) - (int)Math.Ceiling(tLo) + 1).Select(e => Math.Pow(10, e)).ToList()
                : dim is ChoiceDimension c ? c.Values.ToList() : Enumerable.Range(0, 5).Select(k => lo + (hi - lo) * k / 4).ToList();
            foreach (double t in ticks)
            {
                double x = X(t);
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x:F1}" y1="{Top}" x2="{x:F1}" y2="{Top + plotH}" stroke="#eee"/>""").Append('\n');
                svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x:F1}" y="{Top + plotH + 16}" text-anchor="middle">{Tick(t, log)}</text>""").Append('\n');
            }
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{x0}" y="{Top}" width="{plotW}" height="{plotH}" fill="none" stroke="#333"/>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x0 + plotW / 2}" y="{Height - 18}" text-anchor="middle">{Escape(dim.Name)}{(log ? " (log scale)" : "")}</text>""").Append('\n');
            foreach (var (values, accuracy, full) in trials)
            {
                if (!double.IsFinite(accuracy)) continue;
                svg.Append(CultureInfo.InvariantCulture, $"""<circle cx="{X(values[dim.Name]):F1}" cy="{Y(Math.Clamp(accuracy, yMin, yMax)):F1}" r="4" fill="{(full ? "#1f77b4" : "none")}" stroke="#1f77b4"/>""").Append('\n');
            }
        }
        svg.Append(CultureInfo.InvariantCulture, $"""<text transform="translate(14 {Top + plotH / 2}) rotate(-90)" text-anchor="middle">dev accuracy</text>""").Append('\n');
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Tick(double v, bool log) => log ? v.ToString("0e+0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";
}
