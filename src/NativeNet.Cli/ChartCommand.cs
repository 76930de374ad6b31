using System.Globalization;
using System.Text.Json;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet chart bench --data FILE --out PATH</c>: draws the benchmark chart of bench/RESULTS.md (PATH.png and
/// PATH.svg) from the bars that bench/scripts/make_results.py computes from a side-by-side run:
/// <c>{"title": "...", "bars": [{"family": "...", "label": "...", "ratio": 1.23}, ...]}</c>.
/// </summary>
public static class ChartCommand
{
    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string which, CliArgs args, CliConsole console)
    {
        if (which != "bench") throw new UsageException($"unknown chart '{which}'; the one chart drawn from a file is 'bench'");
        string data = args.String("data", "");
        string output = args.String("out", "");
        args.RejectUnknown("chart bench");
        if (data.Length == 0) throw new UsageException("chart bench needs --data FILE (the JSON written by bench/scripts/make_results.py)");
        if (output.Length == 0) throw new UsageException("chart bench needs --out PATH (written as PATH.png and PATH.svg)");
        if (!File.Exists(data)) throw new FileNotFoundException($"chart bench: data file '{data}' not found");
        var (title, bars) = Read(data);
        var (png, svg) = Charts.Bench(title, bars).Save(output);
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {png} and {svg} ({bars.Count} bars)"));
        return 0;
    }

    /// <summary>Reads the chart's title and bars from the JSON file at <paramref name="path"/>.</summary>
    public static (string Title, List<Charts.BenchBar> Bars) Read(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            string title = root.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "NativeNet speed relative to the reference";
            if (!root.TryGetProperty("bars", out var bars) || bars.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"chart bench: '{path}' has no \"bars\" array");
            var list = new List<Charts.BenchBar>();
            foreach (var bar in bars.EnumerateArray())
            {
                if (!bar.TryGetProperty("family", out var family) || !bar.TryGetProperty("label", out var label) || !bar.TryGetProperty("ratio", out var ratio) || ratio.ValueKind != JsonValueKind.Number)
                    throw new InvalidDataException($"chart bench: bar {list.Count} of '{path}' needs \"family\", \"label\" and a numeric \"ratio\"");
                list.Add(new Charts.BenchBar(family.GetString() ?? "", label.GetString() ?? "", ratio.GetDouble()));
            }
            return (title, list);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"chart bench: '{path}' is not valid JSON: {e.Message}");
        }
    }
}
