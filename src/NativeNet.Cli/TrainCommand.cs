using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeNet.IO;
using NativeNet.Training;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet train --model mlp|cnn|resnet|charlstm|transformer|chargpt ...</c>: a front end over <see cref="Trainer"/>. Trains with the
/// chosen optimizer, reports each epoch's test (and with <c>--dev-fraction</c> dev) accuracy, and writes metrics.json,
/// metrics.png and metrics.svg (the ScottPlot training chart) and the checkpoint model.safetensors (model, optimizer state, metadata) into the output directory after
/// every epoch, plus resume.safetensors (everything <c>--resume DIR</c> needs) at epoch ends and every
/// <c>--checkpoint-every</c> steps.
/// </summary>
public static class TrainCommand
{
    /// <summary>Metadata format tag of the checkpoints this command writes.</summary>
    public const string Format = "nativenet-train/1";

    /// <summary>File name of the resume checkpoint in the output directory.</summary>
    public const string ResumeFile = "resume.safetensors";

    private const string HistoryKey = "history", LoadStartKey = "load_average_start";

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(CliArgs args, CliConsole console)
    {
        string resume = args.String("resume", "");
        bool json = args.Flag("json");
        TrainConfig config;
        var epochs = new List<EpochMetrics>();
        string loadStart = LoadAverage();
        if (resume.Length > 0)
        {
            args.RejectUnknown("train --resume (the run continues with its saved settings)");
            string path = Path.Combine(resume, ResumeFile);
            if (!File.Exists(path)) throw new FileNotFoundException($"nothing to resume: '{path}' not found ('nativenet train' writes it at every epoch end and every --checkpoint-every steps)");
            var metadata = Checkpoint.ReadMetadata(path);
            if (!metadata.TryGetValue("format", out var format) || format != Format || !metadata.TryGetValue(TrainingTask.ConfigKey, out var configJson) || !metadata.TryGetValue(HistoryKey, out var history))
                throw new InvalidDataException($"'{path}' was not written by 'nativenet train' (no {Format} resume metadata)");
            // The budget of the interrupted session is not part of the run being continued.
            config = TrainConfig.FromJson(configJson) with { Out = resume, MaxSteps = null };
            epochs = ReadHistory(history);
            loadStart = metadata.TryGetValue(LoadStartKey, out var load) ? load : loadStart;
        }
        else
        {
            config = TrainConfig.Parse(args);
            args.RejectUnknown("train");
        }
        var device = config.ApplyBackend();

        using var task = TrainingTask.Create(config, device);
        using var optimizer = config.CreateOptimizer(task.Model.NamedParameters());
        Directory.CreateDirectory(config.Out);
        string resumePath = Path.Combine(config.Out, ResumeFile);
        var total = Stopwatch.StartNew();
        var trainer = task.CreateTrainer(new TrainerOptions
        {
            Epochs = config.Epochs,
            MaxSteps = config.MaxSteps ?? 0,
            Seed = config.Seed,
            EvaluateEvery = config.EvalEvery ?? 0,
            TimeBudgetSeconds = config.TimeBudget ?? 0,
        }, optimizer);
        var early = config.EarlyStop is { } patience ? new EarlyStopping("accuracy", patience, restoreBest: true) : null;
        if (early is not null) trainer.Add(early);
        var progress = new Progress(config, task, optimizer, epochs, loadStart, total);
        trainer.Add(progress);
        Dictionary<string, string> ResumeMetadata() => new()
        {
            ["format"] = Format,
            [TrainingTask.ConfigKey] = config.ToJson(),
            [HistoryKey] = Json.Write(w =>
            {
                w.WriteStartArray();
                foreach (var e in epochs) e.WriteJson(w);
                w.WriteEndArray();
            }),
            [LoadStartKey] = loadStart,
        };
        trainer.Add(new CheckpointEvery(resumePath, config.CheckpointEvery ?? 0, atEpochEnd: true, ResumeMetadata));
        if (resume.Length > 0)
        {
            trainer.LoadCheckpoint(resumePath);
            progress.Restart(trainer);
        }

        Reporter.Run(console, json, config.Epochs * task.StepsPerEpoch, reporter =>
        {
            progress.Reporter = reporter;
            reporter.Line(task.Description);
            reporter.Line(string.Create(CultureInfo.InvariantCulture,
                $"{config.Optimizer} lr {config.LearningRate}, batch {config.Batch}, {(config.TimeBudget is { } budget ? $"{budget} s of training (at most {config.Epochs} epochs)" : $"{config.Epochs} epoch(s)")}, backend {config.Backend}, {config.Threads} thread(s), seed {config.Seed}; output {config.Out}"));
            if (resume.Length > 0) reporter.Line($"resumed at epoch {trainer.Epoch + 1} batch {trainer.BatchInEpoch} (step {trainer.Step})");
            trainer.Run();
        });

        if (trainer.Epoch < config.Epochs && !trainer.StopRequested && !trainer.TimeBudgetSpent)
        {
            // Stopped by the step budget: leave a checkpoint exactly here.
            trainer.SaveCheckpoint(resumePath, ResumeMetadata());
            if (!json)
                console.Out.WriteLine($"stopped after step {trainer.Step} (epoch {trainer.Epoch + 1}, batch {trainer.BatchInEpoch}); continue with --resume {config.Out}");
            return 0;
        }
        double finalTest = epochs.Count > 0 ? epochs[^1].TestAccuracy : double.NaN;
        if (early is not null && early.BestStep > 0)
        {
            // The trainer has put the best dev evaluation's weights back; the saved model is that one.
            finalTest = task.Evaluate().Accuracy;
            Save(config, task, optimizer, epochs, loadStart, total.Elapsed.TotalSeconds, finalTest);
            if (!json)
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"early stopping: best dev accuracy {early.BestValue * 100:F2}% at step {early.BestStep}{(early.StoppedAtStep > 0 ? $", stopped at step {early.StoppedAtStep}" : "")}; restored those weights"));
        }
        if (!json)
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test accuracy {finalTest * 100:F2}% after {(epochs.Count > 0 ? epochs[^1].Epoch : 0)} epoch(s), {total.Elapsed.TotalSeconds:F1} s; wrote {Path.Combine(config.Out, "metrics.json")}, metrics.png, metrics.svg, model.safetensors"));
        return 0;
    }

    /// <summary>Reports steps, and at each epoch end evaluates the test set and writes the run's files.</summary>
    private sealed class Progress(TrainConfig config, TrainingTask task, NativeNet.Optim.Optimizer optimizer, List<EpochMetrics> epochs, string loadStart, Stopwatch total) : TrainerCallback
    {
        private Stopwatch _clock = Stopwatch.StartNew();
        private long _samplesAtStart;

        public Reporter? Reporter { get; set; }

        public override void OnTrainBegin(Trainer trainer) => Restart(trainer);

        public override void OnEpochBegin(Trainer trainer, int epoch) => Restart(trainer);

        public void Restart(Trainer trainer)
        {
            _clock = Stopwatch.StartNew();
            _samplesAtStart = trainer.BatchInEpoch == 0 ? 0 : trainer.EpochSamples;
        }

        public override void OnStep(Trainer trainer, StepInfo step) =>
            Reporter?.Step(new StepProgress(step.Epoch + 1, config.Epochs, step.Batch, step.BatchesPerEpoch, trainer.EpochLoss, trainer.EpochAccuracy,
                (trainer.EpochSamples - _samplesAtStart) / _clock.Elapsed.TotalSeconds, task.SampleUnit));

        public override void OnEpochEnd(Trainer trainer, EpochInfo epoch)
        {
            double seconds = _clock.Elapsed.TotalSeconds;
            var evalClock = Stopwatch.StartNew();
            var test = task.Evaluate();
            string? sample = task.Sample(epoch.Epoch + 1);
            var dev = trainer.DevData is null ? null : trainer.LastEvaluation;
            var metrics = new EpochMetrics(epoch.Epoch + 1, epoch.Loss, epoch.Accuracy, test.Loss, test.Accuracy, seconds, evalClock.Elapsed.TotalSeconds,
                (epoch.Count - _samplesAtStart) / seconds, sample, dev?.Loss, dev?.Accuracy, task.SampleUnit);
            epochs.Add(metrics);
            Reporter?.Epoch(metrics, config.Epochs);
            Save(config, task, optimizer, epochs, loadStart, total.Elapsed.TotalSeconds, metrics.TestAccuracy);
        }
    }

    private static List<EpochMetrics> ReadHistory(string history)
    {
        using var doc = JsonDocument.Parse(history);
        return doc.RootElement.EnumerateArray().Select(e => new EpochMetrics(
            e.GetProperty("epoch").GetInt32(), e.GetProperty("train_loss").GetDouble(), e.GetProperty("train_acc").GetDouble(),
            e.GetProperty("test_loss").GetDouble(), e.GetProperty("test_acc").GetDouble(), e.GetProperty("seconds").GetDouble(),
            e.GetProperty("eval_seconds").GetDouble(), e.GetProperty("samples_per_s").GetDouble(),
            e.TryGetProperty("sample", out var s) ? s.GetString() : null,
            e.TryGetProperty("dev_loss", out var dl) ? dl.GetDouble() : null,
            e.TryGetProperty("dev_acc", out var da) ? da.GetDouble() : null,
            e.TryGetProperty("chars_per_s", out _) ? EpochMetrics.CharacterUnit : EpochMetrics.SampleUnit)).ToList();
    }

    private static void Save(TrainConfig config, TrainingTask task, NativeNet.Optim.Optimizer optimizer, List<EpochMetrics> epochs, string loadStart, double seconds, double testAccuracy)
    {
        var tensors = task.ModelTensors();
        var state = optimizer.StateDict();
        foreach (var (name, t) in state) tensors["optimizer." + name] = t;
        var metadata = task.Metadata();
        metadata["format"] = Format;
        metadata["model"] = config.Model;
        metadata[TrainingTask.ConfigKey] = config.ToJson();
        metadata["epochs_trained"] = epochs.Count.ToString(CultureInfo.InvariantCulture);
        metadata["test_accuracy"] = testAccuracy.ToString("R", CultureInfo.InvariantCulture);
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
            json.WriteNumber("final_test_acc", testAccuracy);
            if (task.SampleUnit == EpochMetrics.CharacterUnit && epochs.Count > 0)
            {
                // Whole run: training characters over training seconds (evaluation and sampling excluded), epoch by epoch.
                double characters = epochs.Sum(e => e.SamplesPerSecond * e.Seconds), trainSeconds = epochs.Sum(e => e.Seconds);
                json.WriteNumber("train_seconds", Math.Round(trainSeconds, 3));
                json.WriteNumber("chars_per_s", Math.Round(characters / trainSeconds, 1));
            }
            json.WriteStartArray("epochs");
            foreach (var e in epochs) e.WriteJson(json);
            json.WriteEndArray();
            json.WriteEndObject();
        }, indented: true);
        AtomicFile.WriteAllText(Path.Combine(config.Out, "metrics.json"), metricsJson + "\n");
        Charts.SaveBesideResults(() => Charts.Training($"{config.Model} ({config.Optimizer} lr {config.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {config.Batch})", epochs),
            Path.Combine(config.Out, "metrics"), Console.Error);
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
