namespace NativeNet.Training;

/// <summary>One optimisation step's figures (summed over its accumulated micro-batches).</summary>
/// <param name="Step">1-based number of this optimiser step in the run.</param>
/// <param name="Epoch">0-based epoch the step belongs to.</param>
/// <param name="Batch">Batches of the epoch consumed so far, this step's included.</param>
/// <param name="BatchesPerEpoch">Batches in an epoch.</param>
/// <param name="Loss">Mean loss over the step's predictions.</param>
/// <param name="Correct">Predictions equal to the label.</param>
/// <param name="Count">Predictions in the step.</param>
/// <param name="LearningRate">The learning rate the step used.</param>
public readonly record struct StepInfo(long Step, int Epoch, int Batch, int BatchesPerEpoch, double Loss, int Correct, int Count, double LearningRate);

/// <summary>An epoch's training figures: means over every prediction of the epoch.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Loss">Mean training loss.</param>
/// <param name="Accuracy">Training accuracy.</param>
/// <param name="Count">Predictions in the epoch.</param>
public readonly record struct EpochInfo(int Epoch, double Loss, double Accuracy, long Count);

/// <summary>
/// Hooks into <see cref="Trainer"/>'s loop; every method does nothing unless overridden. Order within a step:
/// <see cref="OnBeforeOptimizerStep"/>, the optimiser step, a due dev evaluation with <see cref="OnEvaluation"/>,
/// then <see cref="OnStep"/> (so a checkpoint written there includes that evaluation).
/// A callback with state that must survive <c>--resume</c> overrides <see cref="SaveState"/> and <see cref="LoadState"/>.
/// </summary>
public abstract class TrainerCallback
{
    /// <summary>Once, before the first step of the run (not again when a paused run continues or a run resumes).</summary>
    public virtual void OnTrainBegin(Trainer trainer) { }

    /// <summary>At the start of every epoch (not when a run resumes in the middle of one).</summary>
    public virtual void OnEpochBegin(Trainer trainer, int epoch) { }

    /// <summary>After the gradients of a step are complete, before the optimiser uses them (clipping, schedules per step).</summary>
    public virtual void OnBeforeOptimizerStep(Trainer trainer) { }

    /// <summary>After every optimiser step.</summary>
    public virtual void OnStep(Trainer trainer, StepInfo step) { }

    /// <summary>After every evaluation on the dev set.</summary>
    public virtual void OnEvaluation(Trainer trainer, ClassificationMetrics dev) { }

    /// <summary>At the end of every complete epoch (after its dev evaluation, if any).</summary>
    public virtual void OnEpochEnd(Trainer trainer, EpochInfo epoch) { }

    /// <summary>Once, when the run is over (epochs or step budget done, or a stop was requested).</summary>
    public virtual void OnTrainEnd(Trainer trainer) { }

    /// <summary>Writes the callback's state: text values into <paramref name="values"/>, tensors into <paramref name="tensors"/> (the trainer saves, then disposes, them).</summary>
    public virtual void SaveState(IDictionary<string, string> values, IDictionary<string, Tensor> tensors) { }

    /// <summary>Restores what <see cref="SaveState"/> wrote (the tensors are disposed by the trainer afterwards: copy what is kept).</summary>
    public virtual void LoadState(IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, Tensor> tensors) { }
}
