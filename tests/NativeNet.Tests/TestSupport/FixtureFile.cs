using NativeNet.IO;
using NUnit.Framework;

namespace NativeNet.Tests;

/// <summary>
/// A safetensors fixture in the test output's Fixtures folder, loaded on first use and then shared by every test:
/// its tensors by name and its metadata, whose "cases" entry lists the fixture's cases, comma-separated.
/// </summary>
internal sealed class FixtureFile(string fileName)
{
    private Dictionary<string, Tensor>? _tensors;
    private IReadOnlyDictionary<string, string>? _meta;

    public Dictionary<string, Tensor> Tensors
    {
        get { Load(); return _tensors!; }
    }

    public IReadOnlyDictionary<string, string> Meta
    {
        get { Load(); return _meta!; }
    }

    public IEnumerable<string> Cases() => Meta["cases"].Split(',');

    /// <summary>Every tensor of case <paramref name="name"/>'s group <paramref name="group"/> ("input", "param", …) by its short name.</summary>
    public Dictionary<string, Tensor> Group(string name, string group)
    {
        string prefix = $"{name}/{group}/";
        return Tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
    }

    private void Load()
    {
        if (_tensors is not null) return;
        var tensors = Checkpoint.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", fileName), out var meta);
        _meta = meta;
        _tensors = tensors;
    }
}
