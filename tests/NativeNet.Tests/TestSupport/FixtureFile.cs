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

    private void Load()
    {
        if (_tensors is not null) return;
        var tensors = Checkpoint.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", fileName), out var meta);
        _meta = meta;
        _tensors = tensors;
    }
}
