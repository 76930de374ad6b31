using System.Globalization;
using NativeNet.Autodiff;
using NativeNet.Data;
using NativeNet.IO;
using NativeNet.Nn;
using NativeNet.Optim;

namespace NativeNet.Training;

/// <summary>How long and how a <see cref="Trainer"/> trains.</summary>
public sealed record TrainerOptions
{
    /// <summary>Passes over the training data (0: no limit, then <see cref="MaxSteps"/> must be set).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Optimiser steps at most (0: no limit).</summary>
    public long MaxSteps { get; init; }

    /// <summary>Evaluate on the dev set every this many optimiser steps (0: never mid-epoch).</summary>
    public int EvaluateEvery { get; init; }

    /// <summary>Evaluate on the dev set at the end of every epoch (when there is a dev set).</summary>
    public bool EvaluateAtEpochEnd { get; init; } = true;

    /// <summary>Micro-batches whose gradients are summed into one optimiser step (the loss of each is divided by this).</summary>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Seed of <see cref="Trainer.Generator"/> (reseeded from (seed, epoch, batch) before every batch).</summary>
    public int Seed { get; init; }

    /// <summary>The k of the top-k accuracy in evaluations.</summary>
    public int TopK { get; init; } = 5;

    /// <summary>
    /// Seconds of training (the time inside the epochs' steps, not epoch-end evaluations or callbacks) after which the run
    /// ends at the end of the epoch that crosses it (0: no limit).
    /// </summary>
    public double TimeBudgetSeconds { get; init; }
}

/// <summary>
/// The training loop as a library: mini-batches from an <see cref="IBatchSource"/>, forward, loss, backward, optional
/// gradient accumulation, optimiser step, dev evaluations every N steps and at epoch ends, and <see cref="TrainerCallback"/>s
/// for everything else (early stopping, schedules, clipping, checkpoints). Deterministic for a seed and thread count:
/// the data order depends only on the loader's seed and the epoch, and the trainer's own random numbers only on
/// (seed, epoch, batch), so <see cref="SaveCheckpoint"/> and <see cref="LoadCheckpoint"/> continue a run bit for bit.
/// </summary>
public sealed class Trainer
{
    private const string ModelPrefix = "model.", OptimizerPrefix = "optimizer.", CallbackPrefix = "callback.", StatePrefix = "trainer.";
    private readonly List<TrainerCallback> _callbacks = [];
    private double _epochLossSum;
    private long _epochCorrect, _epochSeen;
    private bool _begun, _ended, _inEpochEnd;
    private double _trainingSeconds;
    private System.Diagnostics.Stopwatch? _batchClock;

    /// <summary>Creates a trainer; the model and optimiser stay owned by the caller.</summary>
    /// <param name="model">The model (its parameters are the optimiser's).</param>
    /// <param name="optimizer">Updates the parameters.</param>
    /// <param name="train">Training batches.</param>
    /// <param name="dev">Development batches for evaluations (null: none).</param>
    /// <param name="options">Length and behaviour of the run (null: one epoch).</param>
    public Trainer(Module model, Optimizer optimizer, IBatchSource train, IBatchSource? dev = null, TrainerOptions? options = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        TrainData = train ?? throw new ArgumentNullException(nameof(train));
        DevData = dev;
        Options = options ?? new TrainerOptions();
        if (Options.Epochs < 0) throw new ArgumentOutOfRangeException(nameof(options), $"Trainer: epochs must be non-negative, got {Options.Epochs}");
        if (Options.MaxSteps < 0) throw new ArgumentOutOfRangeException(nameof(options), $"Trainer: max steps must be non-negative, got {Options.MaxSteps}");
        if (Options.Epochs == 0 && Options.MaxSteps == 0) throw new ArgumentException("Trainer: give a number of epochs or a step budget (both are 0)");
        if (Options.AccumulationSteps < 1) throw new ArgumentOutOfRangeException(nameof(options), $"Trainer: accumulation steps must be at least 1, got {Options.AccumulationSteps}");
        if (!(Options.TimeBudgetSeconds >= 0 && double.IsFinite(Options.TimeBudgetSeconds)))
            throw new ArgumentOutOfRangeException(nameof(options), $"Trainer: the time budget must be finite and non-negative seconds, got {Options.TimeBudgetSeconds}");
        if (Options.EvaluateEvery < 0) throw new ArgumentOutOfRangeException(nameof(options), $"Trainer: evaluate-every must be non-negative, got {Options.EvaluateEvery}");
        if (train.BatchesPerEpoch < 1) throw new ArgumentException("Trainer: the training data has no batches");
        Generator = new Generator(Options.Seed);
        Forward = model.Forward;
    }

