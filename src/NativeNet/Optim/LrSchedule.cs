namespace NativeNet.Optim;

/// <summary>A learning rate as a function of the (0-based) epoch. Apply it with <see cref="ApplyTo"/> at the start of each epoch.</summary>
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
