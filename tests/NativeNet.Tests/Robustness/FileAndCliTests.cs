using System.Diagnostics;
using System.Text;
using NativeNet.Cli;
using NativeNet.IO;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>Regression tests of issue 12's files and flags: every failure names its file or flag; interrupted saves leave nothing behind.</summary>
[NonParallelizable]
public class FileAndCliTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), $"nativenet-files-{Guid.NewGuid():N}"));

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private static string TempName(string file) => $".{Path.GetFileName(file)}.{Guid.NewGuid():N}.tmp";

    [Test]
    public void CheckpointWithAnInvalidUtf8HeaderNamesTheFile()
    {
        string path = Path.Combine(_dir, "bad-utf8.safetensors");
        var header = Encoding.ASCII.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"x\":\"  \"}}");
        header[^5] = 0xff; // inside the metadata string
        header[^4] = 0xfe;
        var file = new byte[8 + header.Length + 4];
        BitConverter.GetBytes((ulong)header.Length).CopyTo(file, 0);
        header.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("UTF-8"));
        Assert.Throws<CheckpointFormatException>(() => Checkpoint.ReadMetadata(path));
    }

    [Test]
    public void CheckpointWithALoneSurrogateEscapeNamesTheFile()
    {
        string path = Path.Combine(_dir, "surrogate.safetensors");
        var header = Encoding.ASCII.GetBytes("{\"w\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        var file = new byte[8 + header.Length + 4];
        BitConverter.GetBytes((ulong)header.Length).CopyTo(file, 0);
        header.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("surrogate"));
    }

    [Test]
    public void StaleTemporariesAreRemovedByTheNextSave()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        string stale = Path.Combine(_dir, TempName(path));
        File.WriteAllBytes(stale, new byte[1000]);
        string unrelated = Path.Combine(_dir, ".model.safetensors.not-a-guid.tmp");
        File.WriteAllBytes(unrelated, [1]);
        string busy = Path.Combine(_dir, TempName(path));
        using (var writer = new FileStream(busy, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            using var t = Tensor.Ones(3);
            Checkpoint.Save(path, new Dictionary<string, Tensor> { ["t"] = t });
            Assert.That(File.Exists(stale), Is.False, "a temporary of an interrupted save");
            Assert.That(File.Exists(busy), Is.True, "a temporary another writer holds open is left alone");
        }
        Assert.That(File.Exists(unrelated), Is.True, "only NAME.GUID.tmp files are touched");
        Assert.That(Checkpoint.RemoveStaleTemporaries(path), Is.EqualTo(1), "the no longer held one");
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "model.safetensors", ".model.safetensors.not-a-guid.tmp" }));
    }

    [Test]
    public void InterruptedSaveRemovesItsTemporary()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        using var process = Process.Start(ProbeProcess.StartInfo("save-loop", path))!;
        try
        {
            Assert.That(process.StandardOutput.ReadLine(), Is.EqualTo("saving"));
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(path) && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.That(File.Exists(path), "the probe completed no save within 60 s");
            // the probe saves 32 MB in a loop: a temporary is (almost always) being written at this moment
            bool caughtWriting = false;
            for (int i = 0; i < 100 && !caughtWriting; i++)
            {
                caughtWriting = Directory.GetFiles(_dir, "*.tmp").Length > 0;
                if (!caughtWriting) Thread.Sleep(5);
            }
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            Assert.That(process.WaitForExit(30_000), "the probe did not stop on SIGINT");
            Assert.That(caughtWriting, "never saw a save in progress: the test proves nothing");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        Assert.That(Directory.GetFiles(_dir, "*.tmp"), Is.Empty, "SIGINT during a save must remove the temporary");
        using var loaded = new DisposingList(Checkpoint.Load(path).Values);
        Assert.That(loaded.Items.Single().Numel, Is.EqualTo(8 << 20), "the last complete checkpoint is intact");
    }

    private sealed class DisposingList(IEnumerable<Tensor> items) : IDisposable
    {
        public List<Tensor> Items { get; } = items.ToList();
        public void Dispose() => Items.ForEach(t => t.Dispose());
    }

    [Test]
    public void AtomicWritesReplaceWholeFilesAndSweepStaleTemporaries()
    {
        string path = Path.Combine(_dir, "metrics.json");
        string stale = Path.Combine(_dir, TempName(path));
        File.WriteAllText(stale, "{\"half\":");
        AtomicFile.WriteAllText(path, "{\"first\": 1}\n");
        AtomicFile.WriteAllText(path, "{\"second\": 2}\n");
        Assert.That(File.ReadAllText(path), Is.EqualTo("{\"second\": 2}\n"));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EqualTo(new[] { "metrics.json" }));
        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(Path.Combine(_dir, "missing", "x.svg"), "<svg/>"));
    }

    private static (int Code, string Error) Cli(params string[] args)
    {
        var error = new StringWriter();
        int code = CommandLine.Run(args, new CliConsole(new StringWriter(), error, Interactive: false));
        return (code, error.ToString());
    }

    [TestCase("train", "--out")]
    [TestCase("train", "--data")]
    [TestCase("eval", "--checkpoint")]
    [TestCase("eval", "--data")]
    public void EmptyPathFlagsNameTheFlag(string command, string flag)
    {
        var args = command == "eval" && flag != "--checkpoint" ? new[] { command, "--checkpoint", "x.safetensors", flag, "" } : new[] { command, flag, "" };
        var (code, error) = Cli(args);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.StartWith("nativenet: ").And.Contain(flag).And.Contain("non-empty path"));
        Assert.That(error, Does.Not.Contain("Parameter"));
    }
}
