using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace NativeNet.Cli;

/// <summary>Figures of one finished epoch.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
    double Seconds, double EvalSeconds, double SamplesPerSecond, string? Sample, double? DevLoss = null, double? DevAccuracy = null, string Unit = EpochMetrics.SampleUnit)
{
    /// <summary>The unit of <see cref="SamplesPerSecond"/> for the image models: one training image.</summary>
    public const string SampleUnit = "samples";

    /// <summary>The unit of the character models: one predicted training character (the rows of a step's logits).</summary>
    public const string CharacterUnit = "characters";

    /// <summary>Writes the epoch as a JSON object (the --json line and an element of metrics.json).</summary>
    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteNumber("epoch", Epoch);
        json.WriteNumber("train_loss", Math.Round(TrainLoss, 6));
        json.WriteNumber("train_acc", TrainAccuracy);
        json.WriteNumber("test_loss", Math.Round(TestLoss, 6));
        json.WriteNumber("test_acc", TestAccuracy);
        json.WriteNumber("seconds", Math.Round(Seconds, 3));
        json.WriteNumber("eval_seconds", Math.Round(EvalSeconds, 3));
        json.WriteNumber("samples_per_s", Math.Round(SamplesPerSecond, 1));
        if (Unit == CharacterUnit) json.WriteNumber("chars_per_s", Math.Round(SamplesPerSecond, 1));
        if (Sample is not null) json.WriteString("sample", Sample);
        if (DevLoss is { } devLoss) json.WriteNumber("dev_loss", Math.Round(devLoss, 6));
        if (DevAccuracy is { } devAccuracy) json.WriteNumber("dev_acc", devAccuracy);
        json.WriteEndObject();
    }

    /// <summary>The epoch as one line of JSON.</summary>
    public string ToJsonLine() => Json.Write(WriteJson);
}

/// <summary>JSON helpers.</summary>
internal static class Json
{
    /// <summary>Runs <paramref name="write"/> on a fresh writer and returns the compact JSON text.</summary>
    public static string Write(Action<Utf8JsonWriter> write, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(json);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>Live progress of one step: running means over the epoch so far.</summary>
public readonly record struct StepProgress(int Epoch, int Epochs, int Step, int StepsPerEpoch, double Loss, double Accuracy, double SamplesPerSecond, string Unit = EpochMetrics.SampleUnit);

/// <summary>Shows training progress: a Spectre.Console bar on a terminal, plain lines when redirected, JSON lines with --json.</summary>
internal abstract class Reporter
{
    public abstract void Line(string text);
    public abstract void Step(StepProgress p);
    public abstract void Epoch(EpochMetrics m, int epochs);

    /// <summary>Runs <paramref name="body"/> with the reporter that fits the console and mode.</summary>
    public static void Run(CliConsole console, bool json, int totalSteps, Action<Reporter> body)
    {
        if (json) body(new JsonReporter(console.Out));
        else if (!console.Interactive || !ReferenceEquals(console.Out, Console.Out)) body(new PlainReporter(console.Out));
        else
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx => body(new SpectreReporter(ctx, totalSteps)));
        }
    }

    protected static string Describe(EpochMetrics m, int epochs) =>
        string.Create(CultureInfo.InvariantCulture,
            $"epoch {m.Epoch}/{epochs}  train loss {m.TrainLoss:F4}  train acc {m.TrainAccuracy * 100:F2}%  {(m.DevAccuracy is { } dev ? $"dev loss {m.DevLoss:F4}  dev acc {dev * 100:F2}%  " : "")}test loss {m.TestLoss:F4}  test acc {m.TestAccuracy * 100:F2}%  ({m.Seconds:F1} s train, {m.EvalSeconds:F1} s eval, {m.SamplesPerSecond:F0} {m.Unit}/s)");

    private sealed class JsonReporter(TextWriter output) : Reporter
    {
        public override void Line(string text) { }
        public override void Step(StepProgress p) { }
        public override void Epoch(EpochMetrics m, int epochs)
        {
            output.WriteLine(m.ToJsonLine());
            output.Flush();
        }
    }

    private sealed class PlainReporter(TextWriter output) : Reporter
    {
        private DateTime _last = DateTime.UtcNow;

        public override void Line(string text) => output.WriteLine(text);

        public override void Step(StepProgress p)
        {
            // A line every ~10 s keeps logs of long runs alive without flooding them.
            if (p.Step == p.StepsPerEpoch || DateTime.UtcNow - _last < TimeSpan.FromSeconds(10)) return;
            _last = DateTime.UtcNow;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.StepsPerEpoch}  loss {p.Loss:F4}  acc {p.Accuracy * 100:F2}%  {p.SamplesPerSecond:F0} {p.Unit}/s"));
            output.Flush();
        }

        public override void Epoch(EpochMetrics m, int epochs)
        {
            output.WriteLine(Describe(m, epochs));
            if (m.Sample is not null) output.WriteLine($"sample: {m.Sample}");
            output.Flush();
        }
    }

    private sealed class SpectreReporter(ProgressContext context, int totalSteps) : Reporter
    {
        private readonly ProgressTask _task = context.AddTask("training", maxValue: Math.Max(1, totalSteps));

        public override void Line(string text) => AnsiConsole.WriteLine(text);

        public override void Step(StepProgress p)
        {
            _task.Increment(1);
            _task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"epoch {p.Epoch}/{p.Epochs}  loss {p.Loss:F4}  acc {p.Accuracy * 100:F1}%  {p.SamplesPerSecond:F0} {p.Unit}/s"));
        }

        public override void Epoch(EpochMetrics m, int epochs)
        {
            AnsiConsole.WriteLine(Describe(m, epochs));
            if (m.Sample is not null) AnsiConsole.WriteLine($"sample: {m.Sample}");
        }
    }
}

/// <summary>Whole-file writes that a crash or kill never leaves half done: a temporary next to the target, flushed, then renamed over it.</summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/> atomically; the previous file stays intact on failure.</summary>
    public static void WriteAllText(string path, string text)
    {
        string full = Path.GetFullPath(path);
        NativeNet.IO.Checkpoint.RemoveStaleTemporaries(full);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
