using System.Diagnostics;
using System.Globalization;

namespace NativeNet.Cli;

/// <summary>
/// The benchmark method shared by every <c>nativenet bench</c> figure, the same as the PyTorch anchors' torch_micro.py:
/// warm-up calls, then timed calls until at least <c>minRepeats</c> calls AND at least <c>minSeconds</c> have passed
/// (at most <c>maxRepeats</c>), reporting the median. It also measures the CPU time other processes used meanwhile.
/// </summary>
public static class Measurement
{
    /// <summary>Timing of one benchmark.</summary>
    /// <param name="MedianMs">Median milliseconds per call.</param>
    /// <param name="MinMs">Fastest call.</param>
    /// <param name="Repeats">Timed calls.</param>
    /// <param name="OtherLoad">Cores busy with other processes during the timed calls (from /proc/stat; NaN when unknown).</param>
    public sealed record Result(double MedianMs, double MinMs, int Repeats, double OtherLoad);

    /// <summary>Times <paramref name="action"/>.</summary>
    public static Result Run(Action action, int warmup = 5, int minRepeats = 30, double minSeconds = 1.0, int maxRepeats = 1000)
    {
        ArgumentNullException.ThrowIfNull(action);
        for (int i = 0; i < warmup; i++) action();
        var times = new List<double>();
        var before = BusySeconds();
        var wall = Stopwatch.StartNew();
        while ((times.Count < minRepeats || wall.Elapsed.TotalSeconds < minSeconds) && times.Count < maxRepeats)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        double elapsed = wall.Elapsed.TotalSeconds;
        var after = BusySeconds();
        double other = before is { } b && after is { } a ? Math.Max(0, ((a.System - b.System) - (a.Own - b.Own)) / elapsed) : double.NaN;
        times.Sort();
        int n = times.Count;
        double median = n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
        return new Result(median, times[0], n, other);
    }

    /// <summary>(busy CPU seconds of the whole machine incl. steal, CPU seconds of this process), or null off Linux.</summary>
    private static (double System, double Own)? BusySeconds()
    {
        try
        {
            string first = File.ReadLines("/proc/stat").First();
            var v = first.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            const double ticksPerSecond = 100; // USER_HZ, 100 on every Linux configuration .NET runs on
            double busy = (v.Sum() - v[3] - v[4]) / ticksPerSecond;
            return (busy, Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
