using System.Diagnostics;
using System.Globalization;
using NativeNet.Data;
using NativeNet.Models;
using NativeNet.Nn;
using NativeNet.Optim;
using NativeNet.Training;
using Spectre.Console;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet tune</c>: random search over learning rate, weight decay and batch size (each a space such as
/// <c>log:1e-4:1e-2</c> or <c>choice:64,128,256</c>, or a fixed number) for an image model, with successive halving of
/// poor trials on a stratified dev split. Prints a table sorted by dev accuracy and writes tune.json and tune.png/tune.svg
/// (dev accuracy against each hyper-parameter, log axes for log spaces).
/// </summary>
public static class TuneCommand
{
    private const int EvalBatch = 1000;

    /// <summary>The hyper-parameters tune can search, with their flags.</summary>
    private static readonly (string Flag, string Name)[] s_searchable = [("lr", "lr"), ("weight-decay", "weight_decay"), ("batch", "batch")];

    /// <summary>One trial's state while the search runs.</summary>
    private sealed class Trial(int index, IReadOnlyDictionary<string, double> values) : IDisposable
    {
        public int Index { get; } = index;
        public IReadOnlyDictionary<string, double> Values { get; } = values;
        public Module? Model { get; set; }
        public Optimizer? Optimizer { get; set; }
        public DataLoader? Loader { get; set; }
        public Trainer? Trainer { get; set; }
        public List<(long Steps, double Accuracy, double Loss)> Rungs { get; } = [];
        public double Seconds { get; set; }

        public void Dispose()
        {
            Loader?.Dispose();
            Optimizer?.Dispose();
            Model?.Dispose();
            (Loader, Optimizer, Model, Trainer) = (null, null, null, null);
        }
    }

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(CliArgs args, CliConsole console)
    {
        string model = args.Choice("model", "cnn", [.. ModelZoo.ImageModels]);
        int trials = args.Int("trials", 16, 1, 10_000);
        int budget = args.Int("budget-steps", 2000, 1, 100_000_000);
        int eta = args.Int("eta", 2, 2, 100);
        int maxRungs = args.Int("rungs", 4, 1, 64);
        string optimizerName = args.Choice("optimizer", "adam", TrainConfig.Optimizers);
        double devFraction = args.Double("dev-fraction", 0.1, positive: true);
        if (devFraction >= 1) throw new UsageException($"--dev-fraction must be in (0, 1), got {devFraction.ToString(CultureInfo.InvariantCulture)}");
        var dimensions = new List<SearchDimension>();
        var fixedValues = new Dictionary<string, double>();
        double[] defaults = [1e-3, 0, 128];
        for (int i = 0; i < s_searchable.Length; i++)
        {
            var (flag, name) = s_searchable[i];
            string text = args.String(flag, "");
            if (text.Length == 0) fixedValues[name] = defaults[i];
            else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) fixedValues[name] = v;
            else
            {
                try
                {
                    dimensions.Add(SearchDimension.Parse(name, text));
                }
                catch (FormatException e)
                {
                    throw new UsageException($"--{flag}: {e.Message}");
                }
            }
        }
        if (dimensions.Count == 0) throw new UsageException("tune needs at least one search space, e.g. --lr log:1e-4:1e-2 --weight-decay log:1e-6:1e-3 --batch choice:64,128,256");
        string backendName = args.Choice("backend", NativeNet.Backends.Backend.DefaultCpu.Name, "naive", "simd", "cuda");
        int threads = args.Int("threads", Environment.ProcessorCount, 1, 1024);
        int seed = args.Int("seed", 42);
        int limit = args.Int("limit", 0, 0);
        string? data = args.String("data", "") is { Length: > 0 } d ? d : null;
        string stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string outDir = args.String("out", Path.Combine("runs", $"tune-{model}-{stamp}"));
        bool json = args.Flag("json");
        args.RejectUnknown("tune");

        var device = TrainConfig.ApplyBackend(backendName, threads);
        string loadStart = TrainCommand.LoadAverage();
        var total = Stopwatch.StartNew();
        var (x, y) = FashionMnist.Load(train: true, data);
        TensorDataset full;
        using (x)
        using (y)
        {
            int n = limit > 0 ? Math.Min(limit, x.Shape[0]) : x.Shape[0];
            using var xs = x.Narrow(0, 0, n);
            using var ys = y.Narrow(0, 0, n);
            full = new TensorDataset(xs, ys);
        }
        var (trainSet, devSet) = DevSplit.Stratified(full, devFraction, seed);
        var normalize = Normalize.Fit(trainSet, NormalizeMode.Global);
        using var devLoader = new DataLoader(devSet, EvalBatch, shuffle: false, prefetch: 0, transform: normalize);
        var search = new RandomSearch(dimensions, seed);
        var all = Enumerable.Range(0, trials).Select(t => new Trial(t, Merge(search.Sample(t), fixedValues))).ToList();
        var rungs = SuccessiveHalving.Rungs(budget, trials, eta, maxRungs);
        TextWriter? log = json ? null : console.Out;
        log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tune {model}: {trials} trial(s), random search over {string.Join(", ", dimensions.Select(Describe))}; {optimizerName}; rungs at {string.Join(", ", rungs)} steps (eta {eta}); " +
            $"{trainSet.Count} train / {devSet.Count} dev (stratified), backend {backendName}, {threads} thread(s), seed {seed}"));
        try
        {
            SuccessiveHalving.Run(trials, rungs, (t, steps) =>
            {
                var trial = all[t];
                var clock = Stopwatch.StartNew();
                trial.Trainer ??= Start(trial, model, optimizerName, seed, budget, trainSet, devLoader, normalize, device);
                trial.Trainer.Run(untilStep: steps);
                var dev = trial.Trainer.Evaluate(devLoader);
                trial.Seconds += clock.Elapsed.TotalSeconds;
                trial.Rungs.Add((steps, dev.Accuracy, dev.Loss));
                log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"trial {t + 1}/{trials}  {Values(trial.Values)}  {steps} steps: dev acc {dev.Accuracy * 100:F2}%  dev loss {dev.Loss:F4}  ({trial.Seconds:F1} s)"));
                log?.Flush();
                return dev.Accuracy;
            }, eta, eliminated: t => all[t].Dispose());
        }
        finally
        {
            foreach (var trial in all) trial.Dispose();
        }

        var ranked = all.OrderByDescending(t => t.Rungs[^1].Steps).ThenByDescending(t => t.Rungs[^1].Accuracy).ThenBy(t => t.Index).ToList();
        Directory.CreateDirectory(outDir);
        string tuneJson = Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteString("optimizer", optimizerName);
            w.WriteNumber("trials", trials);
            w.WriteNumber("budget_steps", budget);
            w.WriteNumber("eta", eta);
            w.WriteStartArray("rungs");
            foreach (long r in rungs) w.WriteNumberValue(r);
            w.WriteEndArray();
            w.WriteNumber("dev_fraction", devFraction);
            w.WriteNumber("seed", seed);
            w.WriteString("backend", backendName);
            w.WriteNumber("threads", threads);
            w.WriteNumber("limit", limit);
            w.WriteStartObject("space");
            foreach (var dim in dimensions) w.WriteString(dim.Name, Describe(dim));
            foreach (var (name, v) in fixedValues) w.WriteNumber(name, v);
            w.WriteEndObject();
            w.WriteString("machine", $"{Environment.ProcessorCount} cores, .NET {Environment.Version}");
            w.WriteString("load_average_start", loadStart);
            w.WriteString("load_average_end", TrainCommand.LoadAverage());
            w.WriteNumber("total_seconds", Math.Round(total.Elapsed.TotalSeconds, 3));
            w.WriteStartArray("results");
            foreach (var t in ranked)
            {
                w.WriteStartObject();
                w.WriteNumber("trial", t.Index + 1);
                foreach (var (name, v) in t.Values) w.WriteNumber(name, v);
                w.WriteNumber("steps", t.Rungs[^1].Steps);
                w.WriteNumber("dev_acc", t.Rungs[^1].Accuracy);
                w.WriteNumber("dev_loss", Math.Round(t.Rungs[^1].Loss, 6));
                w.WriteNumber("seconds", Math.Round(t.Seconds, 3));
                w.WriteStartArray("rungs");
                foreach (var (steps, acc, loss) in t.Rungs)
                {
                    w.WriteStartObject();
                    w.WriteNumber("steps", steps);
                    w.WriteNumber("dev_acc", acc);
                    w.WriteNumber("dev_loss", Math.Round(loss, 6));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }, indented: !json);
        File.WriteAllText(Path.Combine(outDir, "tune.json"), tuneJson + "\n");
        Charts.SaveBesideResults(() => Charts.Tune($"{model}: dev accuracy of {trials} trials ({budget} steps, successive halving)", dimensions,
            ranked.Select(t => (t.Values, t.Rungs[^1].Accuracy, t.Rungs[^1].Steps == rungs[^1])).ToList()), Path.Combine(outDir, "tune"), console.Error);

        if (json)
        {
            console.Out.WriteLine(tuneJson);
            return 0;
        }
        var table = new Table().Border(TableBorder.Rounded).Title($"tune {model}: sorted by dev accuracy (trials that reached more steps first)");
        table.AddColumn("rank").AddColumn("trial");
        foreach (var dim in dimensions) table.AddColumn(new TableColumn(dim.Name).RightAligned());
        table.AddColumn(new TableColumn("steps").RightAligned()).AddColumn(new TableColumn("dev acc").RightAligned()).AddColumn(new TableColumn("dev loss").RightAligned()).AddColumn(new TableColumn("seconds").RightAligned());
        for (int i = 0; i < ranked.Count; i++)
        {
            var t = ranked[i];
            var cells = new List<string> { (i + 1).ToString(CultureInfo.InvariantCulture), (t.Index + 1).ToString(CultureInfo.InvariantCulture) };
            cells.AddRange(dimensions.Select(dim => Format(dim.Name, t.Values[dim.Name])));
            cells.Add(t.Rungs[^1].Steps.ToString(CultureInfo.InvariantCulture));
            cells.Add(string.Create(CultureInfo.InvariantCulture, $"{t.Rungs[^1].Accuracy * 100:F2}%"));
            cells.Add(string.Create(CultureInfo.InvariantCulture, $"{t.Rungs[^1].Loss:F4}"));
            cells.Add(string.Create(CultureInfo.InvariantCulture, $"{t.Seconds:F1}"));
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(console.Out),
            Ansi = console.Interactive && ReferenceEquals(console.Out, Console.Out) ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = console.Interactive && ReferenceEquals(console.Out, Console.Out) ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!console.Interactive) ansi.Profile.Width = 160;
        ansi.Write(table);
        var best = ranked[0];
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"best: trial {best.Index + 1} ({Values(best.Values)}) dev acc {best.Rungs[^1].Accuracy * 100:F2}% after {best.Rungs[^1].Steps} steps; {total.Elapsed.TotalSeconds:F1} s in all (load {loadStart} -> {TrainCommand.LoadAverage()}); wrote {Path.Combine(outDir, "tune.json")}, tune.png, tune.svg"));
        return 0;
    }

    private static Trainer Start(Trial trial, string model, string optimizerName, int seed, int budget, IDataset train, DataLoader dev, Normalize normalize, Device device)
    {
        int batch = (int)trial.Values["batch"];
        if (batch < 1 || batch != trial.Values["batch"]) throw new UsageException($"--batch values must be positive integers, got {trial.Values["batch"].ToString(CultureInfo.InvariantCulture)}");
        // Every trial starts from the same initial weights and sees the same data order: only the hyper-parameters differ.
        trial.Model = ModelZoo.Build(model, new Generator(seed));
        if (device.Kind != DeviceKind.Cpu) trial.Model.To(device);
        var config = new TrainConfig { Optimizer = optimizerName, LearningRate = trial.Values["lr"], WeightDecay = trial.Values["weight_decay"] };
        trial.Optimizer = config.CreateOptimizer(trial.Model.NamedParameters());
        trial.Loader = new DataLoader(train, batch, shuffle: true, seed: seed, prefetch: 2, transform: normalize);
        trial.Trainer = new Trainer(trial.Model, trial.Optimizer, trial.Loader, dev, new TrainerOptions { Epochs = 0, MaxSteps = budget, Seed = seed, EvaluateAtEpochEnd = false }) { Device = device };
        return trial.Trainer;
    }

    private static Dictionary<string, double> Merge(IReadOnlyDictionary<string, double> sampled, Dictionary<string, double> fixedValues)
    {
        var values = new Dictionary<string, double>(fixedValues);
        foreach (var (k, v) in sampled) values[k] = v;
        return s_searchable.ToDictionary(s => s.Name, s => values[s.Name]);
    }

    private static string Describe(SearchDimension d) => d switch
    {
        LogUniformDimension l => string.Create(CultureInfo.InvariantCulture, $"{d.Name} log:{l.Low:G3}:{l.High:G3}"),
        UniformDimension u => string.Create(CultureInfo.InvariantCulture, $"{d.Name} uniform:{u.Low:G3}:{u.High:G3}"),
        ChoiceDimension c => $"{d.Name} choice:{string.Join(",", c.Values.Select(v => v.ToString(CultureInfo.InvariantCulture)))}",
        _ => d.Name,
    };

    private static string Values(IReadOnlyDictionary<string, double> values) => string.Join("  ", values.Select(kv => $"{kv.Key} {Format(kv.Key, kv.Value)}"));

    private static string Format(string name, double value) =>
        name == "batch" ? value.ToString("0", CultureInfo.InvariantCulture) : value.ToString("0.###e+0", CultureInfo.InvariantCulture);
}
