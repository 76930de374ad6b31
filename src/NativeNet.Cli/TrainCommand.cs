using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeNet.IO;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet train --model mlp|cnn|resnet|charlstm ...</c>: trains with the chosen optimizer, reports each epoch's test
/// accuracy, and writes metrics.json, metrics.svg and the checkpoint model.safetensors (model, optimizer state, metadata)
/// into the output directory after every epoch.
/// </summary>
public static class TrainCommand
{
    /// <summary>Metadata format tag of the checkpoints this command writes.</summary>
    public const string Format = "nativenet-train/1";

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(CliArgs args, CliConsole console)
    {
        var config = TrainConfig.Parse(args);
        bool json = args.Flag("json");
        args.RejectUnknown("train");
        var device = config.ApplyBackend();
        string loadStart = LoadAverage();

        using var task = TrainingTask.Create(config, device);
        using var optimizer = config.CreateOptimizer(task.Model.NamedParameters());
        Directory.CreateDirectory(config.Out);
        var epochs = new List<EpochMetrics>();
        var total = Stopwatch.StartNew();
        Reporter.Run(console, json, config.Epochs * task.StepsPerEpoch, reporter =>
        {
            reporter.Line(task.Description);
            reporter.Line(string.Create(CultureInfo.InvariantCulture,
                $"{config.Optimizer} lr {config.LearningRate}, batch {config.Batch}, {config.Epochs} epoch(s), backend {config.Backend}, {config.Threads} thread(s), seed {config.Seed}; output {config.Out}"));
            for (int epoch = 1; epoch <= config.Epochs; epoch++)
            {
                var clock = Stopwatch.StartNew();
                double lossSum = 0;
                long correct = 0, seen = 0;
                int step = 0;
                foreach (var result in task.TrainEpoch(epoch - 1, optimizer))
                {
                    if (!double.IsFinite(result.Loss)) throw new InvalidOperationException($"the training loss became {result.Loss} at epoch {epoch} step {step + 1}; try a smaller --lr");
                    step++;
                    lossSum += result.Loss * result.Count;
                    correct += result.Correct;
                    seen += result.Count;
                    reporter.Step(new StepProgress(epoch, config.Epochs, step, task.StepsPerEpoch, lossSum / seen, (double)correct / seen, seen / clock.Elapsed.TotalSeconds));
                }
                double seconds = clock.Elapsed.TotalSeconds;
                var evalClock = Stopwatch.StartNew();
                var test = task.Evaluate();
                string? sample = task.Sample(epoch);
                var metrics = new EpochMetrics(epoch, lossSum / seen, (double)correct / seen, test.Loss, test.Accuracy, seconds, evalClock.Elapsed.TotalSeconds, seen / seconds, sample);
                epochs.Add(metrics);
                reporter.Epoch(metrics, config.Epochs);
                Save(config, task, optimizer, epochs, loadStart, total.Elapsed.TotalSeconds);
            }
        });
        if (!json)
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test accuracy {epochs[^1].TestAccuracy * 100:F2}% after {config.Epochs} epoch(s), {total.Elapsed.TotalSeconds:F1} s; wrote {Path.Combine(config.Out, "metrics.json")}, metrics.svg, model.safetensors"));
        return 0;
    }

    private static void Save(TrainConfig config, TrainingTask task, NativeNet.Optim.Optimizer optimizer, List<EpochMetrics> epochs, string loadStart, double seconds)
    {
        var last = epochs[^1];
        var tensors = task.ModelTensors();
        var state = optimizer.StateDict();
        foreach (var (name, t) in state) tensors["optimizer." + name] = t;
        var metadata = task.Metadata();
        metadata["format"] = Format;
        metadata["model"] = config.Model;
        metadata[TrainingTask.ConfigKey] = config.ToJson();
        metadata["epochs_trained"] = last.Epoch.ToString(CultureInfo.InvariantCulture);
        metadata["test_accuracy"] = last.TestAccuracy.ToString("R", CultureInfo.InvariantCulture);
        try
        {
            Checkpoint.Save(Path.Combine(config.Out, "model.safetensors"), tensors, metadata);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }

        string metricsJson = Json.Write(json =>
        {
            json.WriteStartObject();
            json.WritePropertyName("config");
            using (var doc = JsonDocument.Parse(config.ToJson())) doc.WriteTo(json);
            json.WriteNumber("parameters", task.Model.ParameterCount);
            json.WriteString("machine", $"{Environment.ProcessorCount} cores, .NET {Environment.Version}");
            json.WriteString("load_average_start", loadStart);
            json.WriteString("load_average_end", LoadAverage());
            json.WriteNumber("total_seconds", Math.Round(seconds, 3));
            json.WriteNumber("final_test_acc", last.TestAccuracy);
            json.WriteStartArray("epochs");
            foreach (var e in epochs) e.WriteJson(json);
            json.WriteEndArray();
            json.WriteEndObject();
        }, indented: true);
        AtomicFile.WriteAllText(Path.Combine(config.Out, "metrics.json"), metricsJson + "\n");
        AtomicFile.WriteAllText(Path.Combine(config.Out, "metrics.svg"),
            SvgChart.Render($"{config.Model}: train loss and test accuracy ({config.Optimizer} lr {config.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {config.Batch})", epochs));
    }

    /// <summary>The 1/5/15-minute load averages (Linux), to judge timings on a shared machine.</summary>
    internal static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
