using System.Globalization;
using System.Security;
using System.Text;

namespace NativeNet.Cli;

/// <summary>
/// A hand-written SVG line chart of training loss (left axis) and test accuracy (right axis, percent) per epoch.
/// </summary>
public static class SvgChart
{
    private const double Width = 720, Height = 400, Left = 70, Right = 70, Top = 50, Bottom = 60;

    /// <summary>The chart of <paramref name="epochs"/> as a standalone SVG document.</summary>
    public static string Render(string title, IReadOnlyList<EpochMetrics> epochs)
    {
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        int n = epochs.Count;
        double lossMax = NiceCeiling(epochs.Count == 0 ? 1 : epochs.Max(e => e.TrainLoss));
        double accMin = epochs.Count == 0 ? 0 : Math.Floor(epochs.Min(e => e.TestAccuracy) * 10) / 10;
        accMin = Math.Clamp(accMin - 0.1, 0, 0.9);
        double X(int i) => Left + (n <= 1 ? plotW / 2 : plotW * i / (n - 1));
        double YLoss(double v) => Top + plotH * (1 - v / lossMax);
        double YAcc(double v) => Top + plotH * (1 - (v - accMin) / (1 - accMin));

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect x="0" y="0" width="{Width}" height="{Height}" fill="white"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Width / 2}" y="24" text-anchor="middle" font-size="15">{Escape(title)}</text>""").Append('\n');
        // Grid and axis ticks: 5 intervals on both scales.
        for (int k = 0; k <= 5; k++)
        {
            double y = Top + plotH * k / 5;
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{y:F1}" x2="{Width - Right}" y2="{y:F1}" stroke="#ddd"/>""").Append('\n');
            double loss = lossMax * (5 - k) / 5;
            double acc = accMin + (1 - accMin) * (5 - k) / 5;
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left - 6}" y="{y + 4:F1}" text-anchor="end" fill="#1f77b4">{loss:0.###}</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Width - Right + 6}" y="{y + 4:F1}" text-anchor="start" fill="#d62728">{acc * 100:0.#}%</text>""").Append('\n');
        }
        for (int i = 0; i < n; i++)
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{X(i):F1}" y="{Top + plotH + 18}" text-anchor="middle">{epochs[i].Epoch}</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{Left}" y="{Top}" width="{plotW}" height="{plotH}" fill="none" stroke="#333"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left + plotW / 2}" y="{Height - 16}" text-anchor="middle">epoch</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text transform="translate(18 {Top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#1f77b4">train loss</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text transform="translate({Width - 14} {Top + plotH / 2}) rotate(90)" text-anchor="middle" fill="#d62728">test accuracy</text>""").Append('\n');
        Series(svg, epochs.Select((e, i) => (X(i), YLoss(e.TrainLoss))).ToList(), "#1f77b4", "train-loss");
        Series(svg, epochs.Select((e, i) => (X(i), YAcc(e.TestAccuracy))).ToList(), "#d62728", "test-accuracy");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Series(StringBuilder svg, List<(double X, double Y)> points, string colour, string id)
    {
        if (points.Count == 0) return;
        string path = string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.X:F1},{p.Y:F1}")));
        svg.Append(CultureInfo.InvariantCulture, $"""<polyline id="{id}" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>""").Append('\n');
        foreach (var (x, y) in points)
            svg.Append(CultureInfo.InvariantCulture, $"""<circle cx="{x:F1}" cy="{y:F1}" r="3.5" fill="{colour}"/>""").Append('\n');
    }

    /// <summary>1, 2, 2.5 or 5 times a power of ten, at least <paramref name="value"/>.</summary>
    private static double NiceCeiling(double value)
    {
        if (!(value > 0) || !double.IsFinite(value)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (double m in new[] { 1, 2, 2.5, 5, 10 })
            if (m * power >= value) return m * power;
        return 10 * power;
    }

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";
}
