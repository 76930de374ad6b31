using System.Globalization;
using NativeNet.Optim;

namespace NativeNet.Training;

/// <summary>When an <see cref="LrScheduler"/> advances its schedule.</summary>
public enum ScheduleUnit
{
    /// <summary>Before every optimiser step, indexed by the steps done so far.</summary>
    Step,
    /// <summary>At the start of every epoch, indexed by the epoch.</summary>
    Epoch,
}

/// <summary>Sets the optimiser's learning rate from an <see cref="LrSchedule"/> per step or per epoch (stateless: the position is the trainer's).</summary>
public sealed class LrScheduler(LrSchedule schedule, ScheduleUnit unit = ScheduleUnit.Epoch) : TrainerCallback
{
    private readonly LrSchedule _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));

    /// <summary>The schedule.</summary>
    public LrSchedule Schedule => _schedule;

    /// <summary>Per step or per epoch.</summary>
    public ScheduleUnit Unit { get; } = unit;

    /// <inheritdoc/>
    public override void OnEpochBegin(Trainer trainer, int epoch)
    {
        if (Unit == ScheduleUnit.Epoch) _schedule.ApplyTo(trainer.Optimizer, epoch);
    }

    /// <inheritdoc/>
    public override void OnBeforeOptimizerStep(Trainer trainer)
    {
        if (Unit == ScheduleUnit.Step) _schedule.ApplyTo(trainer.Optimizer, checked((int)trainer.Step));
    }
}

/// <summary>Applies <see cref="ReduceLrOnPlateau"/> to the optimiser after every dev evaluation of <paramref name="metric"/>.</summary>
public sealed class ReduceLrOnPlateauCallback(ReduceLrOnPlateau rule, string metric = "loss") : TrainerCallback
{
    /// <summary>The rule (and its state).</summary>
    public ReduceLrOnPlateau Rule { get; } = rule ?? throw new ArgumentNullException(nameof(rule));

    /// <summary>The dev metric watched.</summary>
    public string Metric { get; } = metric;

    /// <inheritdoc/>
    public override void OnEvaluation(Trainer trainer, ClassificationMetrics dev) =>
        trainer.Optimizer.LearningRate = Rule.Step(dev.Get(Metric), trainer.Optimizer.LearningRate);

    /// <inheritdoc/>
    public override void SaveState(IDictionary<string, string> values, IDictionary<string, Tensor> tensors)
    {
        values["best"] = Rule.Best.ToString("R", CultureInfo.InvariantCulture);
        values["bad"] = Rule.BadEvaluations.ToString(CultureInfo.InvariantCulture);
        values["cooldown"] = Rule.CooldownLeft.ToString(CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, Tensor> tensors)
    {
        Rule.Best = double.Parse(values["best"], CultureInfo.InvariantCulture);
        Rule.BadEvaluations = int.Parse(values["bad"], CultureInfo.InvariantCulture);
        Rule.CooldownLeft = int.Parse(values["cooldown"], CultureInfo.InvariantCulture);
    }
}

/// <summary>Clips the gradients before every optimiser step: by global L2 norm (PyTorch's clip_grad_norm_) or by value.</summary>
public sealed class GradientClipping : TrainerCallback
{
    private GradientClipping(double limit, bool byValue) => (Limit, ByValue) = (limit, byValue);

    /// <summary>The norm or value limit.</summary>
    public double Limit { get; }

    /// <summary>True: clamp elements; false: scale by the global norm.</summary>
    public bool ByValue { get; }

    /// <summary>The global gradient norm before clipping at the latest step (NaN when clipping by value).</summary>
    public double LastNorm { get; private set; } = double.NaN;

    /// <summary>Scales all gradients together when their global norm exceeds <paramref name="maxNorm"/>.</summary>
    public static GradientClipping ByNorm(double maxNorm) =>
        maxNorm >= 0 && double.IsFinite(maxNorm) ? new(maxNorm, false) : throw new ArgumentOutOfRangeException(nameof(maxNorm), $"GradientClipping: max norm must be finite and non-negative, got {maxNorm}");

    /// <summary>Clamps every gradient element to ±<paramref name="clip"/>.</summary>
    public static GradientClipping ByElement(double clip) =>
        clip >= 0 && double.IsFinite(clip) ? new(clip, true) : throw new ArgumentOutOfRangeException(nameof(clip), $"GradientClipping: clip must be finite and non-negative, got {clip}");

    /// <inheritdoc/>
    public override void OnBeforeOptimizerStep(Trainer trainer)
    {
        if (ByValue) GradClip.ByValue(trainer.Optimizer.Parameters, Limit);
        else LastNorm = GradClip.ByGlobalNorm(trainer.Optimizer.Parameters, Limit);
    }
}

/// <summary>
/// Early stopping on a dev metric: stops the run after <paramref name="patience"/> evaluations without an improvement
/// larger than <paramref name="minDelta"/>, and (with <paramref name="restoreBest"/>) puts the best evaluation's
/// parameters and buffers back into the model when the run ends.
/// </summary>
public sealed class EarlyStopping(string metric = "accuracy", int patience = 3, double minDelta = 0, bool restoreBest = true) : TrainerCallback
{
    private Dictionary<string, Tensor>? _best;

