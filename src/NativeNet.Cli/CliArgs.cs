using System.Globalization;

namespace NativeNet.Cli;

/// <summary>A command-line usage error: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Minimal "--name value" / "--flag" parser that rejects unknown or malformed options.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <summary>Parses args (after the command name).</summary>
    public CliArgs(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length < 3) throw new UsageException($"unexpected argument '{a}' (options look like --name value)");
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal)) value = list[++i];
            if (!_values.TryAdd(name, value)) throw new UsageException($"option --{name} given twice");
        }
    }

    /// <summary>The raw value of --name without marking it as read (null when absent or a bare flag).</summary>
    public string? Peek(string name) => _values.TryGetValue(name, out var v) ? v?.ToLowerInvariant() : null;

    /// <summary>True when --name was given at all.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>True when --name was given (as a flag or with a value).</summary>
    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var v)) return false;
        if (v is not null) throw new UsageException($"--{name} is a flag and takes no value (got '{v}')");
        return true;
    }

    /// <summary>String option.</summary>
    public string String(string name, string defaultValue)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var v)) return defaultValue;
        return v ?? throw new UsageException($"--{name} needs a value");
    }

    /// <summary>
    /// A file or directory path option: absent gives <paramref name="defaultValue"/>; a given value must be a non-empty
    /// path without NUL characters (the error names the option, not .NET's parameter).
    /// </summary>
    public string? PathOption(string name, string? defaultValue)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var v)) return defaultValue;
        if (v is null) throw new UsageException($"--{name} needs a path");
        if (string.IsNullOrWhiteSpace(v)) throw new UsageException($"--{name} needs a non-empty path, got '{v}'");
        if (v.Contains('\0')) throw new UsageException($"--{name}: the path contains a NUL character");
        return v;
    }

    /// <summary>String option restricted to a set of choices.</summary>
    public string Choice(string name, string defaultValue, params string[] choices)
    {
        string v = String(name, defaultValue).ToLowerInvariant();
        return choices.Contains(v) ? v : throw new UsageException($"--{name} must be one of {string.Join("|", choices)}, got '{v}'");
    }

    /// <summary>Integer option within [min, max].</summary>
    public int Int(string name, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        string s = String(name, defaultValue.ToString(CultureInfo.InvariantCulture));
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)) throw new UsageException($"--{name} must be an integer, got '{s}'");
        if (v < min || v > max) throw new UsageException($"--{name} must be between {min} and {max}, got {v}");
        return v;
    }

    /// <summary>Non-negative floating-point option (strictly positive when <paramref name="positive"/>).</summary>
    public double Double(string name, double defaultValue, bool positive = false)
    {
        string s = String(name, defaultValue.ToString("R", CultureInfo.InvariantCulture));
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v < 0 || (positive && v == 0))
            throw new UsageException($"--{name} must be a {(positive ? "positive" : "non-negative")} number, got '{s}'");
        return v;
    }

    /// <summary>Throws for options that no command read.</summary>
    public void RejectUnknown(string command)
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"{command}: unknown option{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}
