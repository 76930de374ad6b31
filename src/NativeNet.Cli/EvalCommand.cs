using System.Globalization;
using NativeNet.IO;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet eval --checkpoint PATH</c>: rebuilds the model (and optimizer, so the whole checkpoint must fit) from the
/// checkpoint's metadata, loads the tensors with <see cref="Checkpoint.LoadInto"/> and prints the test accuracy.
/// </summary>
public static class EvalCommand
{
    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(CliArgs args, CliConsole console)
    {
        string path = args.PathOption("checkpoint", "")!;
        if (path.Length == 0) throw new UsageException("eval needs --checkpoint PATH (a model.safetensors written by 'nativenet train')");
        bool hasBackend = args.Has("backend"), hasThreads = args.Has("threads");
        string backend = args.Choice("backend", NativeNet.Backends.Backend.DefaultCpu.Name, "naive", "simd", "cuda");
        int threads = args.Int("threads", Environment.ProcessorCount, 1, 1024);
        string? data = args.PathOption("data", null);
        string? text = args.PathOption("text", null);
        bool json = args.Flag("json");
        bool report = args.Flag("report");
        int worst = args.Int("worst", 32, 0, 10_000);
        string reportOut = args.String("report-out", "");
        args.RejectUnknown("eval");

        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' not found");
        var metadata = Checkpoint.ReadMetadata(path);
        var config = TrainConfig.FromCheckpoint(metadata, path);
        if (!TrainConfig.Models.Contains(config.Model)) throw new InvalidDataException($"checkpoint '{path}' names an unknown model '{config.Model}'");
        // The run's own backend and threads unless overridden, so the accuracy is reproduced exactly by default.
        config = config with
        {
            Backend = hasBackend ? backend : config.Backend,
            Threads = hasThreads ? threads : config.Threads,
            Data = data ?? config.Data,
            Text = text ?? config.Text,
        };
        var device = config.ApplyBackend();
        using var task = TrainingTask.Create(config, device, metadata);
        using var optimizer = config.CreateOptimizer(task.Model.NamedParameters());
        var target = task.ModelTensors();
        var state = optimizer.StateDict();
        try
        {
            foreach (var (name, tensor) in state) target["optimizer." + name] = tensor;
            Checkpoint.LoadInto(path, target);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
        if (report && task is not ImageTask) throw new UsageException("eval --report is for the image models (mlp, cnn, resnet)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = task.Evaluate();
        if (report)
            EvalReport.Run((ImageTask)task, device, worst, reportOut.Length > 0 ? reportOut : Path.GetDirectoryName(Path.GetFullPath(path))!, console, json);
        double seconds = clock.Elapsed.TotalSeconds;
        if (json)
        {
            console.Out.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("checkpoint", path);
                w.WriteString("model", config.Model);
                w.WriteString("backend", config.Backend);
                w.WriteNumber("test_loss", Math.Round(result.Loss, 6));
                w.WriteNumber("test_acc", result.Accuracy);
                w.WriteNumber("count", result.Count);
                w.WriteNumber("seconds", Math.Round(seconds, 3));
                w.WriteEndObject();
            }));
        }
        else
        {
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{config.Model} from {path}: test accuracy {result.Accuracy * 100:F2}% ({result.Count} {(config.Model == "charlstm" ? "characters" : "images")}), test loss {result.Loss:F4}, backend {config.Backend}, {seconds:F1} s"));
        }
        return 0;
    }
}