    /// <summary>The dev metric watched ("loss", "accuracy" or "top_k_accuracy").</summary>
    public string Metric { get; } = metric;

    /// <summary>Evaluations without improvement tolerated.</summary>
    public int Patience { get; } = patience >= 0 ? patience : throw new ArgumentOutOfRangeException(nameof(patience), $"EarlyStopping: patience must be non-negative, got {patience}");

    /// <summary>The best value so far (NaN before the first evaluation).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>The optimiser step of the best evaluation (0 before the first).</summary>
    public long BestStep { get; private set; }

    /// <summary>Evaluations since the best.</summary>
    public int BadEvaluations { get; private set; }

    /// <summary>The step at which the run was stopped (0: not stopped by this callback).</summary>
    public long StoppedAtStep { get; private set; }

    private readonly bool _higher = ClassificationMetrics.HigherIsBetter(metric);

    /// <inheritdoc/>
    public override void OnEvaluation(Trainer trainer, ClassificationMetrics dev)
    {
        double value = dev.Get(Metric);
        bool better = double.IsNaN(BestValue) || (_higher ? value > BestValue + minDelta : value < BestValue - minDelta);
        if (better)
        {
            (BestValue, BestStep, BadEvaluations) = (value, trainer.Step, 0);
            if (restoreBest) Snapshot(trainer);
        }
        else if (++BadEvaluations >= Patience)
        {
            StoppedAtStep = trainer.Step;
            trainer.RequestStop();
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(Trainer trainer)
    {
        if (_best is null) return;
        foreach (var (name, target) in trainer.ModelTensors()) Trainer.CopyInto(_best[name], target);
    }

    private void Snapshot(Trainer trainer)
    {
        var previous = _best;
        _best = trainer.ModelTensors().ToDictionary(kv => kv.Key, kv => Copy(kv.Value));
        if (previous is not null) foreach (var t in previous.Values) t.Dispose();
    }

    private static Tensor Copy(Tensor t)
    {
        using var detached = t.Detach();
        return Owned(detached.Clone());
    }

    private static Tensor Owned(Tensor t)
    {
        TensorScope.Unregister(t);
        return t;
    }

    /// <inheritdoc/>
    public override void SaveState(IDictionary<string, string> values, IDictionary<string, Tensor> tensors)
    {
        values["best"] = BestValue.ToString("R", CultureInfo.InvariantCulture);
        values["best_step"] = BestStep.ToString(CultureInfo.InvariantCulture);
        values["bad"] = BadEvaluations.ToString(CultureInfo.InvariantCulture);
        values["stopped"] = StoppedAtStep.ToString(CultureInfo.InvariantCulture);
        if (_best is not null) foreach (var (name, t) in _best) tensors["best." + name] = Copy(t);
    }

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, Tensor> tensors)
    {
        BestValue = double.Parse(values["best"], CultureInfo.InvariantCulture);
        BestStep = long.Parse(values["best_step"], CultureInfo.InvariantCulture);
        BadEvaluations = int.Parse(values["bad"], CultureInfo.InvariantCulture);
        StoppedAtStep = long.Parse(values["stopped"], CultureInfo.InvariantCulture);
        if (_best is not null) foreach (var t in _best.Values) t.Dispose();
        _best = tensors.Count == 0 ? null : tensors.ToDictionary(kv => kv.Key["best.".Length..], kv => Copy(kv.Value));
    }
}

/// <summary>
/// Writes <see cref="Trainer.SaveCheckpoint"/> to <see cref="Path"/> every <paramref name="everySteps"/> optimiser steps
/// (0: never by steps) and at the end of every epoch when <paramref name="atEpochEnd"/>; <paramref name="metadata"/>
/// supplies extra metadata at each write (e.g. the run's config and history).
/// </summary>
public sealed class CheckpointEvery(string path, int everySteps, bool atEpochEnd = false, Func<IReadOnlyDictionary<string, string>>? metadata = null) : TrainerCallback
{
    /// <summary>The checkpoint file (overwritten by each write).</summary>
    public string Path { get; } = path ?? throw new ArgumentNullException(nameof(path));

    /// <summary>Steps between writes.</summary>
    public int EverySteps { get; } = everySteps >= 0 ? everySteps : throw new ArgumentOutOfRangeException(nameof(everySteps), $"CheckpointEvery: steps must be non-negative, got {everySteps}");

    /// <summary>Checkpoints written so far by this callback.</summary>
    public int Written { get; private set; }

