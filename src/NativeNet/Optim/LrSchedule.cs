namespace NativeNet.Optim;

/// <summary>
/// A learning rate as a function of a 0-based index: the epoch, or the optimiser step when stepped per iteration (the
/// parameter is called epoch either way). Apply it with <see cref="ApplyTo"/> at the start of each epoch or step.
/// </summary>
public abstract class LrSchedule
{
    /// <summary>The learning rate for <paramref name="epoch"/> (0-based; negative epochs are rejected).</summary>
    public double LearningRate(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"{GetType().Name}: epoch must be non-negative, got {epoch}");
        return Compute(epoch);
    }

    /// <summary>The schedule's formula for a non-negative epoch.</summary>
    protected abstract double Compute(int epoch);

    /// <summary>Sets <paramref name="optimizer"/>'s learning rate for <paramref name="epoch"/> and returns it.</summary>
    public double ApplyTo(Optimizer optimizer, int epoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        double lr = LearningRate(epoch);
        optimizer.LearningRate = lr;
        return lr;
    }

    /// <summary>Checks a base learning rate.</summary>
    protected static double CheckRate(string name, double lr) =>
        lr >= 0 && double.IsFinite(lr) ? lr : throw new ArgumentOutOfRangeException(nameof(lr), $"{name}: learning rate must be finite and non-negative, got {lr}");
}

/// <summary>A constant rate.</summary>
public sealed class ConstantLr(double lr) : LrSchedule
{
    private readonly double _lr = CheckRate(nameof(ConstantLr), lr);

    /// <inheritdoc/>
    protected override double Compute(int epoch) => _lr;
}

/// <summary>Step decay: <c>lr0 · γ^⌊epoch/k⌋</c> (e.g. halve, or divide by 10, every k epochs).</summary>
public sealed class StepLr : LrSchedule
{
    private readonly double _lr0, _gamma;
    private readonly int _stepSize;

    /// <summary>Multiplies <paramref name="lr0"/> by <paramref name="gamma"/> every <paramref name="stepSize"/> epochs.</summary>
    public StepLr(double lr0, int stepSize, double gamma)
    {
        _lr0 = CheckRate(nameof(StepLr), lr0);
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), $"StepLr: step size must be at least 1 epoch, got {stepSize}");
        if (!(gamma > 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), $"StepLr: gamma must be positive, got {gamma}");
        (_stepSize, _gamma) = (stepSize, gamma);
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch) => _lr0 * Math.Pow(_gamma, epoch / _stepSize);
}

/// <summary>Exponential decay: <c>lr0 · γ^epoch</c>.</summary>
public sealed class ExponentialLr : LrSchedule
{
    private readonly double _lr0, _gamma;

    /// <summary>Multiplies <paramref name="lr0"/> by <paramref name="gamma"/> every epoch.</summary>
    public ExponentialLr(double lr0, double gamma)
    {
        _lr0 = CheckRate(nameof(ExponentialLr), lr0);
        if (!(gamma > 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), $"ExponentialLr: gamma must be positive, got {gamma}");
        _gamma = gamma;
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch) => _lr0 * Math.Pow(_gamma, epoch);
}

/// <summary>Inverse-time decay: <c>lr0 / (1 + k·epoch)</c>.</summary>
public sealed class InverseTimeLr : LrSchedule
{
    private readonly double _lr0, _k;

    /// <summary>Decays <paramref name="lr0"/> with rate <paramref name="decay"/> (k ≥ 0).</summary>
    public InverseTimeLr(double lr0, double decay)
    {
        _lr0 = CheckRate(nameof(InverseTimeLr), lr0);
        if (!(decay >= 0) || double.IsInfinity(decay)) throw new ArgumentOutOfRangeException(nameof(decay), $"InverseTimeLr: decay must be non-negative, got {decay}");
        _k = decay;
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch) => _lr0 / (1 + _k * epoch);
}

/// <summary>
/// Cosine annealing to a minimum over T epochs: <c>min + (lr0 − min)·(1 + cos(π·epoch/T))/2</c>, then <c>min</c>
/// from epoch T on (PyTorch's CosineAnnealingLR closed form, without restarts).
/// </summary>
public sealed class CosineLr : LrSchedule
{
    private readonly double _lr0, _min;
    private readonly int _t;

    /// <summary>Anneals from <paramref name="lr0"/> to <paramref name="minLr"/> over <paramref name="epochs"/> epochs.</summary>
    public CosineLr(double lr0, int epochs, double minLr = 0)
    {
        _lr0 = CheckRate(nameof(CosineLr), lr0);
        _min = CheckRate(nameof(CosineLr), minLr);
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), $"CosineLr: the annealing period must be at least 1 epoch, got {epochs}");
        _t = epochs;
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch) =>
        epoch >= _t ? _min : _min + (_lr0 - _min) * (1 + Math.Cos(Math.PI * epoch / _t)) / 2;
}