    /// <summary>The model.</summary>
    public Module Model { get; }

    /// <summary>The optimiser.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Training batches.</summary>
    public IBatchSource TrainData { get; }

    /// <summary>Dev batches (null: no evaluations).</summary>
    public IBatchSource? DevData { get; }

    /// <summary>The run's options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Where batches are moved before the forward pass (default: the CPU, where loaders build them).</summary>
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>Scores [N, classes] from a batch of inputs (default: <see cref="Module.Forward"/>).</summary>
    public Func<Tensor, Tensor> Forward { get; init; }

    /// <summary>Mean loss of a batch from (scores, labels) (default: softmax cross-entropy).</summary>
    public Func<Tensor, Tensor, Tensor> Loss { get; init; } = (scores, labels) => Ops.SoftmaxCrossEntropy(scores, labels);

    /// <summary>Random numbers for the model (dropout masks, augmentation): reseeded from (seed, epoch, batch) before every batch, so its state is the position in the run.</summary>
    public Generator Generator { get; }

    /// <summary>The scope of the batch being trained (tensors created in it are freed after the step; <see cref="TensorScope.Keep"/> keeps one); null between steps.</summary>
    public TensorScope? StepScope { get; private set; }

    /// <summary>The callbacks, in the order they run.</summary>
    public IReadOnlyList<TrainerCallback> Callbacks => _callbacks;

    /// <summary>0-based epoch being trained (equals the epoch count once all epochs are done).</summary>
    public int Epoch { get; private set; }

    /// <summary>Batches of the current epoch already consumed.</summary>
    public int BatchInEpoch { get; private set; }

    /// <summary>Optimiser steps done.</summary>
    public long Step { get; private set; }

    /// <summary>Predictions trained on so far in the current epoch.</summary>
    public long EpochSamples => _epochSeen;

    /// <summary>Mean training loss over the current epoch so far (NaN before its first step).</summary>
    public double EpochLoss => _epochSeen == 0 ? double.NaN : _epochLossSum / _epochSeen;

    /// <summary>Training accuracy over the current epoch so far (NaN before its first step).</summary>
    public double EpochAccuracy => _epochSeen == 0 ? double.NaN : (double)_epochCorrect / _epochSeen;

    /// <summary>The latest dev evaluation (null before the first).</summary>
    public ClassificationMetrics? LastEvaluation { get; private set; }

    /// <summary>True once a callback asked the run to stop (early stopping).</summary>
    public bool StopRequested { get; private set; }

    /// <summary>True when the run is over: epochs or steps done, the time budget spent, or a stop was requested.</summary>
    public bool IsFinished =>
        StopRequested || (Options.MaxSteps > 0 && Step >= Options.MaxSteps) || (Options.Epochs > 0 && Epoch >= Options.Epochs) || TimeBudgetSpent;

    /// <summary>Seconds spent training so far (inside the epochs' batches; epoch-end evaluations and callbacks excluded; kept across a resume).</summary>
    public double TrainingSeconds => _trainingSeconds + (_batchClock?.Elapsed.TotalSeconds ?? 0);

    /// <summary>True at an epoch boundary once <see cref="TrainingSeconds"/> has reached <see cref="TrainerOptions.TimeBudgetSeconds"/>.</summary>
    public bool TimeBudgetSpent => Options.TimeBudgetSeconds > 0 && BatchInEpoch == 0 && _batchClock is null && TrainingSeconds >= Options.TimeBudgetSeconds;

    /// <summary>Adds a callback (before the run starts or between <see cref="Run"/> calls) and returns the trainer.</summary>
    public Trainer Add(TrainerCallback callback)
    {
        _callbacks.Add(callback ?? throw new ArgumentNullException(nameof(callback)));
        return this;
    }

    /// <summary>Asks the loop to stop after the current step.</summary>
    public void RequestStop() => StopRequested = true;

