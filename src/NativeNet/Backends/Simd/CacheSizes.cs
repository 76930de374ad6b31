using System.Globalization;

namespace NativeNet.Backends.Simd;

/// <summary>Cache sizes of this machine as Linux reports them (<c>/sys/devices/system/cpu/cpu0/cache</c>), for the GEMM's blocking.</summary>
internal static class CacheSizes
{
    private const string Root = "/sys/devices/system/cpu/cpu0/cache";

    /// <summary>
    /// Bytes of the level-<paramref name="level"/> data (or unified) cache of CPU 0, or <paramref name="fallback"/> when
    /// the machine does not say (not Linux, no sysfs, or an unreadable or implausible entry).
    /// </summary>
    public static int DataBytes(int level, int fallback)
    {
        try
        {
            if (!Directory.Exists(Root)) return fallback;
            foreach (var dir in Directory.EnumerateDirectories(Root, "index*"))
            {
                if (ReadTrimmed(dir, "level") != level.ToString(CultureInfo.InvariantCulture)) continue;
                if (ReadTrimmed(dir, "type") is not ("Data" or "Unified")) continue;
                long bytes = ParseSize(ReadTrimmed(dir, "size"));
                if (bytes >= 4 * 1024 && bytes <= 1L << 30) return (int)bytes;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return fallback;
    }

    private static string? ReadTrimmed(string dir, string file)
    {
        string path = Path.Combine(dir, file);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>"48K", "2048K", "32M" or a plain byte count; −1 when it is none of these.</summary>
    internal static long ParseSize(string? text)
    {
        if (string.IsNullOrEmpty(text)) return -1;
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1024, 'M' => 1024 * 1024, 'G' => 1024 * 1024 * 1024, _ => 1 };
        string digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v * unit : -1;
    }
}
