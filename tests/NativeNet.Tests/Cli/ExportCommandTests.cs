using NativeNet.Cli;
using NativeNet.IO;
using NativeNet.Models;
using NUnit.Framework;
using static NativeNet.Tests.CliRun;

namespace NativeNet.Tests.Cli;

/// <summary><c>nativenet export</c>: a training checkpoint becomes an ONNX file that computes what the checkpoint's model computes.</summary>
public class ExportCommandTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = Directory.CreateTempSubdirectory("nativenet-export").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private string WriteCheckpoint(string modelName, NativeNet.Nn.Module model, Dictionary<string, string>? extra = null)
    {
        string path = Path.Combine(_dir, modelName + ".safetensors");
        var tensors = model.NamedParameters().Concat(model.NamedBuffers()).ToDictionary(p => "model." + p.Item1, p => p.Item2);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = TrainCommand.Format,
            [TrainingTask.ConfigKey] = new TrainConfig { Model = modelName, Hidden = 16, Embedding = 8 }.ToJson(),
        };
        foreach (var (k, v) in extra ?? []) metadata[k] = v;
        Checkpoint.Save(path, tensors, metadata);
        return path;
    }

    [Test]
    public void ExportedCheckpointComputesTheTrainedModel()
    {
        using var model = ModelZoo.Cnn(new Generator(5));
        string checkpoint = WriteCheckpoint("cnn", model);
        string onnx = Path.Combine(_dir, "cnn.onnx");
        var result = Run("export", "--checkpoint", checkpoint, "--onnx", onnx);
        Assert.That(result.Code, Is.Zero, result.Error);
        Assert.That(result.Out, Does.Contain("written to").And.Contain("opset 17"));
        using var scope = new TensorScope();
        using var loaded = Onnx.Load(onnx);
        var x = Tensor.Normal([3, 1, 28, 28], 0, 1, new Generator(9));
        model.Eval();
        Approx.AreClose(model.Forward(x), loaded.Forward(x), 1e-5, 1e-5);
    }

    [Test]
    public void ExportsTheCharacterModel()
    {
        using var model = new CharLstm(7, 8, 16, 1, new Generator(6));
        string checkpoint = WriteCheckpoint("charlstm", model, new() { ["vocabulary"] = "abcdefg" });
        string onnx = Path.Combine(_dir, "charlstm.onnx");
        var result = Run("export", "--checkpoint", checkpoint, "--onnx", onnx);
        Assert.That(result.Code, Is.Zero, result.Error);
        using var scope = new TensorScope();
        using var loaded = Onnx.Load(onnx);
        var x = Tensor.FromArray([0, 3, 6, 1, 2, 5], 3, 2);
        Approx.AreClose(model.Forward(x), loaded.Forward(x), 1e-5, 1e-5);
    }

    [Test]
    public void BadArgumentsAreOneLineErrors()
    {
        var missing = Run("export", "--checkpoint", Path.Combine(_dir, "none.safetensors"), "--onnx", Path.Combine(_dir, "x.onnx"));
        Assert.That(missing.Code, Is.EqualTo(1));
        Assert.That(missing.Error.Trim(), Does.StartWith("nativenet: ").And.Contain("not found"));
        var noOut = Run("export", "--checkpoint", "model.safetensors");
        Assert.That(noOut.Code, Is.EqualTo(2));
        Assert.That(noOut.Error, Does.Contain("--onnx"));
        using var model = ModelZoo.Mlp(new Generator(1));
        string wrong = WriteCheckpoint("cnn", model);
        var mismatch = Run("export", "--checkpoint", wrong, "--onnx", Path.Combine(_dir, "y.onnx"));
        Assert.That(mismatch.Code, Is.EqualTo(1));
        Assert.That(mismatch.Error, Does.Contain("does not fit a cnn"));
    }
}