/// <summary>
/// Linear warm-up in front of another schedule: for epoch &lt; W the rate rises linearly from
/// <c>startFactor·inner(0)</c> towards <c>inner(0)</c> (<c>inner(0)·(f + (1 − f)·epoch/W)</c>); from epoch W on it is
/// <c>inner(epoch − W)</c>, so the wrapped schedule starts after the warm-up.
/// </summary>
public sealed class LinearWarmup : LrSchedule
{
    private readonly LrSchedule _inner;
    private readonly int _warmup;
    private readonly double _start;

    /// <summary>Warms up over <paramref name="warmupEpochs"/> epochs from <paramref name="startFactor"/> of the inner schedule's first rate.</summary>
    public LinearWarmup(LrSchedule inner, int warmupEpochs, double startFactor = 0.1)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        if (warmupEpochs < 0) throw new ArgumentOutOfRangeException(nameof(warmupEpochs), $"LinearWarmup: warm-up length must be non-negative, got {warmupEpochs}");
        if (!(startFactor >= 0 && startFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(startFactor), $"LinearWarmup: start factor must be in [0, 1], got {startFactor}");
        (_warmup, _start) = (warmupEpochs, startFactor);
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch) =>
        epoch < _warmup ? _inner.LearningRate(0) * (_start + (1 - _start) * epoch / _warmup) : _inner.LearningRate(epoch - _warmup);
}

/// <summary>
/// Inverse square-root decay, the <c>1/√t</c> schedule of stochastic approximation: <c>lr0 / √(1 + k·t)</c>
/// (t the epoch or step; k = 1 gives <c>lr0/√(t+1)</c>).
/// </summary>
public sealed class InverseSqrtLr : LrSchedule
{
    private readonly double _lr0, _k;

    /// <summary>Decays <paramref name="lr0"/> with rate <paramref name="decay"/> (k ≥ 0).</summary>
    public InverseSqrtLr(double lr0, double decay = 1)
    {
        _lr0 = CheckRate(nameof(InverseSqrtLr), lr0);
        if (!(decay >= 0) || double.IsInfinity(decay)) throw new ArgumentOutOfRangeException(nameof(decay), $"InverseSqrtLr: decay must be non-negative, got {decay}");
        _k = decay;
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch) => _lr0 / Math.Sqrt(1 + _k * epoch);
}

/// <summary>
/// The one-cycle policy (Smith and Topin), as PyTorch's <c>OneCycleLR</c> with cosine annealing and two phases: from
/// <c>maxLr/divFactor</c> up to <c>maxLr</c> over the first <c>pctStart·totalSteps − 1</c> steps, then down to
/// <c>maxLr/(divFactor·finalDivFactor)</c> at step <c>totalSteps − 1</c>. Momentum is not cycled. Steps past the
/// last are rejected, as PyTorch does.
/// </summary>
public sealed class OneCycleLr : LrSchedule
{
    private readonly double _initial, _max, _min, _warmEnd;
    private readonly int _total;

    /// <summary>A cycle of <paramref name="totalSteps"/> steps peaking at <paramref name="maxLr"/>.</summary>
    public OneCycleLr(double maxLr, int totalSteps, double pctStart = 0.3, double divFactor = 25, double finalDivFactor = 1e4)
    {
        _max = CheckRate(nameof(OneCycleLr), maxLr);
        if (totalSteps < 2) throw new ArgumentOutOfRangeException(nameof(totalSteps), $"OneCycleLr: total steps must be at least 2, got {totalSteps}");
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), $"OneCycleLr: pctStart must be in (0, 1), got {pctStart}");
        if (!(divFactor > 0) || double.IsInfinity(divFactor)) throw new ArgumentOutOfRangeException(nameof(divFactor), $"OneCycleLr: divFactor must be positive, got {divFactor}");
        if (!(finalDivFactor > 0) || double.IsInfinity(finalDivFactor)) throw new ArgumentOutOfRangeException(nameof(finalDivFactor), $"OneCycleLr: finalDivFactor must be positive, got {finalDivFactor}");
        _total = totalSteps;
        _initial = maxLr / divFactor;
        _min = _initial / finalDivFactor;
        _warmEnd = pctStart * totalSteps - 1;
        if (!(_warmEnd > 0) || _warmEnd >= totalSteps - 1)
            throw new ArgumentOutOfRangeException(nameof(pctStart), $"OneCycleLr: pctStart {pctStart} of {totalSteps} steps leaves an empty warm-up or annealing phase");
    }

    /// <inheritdoc/>
    protected override double Compute(int epoch)
    {
        if (epoch >= _total) throw new ArgumentOutOfRangeException(nameof(epoch), $"OneCycleLr: step {epoch} is past the cycle of {_total} steps");
        return epoch <= _warmEnd
            ? Cosine(_initial, _max, epoch / _warmEnd)
            : Cosine(_max, _min, (epoch - _warmEnd) / (_total - 1 - _warmEnd));
    }

    private static double Cosine(double start, double end, double pct) => end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1);
}

