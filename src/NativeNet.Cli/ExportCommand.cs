using NativeNet.IO;
using NativeNet.Models;
using NativeNet.Nn;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet export --checkpoint PATH --onnx OUT</c>: rebuilds the model of a <c>nativenet train</c> checkpoint from its
/// metadata, loads its weights and writes it as ONNX (opset 17) with <see cref="Onnx.Export"/>: images
/// [batch, 1, 28, 28] to logits [batch, 10], or for charlstm Int32 indices [time, batch] to logits [time·batch, vocabulary].
/// </summary>
public static class ExportCommand
{
    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(CliArgs args, CliConsole console)
    {
        string path = args.String("checkpoint", "");
        string onnx = args.String("onnx", "");
        args.RejectUnknown("export");
        if (path.Length == 0) throw new UsageException("export needs --checkpoint PATH (a model.safetensors written by 'nativenet train')");
        if (onnx.Length == 0) throw new UsageException("export needs --onnx OUT (the .onnx file to write)");
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' not found");

        var tensors = Checkpoint.Load(path, out var metadata);
        try
        {
            var config = TrainConfig.FromCheckpoint(metadata, path);
            using var model = Build(config, metadata, path);
            var target = model.NamedParameters().Concat(model.NamedBuffers()).ToDictionary(p => "model." + p.Item1, p => p.Item2);
            var stored = tensors.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).ToHashSet();
            var missing = target.Keys.Where(k => !stored.Contains(k)).ToList();
            var unexpected = stored.Where(k => !target.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new InvalidDataException($"checkpoint '{path}' does not fit a {config.Model}: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]");
            foreach (var (name, tensor) in target)
            {
                var source = tensors[name];
                if (!source.Shape.SequenceEqual(tensor.Shape) || source.DType != tensor.DType)
                    throw new InvalidDataException($"checkpoint '{path}': {name} is {source.Describe()}, the {config.Model} needs {tensor.Describe()}");
                Raw.CopyInto(source, tensor);
            }
            using var sample = config.Model == "charlstm" ? Tensor.Zeros([1, 1], DType.Int32) : Tensor.Zeros([1, 1, 28, 28]);
            Onnx.Export(model, sample, onnx);
            console.Out.WriteLine($"{config.Model} from {path} ({model.ParameterCount:N0} parameters) written to {onnx} (ONNX opset {Onnx.ExportOpset}, {new FileInfo(onnx).Length:N0} bytes)");
            return 0;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static Module Build(TrainConfig config, IReadOnlyDictionary<string, string> metadata, string path) => config.Model switch
    {
        "charlstm" => new CharLstm(
            (metadata.TryGetValue("vocabulary", out var v) ? v : throw new InvalidDataException($"checkpoint '{path}' has no 'vocabulary' metadata")).Length,
            config.Embedding, config.Hidden, 1),
        var name when ModelZoo.ImageModels.Contains(name) => ModelZoo.Build(name),
        var other => throw new NotSupportedException($"checkpoint '{path}' holds a '{other}' model, which is not a module and has no ONNX export"),
    };
}