    /// <summary>
    /// Trains until the run is finished or <paramref name="untilStep"/> optimiser steps are done (a later call continues
    /// exactly where this one paused). Returns true when the run is finished (then <see cref="TrainerCallback.OnTrainEnd"/> has run).
    /// </summary>
    public bool Run(long untilStep = long.MaxValue)
    {
        if (_ended) return true;
        if (!_begun)
        {
            _begun = true;
            foreach (var c in _callbacks) c.OnTrainBegin(this);
        }
        int batches = TrainData.BatchesPerEpoch;
        while (!IsFinished && Step < untilStep)
        {
            if (BatchInEpoch == 0)
            {
                (_epochLossSum, _epochCorrect, _epochSeen) = (0, 0, 0);
                foreach (var c in _callbacks) c.OnEpochBegin(this, Epoch);
            }
            _batchClock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                TrainBatches(untilStep);
            }
            finally
            {
                _trainingSeconds += _batchClock.Elapsed.TotalSeconds;
                _batchClock = null;
            }
            if (BatchInEpoch == batches) EndEpoch();
        }
        if (!IsFinished) return false;
        _ended = true;
        foreach (var c in _callbacks) c.OnTrainEnd(this);
        return true;
    }

    private void TrainBatches(long untilStep)
    {
        int batches = TrainData.BatchesPerEpoch;
        int accumulate = Options.AccumulationSteps;
        int inGroup = 0, groupCorrect = 0, groupCount = 0;
        double groupLossSum = 0;
        Model.Train();
        foreach (var (x, y) in TrainData.Epoch(Epoch, BatchInEpoch))
        {
            try
            {
                Generator.ManualSeed(DataLoader.Mix(Options.Seed, Epoch, BatchInEpoch));
                if (inGroup == 0) Optimizer.ZeroGrad(setToNull: true);
                using (var scope = new TensorScope())
                {
                    StepScope = scope;
                    var xd = Device.Kind == DeviceKind.Cpu ? x : x.To(Device);
                    var yd = Device.Kind == DeviceKind.Cpu ? y : y.To(Device);
                    var scores = Forward(xd);
                    var loss = Loss(scores, yd);
                    (accumulate == 1 ? loss : Ops.MulScalar(loss, 1.0 / accumulate)).Backward();
                    int count = y.Shape[0];
                    groupLossSum += loss.Item() * count;
                    groupCorrect += CountCorrect(scores, yd);
                    groupCount += count;
                }
            }
            finally
            {
                StepScope = null;
                x.Dispose();
                y.Dispose();
            }
            BatchInEpoch++;
            inGroup++;
            if (inGroup < accumulate && BatchInEpoch < batches) continue;

            double meanLoss = groupLossSum / groupCount;
            if (!double.IsFinite(meanLoss))
                throw new InvalidOperationException($"Trainer: the training loss became {meanLoss} at epoch {Epoch + 1} step {Step + 1}; try a smaller learning rate");
            foreach (var c in _callbacks) c.OnBeforeOptimizerStep(this);
            double lr = Optimizer.LearningRate;
            Optimizer.Step();
            Step++;
            _epochLossSum += groupLossSum;
            _epochCorrect += groupCorrect;
            _epochSeen += groupCount;
            var info = new StepInfo(Step, Epoch, BatchInEpoch, batches, meanLoss, groupCorrect, groupCount, lr);
            (inGroup, groupCorrect, groupCount, groupLossSum) = (0, 0, 0, 0);
            bool atEpochEnd = BatchInEpoch == batches;
            if (DevData is not null && Options.EvaluateEvery > 0 && Step % Options.EvaluateEvery == 0 && !(atEpochEnd && Options.EvaluateAtEpochEnd))
                RunEvaluation();
            foreach (var c in _callbacks) c.OnStep(this, info);
            if (IsFinished || Step >= untilStep) break;
        }
    }

    private void EndEpoch()
    {
        if (DevData is not null && Options.EvaluateAtEpochEnd) RunEvaluation();
        var info = new EpochInfo(Epoch, _epochLossSum / _epochSeen, (double)_epochCorrect / _epochSeen, _epochSeen);
        _inEpochEnd = true;
        try
        {
            foreach (var c in _callbacks) c.OnEpochEnd(this, info);
        }
        finally
        {
            _inEpochEnd = false;
        }
        Epoch++;
        BatchInEpoch = 0;
    }

    private void RunEvaluation()
    {
        LastEvaluation = Evaluate(DevData!);
        foreach (var c in _callbacks) c.OnEvaluation(this, LastEvaluation);
    }

    /// <summary>Evaluates the model on <paramref name="data"/> with this trainer's forward, loss, device and top-k.</summary>
    public ClassificationMetrics Evaluate(IBatchSource data) => Evaluate(Model, data, Device, Forward, Loss, Options.TopK);

    /// <summary>
    /// Evaluates <paramref name="model"/> on epoch 0 of <paramref name="data"/> in evaluation mode without gradients
    /// (forward: <see cref="Module.Forward"/>, loss: softmax cross-entropy unless given); leaves the model in training mode.
    /// </summary>
    public static ClassificationMetrics Evaluate(Module model, IBatchSource data, Device device, Func<Tensor, Tensor>? forward = null,
        Func<Tensor, Tensor, Tensor>? loss = null, int topK = 5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        forward ??= model.Forward;
        loss ??= (scores, labels) => Ops.SoftmaxCrossEntropy(scores, labels);
        bool onCpu = device.Kind == DeviceKind.Cpu;
        model.Eval();
        try
        {
            using var noGrad = GradMode.Disable();
            ClassificationMetrics? metrics = null;
            foreach (var (x, y) in data.Epoch(0, 0))
            {
                try
                {
                    using var scope = new TensorScope();
                    var scores = forward(onCpu ? x : x.To(device));
                    double batchLoss = loss(scores, onCpu ? y : y.To(device)).Item();
                    if (scores.Rank != 2) throw new InvalidOperationException($"Trainer.Evaluate: expected scores [N, classes], got {scores.Describe()}");
                    metrics ??= new ClassificationMetrics(scores.Shape[1], topK);
                    metrics.Add(scores.ToArray<float>(), y.ToArray<int>(), batchLoss * y.Shape[0]);
                }
                finally
                {
                    x.Dispose();
                    y.Dispose();
                }
            }
            return metrics ?? throw new InvalidOperationException("Trainer.Evaluate: the data has no batches");
        }
        finally
        {
            model.Train();
        }
    }

    private static int CountCorrect(Tensor scores, Tensor labels)
    {
        using var predicted = Ops.ArgMax(scores, 1);
        var p = predicted.ToArray<int>();
        var l = labels.ToArray<int>();
        int correct = 0;
        for (int i = 0; i < p.Length; i++) if (p[i] == l[i]) correct++;
        return correct;
    }

    /// <summary>The model's parameters and buffers by checkpoint name ("model.0.weight").</summary>
    public Dictionary<string, Tensor> ModelTensors()
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, p) in Model.NamedParameters()) tensors[ModelPrefix + name] = p;
        foreach (var (name, b) in Model.NamedBuffers()) tensors[ModelPrefix + name] = b;
        return tensors;
    }

    /// <summary>
    /// Writes everything a resumed run needs to <paramref name="path"/> (safetensors, written to a temporary file and
    /// renamed, so a kill never leaves a torn checkpoint): model, optimiser state (with its learning rate), the position
    /// (epoch, batch, step), the epoch's running sums, and each callback's state; plus <paramref name="metadata"/>.
    /// </summary>
    public void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var tensors = ModelTensors();
        var owned = new List<Tensor>();
        var values = new Dictionary<string, string>();
        if (metadata is not null) foreach (var (k, v) in metadata) values[k] = v;
        try
        {
            foreach (var (name, t) in Optimizer.StateDict())
            {
                owned.Add(t);
                tensors[OptimizerPrefix + name] = t;
            }
            // Written from an epoch-end callback, the checkpoint resumes at the start of the next epoch.
            values[StatePrefix + "epoch"] = Text(_inEpochEnd ? Epoch + 1 : Epoch);
            values[StatePrefix + "batch"] = Text(_inEpochEnd ? 0 : BatchInEpoch);
            values[StatePrefix + "step"] = Text(Step);
            values[StatePrefix + "epoch_loss_sum"] = _epochLossSum.ToString("R", CultureInfo.InvariantCulture);
            values[StatePrefix + "epoch_correct"] = Text(_epochCorrect);
            values[StatePrefix + "epoch_seen"] = Text(_epochSeen);
            values[StatePrefix + "stop"] = StopRequested ? "1" : "0";
            values[StatePrefix + "training_seconds"] = TrainingSeconds.ToString("R", CultureInfo.InvariantCulture);
            for (int i = 0; i < _callbacks.Count; i++)
            {
                var cv = new Dictionary<string, string>();
                var ct = new Dictionary<string, Tensor>();
                _callbacks[i].SaveState(cv, ct);
                foreach (var (k, v) in cv) values[$"{CallbackPrefix}{i}.{k}"] = v;
                foreach (var (k, t) in ct)
                {
                    owned.Add(t);
                    tensors[$"{CallbackPrefix}{i}.{k}"] = t;
                }
            }
            string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
            Directory.CreateDirectory(directory);
            string temporary = path + ".tmp";
            Checkpoint.Save(temporary, tensors, values);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same model, optimiser, data and callbacks;
    /// the next <see cref="Run"/> continues exactly where the saved run was. Returns the checkpoint's metadata.
    /// </summary>
    public IReadOnlyDictionary<string, string> LoadCheckpoint(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var loaded = Checkpoint.Load(path, out var metadata);
        try
        {
            var model = ModelTensors();
            var problems = new List<string>();
            foreach (var (name, t) in model)
            {
                if (!loaded.TryGetValue(name, out var src)) problems.Add($"missing '{name}'");
                else if (!ShapeUtil.SameShape(src.Shape, t.Shape) || src.DType != t.DType) problems.Add($"'{name}' is {src.Describe()}, the model has {t.Describe()}");
            }
            if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
            var optimizerState = loaded.Where(kv => kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[OptimizerPrefix.Length..], kv => kv.Value);
            Optimizer.LoadStateDict(optimizerState);
            foreach (var (name, t) in model) CopyInto(loaded[name], t);
            Epoch = ReadInt(metadata, path, "epoch");
            BatchInEpoch = ReadInt(metadata, path, "batch");
            Step = long.Parse(Read(metadata, path, "step"), CultureInfo.InvariantCulture);
            _epochLossSum = double.Parse(Read(metadata, path, "epoch_loss_sum"), CultureInfo.InvariantCulture);
            _epochCorrect = long.Parse(Read(metadata, path, "epoch_correct"), CultureInfo.InvariantCulture);
            _epochSeen = long.Parse(Read(metadata, path, "epoch_seen"), CultureInfo.InvariantCulture);
            StopRequested = Read(metadata, path, "stop") == "1";
            // Checkpoints from before the time budget have no training time: count from zero.
            _trainingSeconds = metadata.TryGetValue(StatePrefix + "training_seconds", out var seconds) ? double.Parse(seconds, CultureInfo.InvariantCulture) : 0;
            if (BatchInEpoch < 0 || BatchInEpoch > TrainData.BatchesPerEpoch)
                throw new InvalidDataException($"trainer checkpoint '{path}': batch {BatchInEpoch} is outside an epoch of {TrainData.BatchesPerEpoch} batches (a different data set or batch size?)");
            for (int i = 0; i < _callbacks.Count; i++)
            {
                string prefix = $"{CallbackPrefix}{i}.";
                var cv = metadata.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
                var ct = loaded.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
                _callbacks[i].LoadState(cv, ct);
            }
            _begun = true;
            _ended = false;
            return metadata;
        }
        finally
        {
            foreach (var t in loaded.Values) t.Dispose();
        }
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="target"/> in place (any device).</summary>
    internal static void CopyInto(Tensor source, Tensor target)
    {
        if (source.Device == target.Device) Raw.CopyInto(source, target);
        else
        {
            using var moved = source.To(target.Device);
            Raw.CopyInto(moved, target);
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Read(IReadOnlyDictionary<string, string> metadata, string path, string key) =>
        metadata.TryGetValue(StatePrefix + key, out var v) ? v : throw new InvalidDataException($"checkpoint '{path}' has no '{StatePrefix}{key}' in its metadata (not written by Trainer.SaveCheckpoint)");

    private static int ReadInt(IReadOnlyDictionary<string, string> metadata, string path, string key) =>
        int.TryParse(Read(metadata, path, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"trainer checkpoint '{path}': '{StatePrefix}{key}' is not an integer");
}