    /// <inheritdoc/>
    public override void OnStep(Trainer trainer, StepInfo step)
    {
        if (EverySteps > 0 && step.Step % EverySteps == 0) Write(trainer);
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer trainer, EpochInfo epoch)
    {
        if (atEpochEnd) Write(trainer);
    }

    private void Write(Trainer trainer)
    {
        trainer.SaveCheckpoint(Path, metadata?.Invoke());
        Written++;
    }
}

/// <summary>Calls delegates from the trainer's hooks (for quick logging in user code).</summary>
public sealed class LambdaCallback : TrainerCallback
{
    /// <summary>Called after every step.</summary>
    public Action<Trainer, StepInfo>? Step { get; init; }

    /// <summary>Called after every dev evaluation.</summary>
    public Action<Trainer, ClassificationMetrics>? Evaluation { get; init; }

    /// <summary>Called at every epoch end.</summary>
    public Action<Trainer, EpochInfo>? EpochEnd { get; init; }

    /// <inheritdoc/>
    public override void OnStep(Trainer trainer, StepInfo step) => Step?.Invoke(trainer, step);

    /// <inheritdoc/>
    public override void OnEvaluation(Trainer trainer, ClassificationMetrics dev) => Evaluation?.Invoke(trainer, dev);

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer trainer, EpochInfo epoch) => EpochEnd?.Invoke(trainer, epoch);
}

/// <summary>Records the run's figures: every step (loss, accuracy, learning rate), every dev evaluation and every epoch (for plots and reports).</summary>
public sealed class MetricsHistory : TrainerCallback
{
    private readonly List<StepInfo> _steps = [];
    private readonly List<(long Step, double Loss, double Accuracy, double TopKAccuracy)> _evaluations = [];
    private readonly List<EpochInfo> _epochs = [];

    /// <summary>Every optimiser step so far.</summary>
    public IReadOnlyList<StepInfo> Steps => _steps;

    /// <summary>Every dev evaluation: the step it followed and its loss, accuracy and top-k accuracy.</summary>
    public IReadOnlyList<(long Step, double Loss, double Accuracy, double TopKAccuracy)> Evaluations => _evaluations;

    /// <summary>Every completed epoch.</summary>
    public IReadOnlyList<EpochInfo> Epochs => _epochs;

    /// <inheritdoc/>
    public override void OnStep(Trainer trainer, StepInfo step) => _steps.Add(step);

    /// <inheritdoc/>
    public override void OnEvaluation(Trainer trainer, ClassificationMetrics dev) => _evaluations.Add((trainer.Step, dev.Loss, dev.Accuracy, dev.TopKAccuracy));

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer trainer, EpochInfo epoch) => _epochs.Add(epoch);
}

/// <summary>
/// A learning-rate schedule for a run bounded by <see cref="TrainerOptions.TimeBudgetSeconds"/>: linear warm-up over the
/// first <c>warmupSteps</c> steps from a tenth of <c>lr</c> (as <see cref="LinearWarmup"/>), then
/// cosine decay from <c>lr</c> to <c>minLr</c> over the fraction of the budget spent
/// (<see cref="Trainer.TrainingSeconds"/> / budget), so the rate reaches its minimum when the budget runs out however fast the steps are.
/// </summary>
public sealed class TimeBudgetCosine : TrainerCallback
{
    private readonly double _lr, _minLr;
    private readonly int _warmup;

    /// <summary>Warms up over <paramref name="warmupSteps"/> steps to <paramref name="lr"/>, then anneals to <paramref name="minLr"/> over the time budget.</summary>
    public TimeBudgetCosine(double lr, int warmupSteps, double minLr)
    {
        if (!(lr >= 0 && double.IsFinite(lr)) || !(minLr >= 0 && double.IsFinite(minLr)))
            throw new ArgumentOutOfRangeException(nameof(lr), $"TimeBudgetCosine: learning rates must be finite and non-negative, got {lr} and {minLr}");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        (_lr, _warmup, _minLr) = (lr, warmupSteps, minLr);
    }

    /// <summary>The rate for optimiser step <paramref name="step"/> (0-based) after <paramref name="fractionSpent"/> of the budget.</summary>
    public double LearningRate(long step, double fractionSpent)
    {
        if (step < _warmup) return _lr * (0.1 + 0.9 * step / _warmup);
        double f = Math.Clamp(fractionSpent, 0, 1);
        return _minLr + (_lr - _minLr) * (1 + Math.Cos(Math.PI * f)) / 2;
    }

    /// <inheritdoc/>
    public override void OnBeforeOptimizerStep(Trainer trainer)
    {
        double budget = trainer.Options.TimeBudgetSeconds;
        if (budget <= 0) throw new InvalidOperationException("TimeBudgetCosine: the trainer has no time budget (set TrainerOptions.TimeBudgetSeconds)");
        trainer.Optimizer.LearningRate = LearningRate(trainer.Step, trainer.TrainingSeconds / budget);
    }
}