/// <summary>
/// Reduce-on-plateau (PyTorch's <c>ReduceLROnPlateau</c>, relative threshold): after each evaluation, when the metric
/// has not improved on the best by more than <c>threshold</c> (relative) for more than <c>patience</c> evaluations, the
/// rate is multiplied by <c>factor</c> (not below <c>minLr</c>) and <c>cooldown</c> evaluations follow in which bad ones
/// are not counted. Its state (best, bad count, cooldown left) is exposed for checkpoints.
/// </summary>
public sealed class ReduceLrOnPlateau
{
    /// <summary>Creates the rule.</summary>
    /// <param name="higherIsBetter">True for accuracies (PyTorch mode "max"), false for losses ("min").</param>
    /// <param name="factor">Multiplier of the rate on a plateau, in (0, 1).</param>
    /// <param name="patience">Evaluations without improvement tolerated.</param>
    /// <param name="threshold">Relative improvement that counts.</param>
    /// <param name="cooldown">Evaluations after a reduction in which bad ones are not counted.</param>
    /// <param name="minLr">Lower bound of the rate.</param>
    public ReduceLrOnPlateau(bool higherIsBetter = false, double factor = 0.1, int patience = 10, double threshold = 1e-4, int cooldown = 0, double minLr = 0)
    {
        if (!(factor > 0 && factor < 1)) throw new ArgumentOutOfRangeException(nameof(factor), $"ReduceLrOnPlateau: factor must be in (0, 1), got {factor}");
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), $"ReduceLrOnPlateau: patience must be non-negative, got {patience}");
        if (!(threshold >= 0) || double.IsInfinity(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), $"ReduceLrOnPlateau: threshold must be non-negative, got {threshold}");
        if (cooldown < 0) throw new ArgumentOutOfRangeException(nameof(cooldown), $"ReduceLrOnPlateau: cooldown must be non-negative, got {cooldown}");
        if (!(minLr >= 0) || double.IsInfinity(minLr)) throw new ArgumentOutOfRangeException(nameof(minLr), $"ReduceLrOnPlateau: minLr must be non-negative, got {minLr}");
        (HigherIsBetter, Factor, Patience, Threshold, Cooldown, MinLr) = (higherIsBetter, factor, patience, threshold, cooldown, minLr);
        Best = higherIsBetter ? double.NegativeInfinity : double.PositiveInfinity;
    }

    /// <summary>True when larger metric values are better.</summary>
    public bool HigherIsBetter { get; }
    /// <summary>Multiplier on a plateau.</summary>
    public double Factor { get; }
    /// <summary>Evaluations without improvement tolerated.</summary>
    public int Patience { get; }
    /// <summary>Relative improvement that counts.</summary>
    public double Threshold { get; }
    /// <summary>Evaluations skipped after a reduction.</summary>
    public int Cooldown { get; }
    /// <summary>Lower bound of the rate.</summary>
    public double MinLr { get; }

    /// <summary>The best metric so far.</summary>
    public double Best { get; set; }
    /// <summary>Evaluations since the last improvement.</summary>
    public int BadEvaluations { get; set; }
    /// <summary>Cooldown evaluations left.</summary>
    public int CooldownLeft { get; set; }

    /// <summary>Takes one evaluation's <paramref name="metric"/> and returns the rate to use from now on, given the current <paramref name="lr"/>.</summary>
    public double Step(double metric, double lr)
    {
        bool better = HigherIsBetter ? metric > Best * (1 + Threshold) : metric < Best * (1 - Threshold);
        if (better)
        {
            Best = metric;
            BadEvaluations = 0;
        }
        else
        {
            BadEvaluations++;
        }
        if (CooldownLeft > 0)
        {
            CooldownLeft--;
            BadEvaluations = 0;
        }
        if (BadEvaluations > Patience)
        {
            double reduced = Math.Max(lr * Factor, MinLr);
            // PyTorch skips reductions smaller than eps = 1e-8.
            if (lr - reduced > 1e-8) lr = reduced;
            CooldownLeft = Cooldown;
            BadEvaluations = 0;
        }
        return lr;
    }
}
