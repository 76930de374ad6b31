using NativeNet.Data;
using NativeNet.IO;
using NativeNet.Nn;
using NativeNet.Optim;
using NativeNet.Training;
using NUnit.Framework;

namespace NativeNet.Tests.Training;

/// <summary>The trainer loop, its callbacks and checkpoints, on a tiny MLP and synthetic blobs (fast, deterministic).</summary>
public class TrainerTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "nativenet-trainer-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>Three Gaussian blobs in 4-D with <paramref name="perClass"/> samples each.</summary>
    private static TensorDataset Blobs(int seed, params int[] perClass)
    {
        var g = new Generator(seed);
        var features = new List<float>();
        var labels = new List<int>();
        for (int c = 0; c < perClass.Length; c++)
            for (int i = 0; i < perClass[c]; i++)
            {
                for (int f = 0; f < 4; f++) features.Add((float)((f == c ? 1.5 : 0) + 0.8 * g.NextNormal()));
                labels.Add(c);
            }
        return new TensorDataset(features.ToArray(), labels.ToArray(), 4);
    }

    private sealed class Run : IDisposable
    {
        public required Module Model { get; init; }
        public required Optimizer Optimizer { get; init; }
        public required DataLoader Train { get; init; }
        public required DataLoader Dev { get; init; }
        public required Trainer Trainer { get; init; }
        public List<double> Losses { get; } = [];
        public List<double> Rates { get; } = [];

        public float[] Parameters() => Model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();

        public void Dispose()
        {
            Train.Dispose();
            Dev.Dispose();
            Optimizer.Dispose();
            Model.Dispose();
        }
    }

    private static Run Build(TrainerOptions options, int batch = 8, bool shuffle = true, double lr = 0.05, Func<TrainerCallback[]>? callbacks = null, int prefetch = 0)
    {
        var data = Blobs(1, 30, 30, 30);
        var (train, dev) = DevSplit.Stratified(data, 0.2, seed: 3);
        var model = new Sequential(new Linear(4, 8, generator: new Generator(11)), new ReLU(), new Linear(8, 3, generator: new Generator(12)));
        var optimizer = new Momentum(model.NamedParameters(), lr, 0.9);
        var trainLoader = new DataLoader(train, batch, shuffle: shuffle, seed: 5, prefetch: prefetch);
        var devLoader = new DataLoader(dev, 100, shuffle: false, prefetch: 0);
        var trainer = new Trainer(model, optimizer, trainLoader, devLoader, options);
        var run = new Run { Model = model, Optimizer = optimizer, Train = trainLoader, Dev = devLoader, Trainer = trainer };
        foreach (var c in callbacks?.Invoke() ?? []) trainer.Add(c);
        trainer.Add(new LambdaCallback { Step = (_, s) => { run.Losses.Add(s.Loss); run.Rates.Add(s.LearningRate); } });
        return run;
    }

    [Test]
    public void SameSeedGivesTheSameRunAndTrainingLowersTheLoss()
    {
        using var a = Build(new TrainerOptions { Epochs = 4 });
        using var b = Build(new TrainerOptions { Epochs = 4 });
        Assert.That(a.Trainer.Run(), Is.True);
        b.Trainer.Run();
        Assert.That(a.Parameters(), Is.EqualTo(b.Parameters()));
        Assert.That(a.Losses, Is.EqualTo(b.Losses));
        Assert.That(a.Trainer.Step, Is.EqualTo(4 * a.Train.BatchesPerEpoch));
        Assert.That(a.Losses.TakeLast(9).Average(), Is.LessThan(a.Losses.Take(9).Average()));
        Assert.That(a.Trainer.LastEvaluation!.Accuracy, Is.GreaterThan(0.6));
    }

    [Test]
    public void HistoryRecordsStepsEvaluationsAndEpochsThatAgreeWithTheTrainer()
    {
        var history = new MetricsHistory();
        using var run = Build(new TrainerOptions { Epochs = 2, EvaluateEvery = 5 }, callbacks: () => [history]);
        run.Trainer.Run();
        int n = run.Train.BatchesPerEpoch;
        Assert.That(history.Steps.Select(s => s.Step), Is.EqualTo(Enumerable.Range(1, 2 * n).Select(i => (long)i)));
        Assert.That(history.Steps.Select(s => s.Loss), Is.EqualTo(run.Losses));
        var expectedEvaluations = Enumerable.Range(1, 2 * n).Where(s => s % 5 == 0 && s % n != 0).Concat([n, 2 * n]).Order().Select(s => (long)s);
        Assert.That(history.Evaluations.Select(e => e.Step), Is.EqualTo(expectedEvaluations));
        Assert.That(history.Evaluations[^1].Loss, Is.EqualTo(run.Trainer.LastEvaluation!.Loss));
        Assert.That(history.Epochs, Has.Count.EqualTo(2));
        var first = history.Steps.Take(n).ToList();
        Assert.That(history.Epochs[0].Loss, Is.EqualTo(first.Sum(s => s.Loss * s.Count) / first.Sum(s => s.Count)).Within(1e-12));
        Assert.That(history.Epochs[0].Accuracy, Is.EqualTo((double)first.Sum(s => s.Correct) / first.Sum(s => s.Count)));
    }

    [Test]
    public void DivergingLossStopsWithAClearMessageBeforeTheOptimizerStep()
    {
        using var run = Build(new TrainerOptions { Epochs = 3 }, lr: 1e30);
        Assert.That(() => run.Trainer.Run(), Throws.InvalidOperationException.With.Message.Contains("the training loss became").And.Message.Contains("smaller learning rate"));
        Assert.That(run.Trainer.Step, Is.LessThan(3 * run.Train.BatchesPerEpoch), "the run stopped at the bad step");
    }

    [Test]
    public void StepBudgetStopsInTheMiddleOfAnEpoch()
    {
        using var run = Build(new TrainerOptions { Epochs = 0, MaxSteps = 13 });
        Assert.That(run.Trainer.Run(), Is.True);
        Assert.That(run.Trainer.Step, Is.EqualTo(13));
        Assert.That(run.Trainer.Epoch, Is.EqualTo(13 / run.Train.BatchesPerEpoch));
        Assert.That(run.Trainer.BatchInEpoch, Is.EqualTo(13 % run.Train.BatchesPerEpoch));
        Assert.That(() => new Trainer(run.Model, run.Optimizer, run.Train, null, new TrainerOptions { Epochs = 0 }),
            Throws.ArgumentException.With.Message.Contains("epochs or a step budget"));
    }

    [Test]
    public void TimeBudgetEndsTheRunAtTheEndOfTheEpochThatCrossesIt()
    {
        using var spent = Build(new TrainerOptions { Epochs = 5, TimeBudgetSeconds = 1e-9 });
        Assert.That(spent.Trainer.TimeBudgetSpent, Is.False, "nothing trained yet");
        Assert.That(spent.Trainer.Run(), Is.True);
        Assert.That((spent.Trainer.Epoch, spent.Trainer.BatchInEpoch, spent.Trainer.Step), Is.EqualTo((1, 0, (long)spent.Train.BatchesPerEpoch)),
            "the first step crosses the budget; its epoch still ends");
        Assert.That(spent.Trainer.TimeBudgetSpent, Is.True);
        double seconds = spent.Trainer.TrainingSeconds;
        Assert.That(seconds, Is.GreaterThan(0));
        string path = Path.Combine(_dir, "budget.safetensors");
        spent.Trainer.SaveCheckpoint(path);
        using var resumed = Build(new TrainerOptions { Epochs = 5, TimeBudgetSeconds = 1e-9 });
        resumed.Trainer.LoadCheckpoint(path);
        Assert.That(resumed.Trainer.TrainingSeconds, Is.EqualTo(seconds), "the training time survives a resume");
        Assert.That(resumed.Trainer.Run(), Is.True);
        Assert.That(resumed.Trainer.Epoch, Is.EqualTo(1), "a resumed run whose budget is spent trains no further");

        using var ample = Build(new TrainerOptions { Epochs = 3, TimeBudgetSeconds = 1e6 });
        ample.Trainer.Run();
        Assert.That((ample.Trainer.Epoch, ample.Trainer.TimeBudgetSpent), Is.EqualTo((3, false)));
        Assert.That(() => new Trainer(ample.Model, ample.Optimizer, ample.Train, null, new TrainerOptions { TimeBudgetSeconds = -1 }),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("time budget"));
    }

    [Test]
    public void TimeBudgetCosineWarmsUpBySteps()
    {
        var schedule = new TimeBudgetCosine(0.01, warmupSteps: 4, minLr: 0.001);
        Assert.That(schedule.LearningRate(0, 0), Is.EqualTo(0.001).Within(1e-15), "a tenth at step 0");
        Assert.That(schedule.LearningRate(2, 0.9), Is.EqualTo(0.0055).Within(1e-15), "warm-up follows the steps, not the time");
        Assert.That(schedule.LearningRate(4, 0), Is.EqualTo(0.01).Within(1e-15));
        Assert.That(schedule.LearningRate(9, 0.5), Is.EqualTo(0.0055).Within(1e-15), "half the budget: half-way down the cosine");
        Assert.That(schedule.LearningRate(9, 1.0), Is.EqualTo(0.001).Within(1e-15));
        Assert.That(schedule.LearningRate(9, 1.7), Is.EqualTo(0.001).Within(1e-15), "past the budget: the minimum");

        using var run = Build(new TrainerOptions { Epochs = 2, TimeBudgetSeconds = 1e6 }, callbacks: () => [new TimeBudgetCosine(0.05, 3, 0.005)]);
        run.Trainer.Run();
        Assert.That(run.Rates.Take(3), Is.EqualTo(new[] { 0.005, 0.02, 0.035 }).Within(1e-12));
        Assert.That(run.Rates.Skip(3), Has.All.EqualTo(0.05).Within(1e-6), "a tiny fraction of a huge budget is spent");
        using var unbounded = Build(new TrainerOptions { Epochs = 1 }, callbacks: () => [new TimeBudgetCosine(0.05, 3, 0.005)]);
        Assert.That(() => unbounded.Trainer.Run(), Throws.InvalidOperationException.With.Message.Contains("no time budget"));
    }

    [Test]
    public void PausedRunContinuesExactlyAndResumeFromCheckpointIsBitIdentical([Values(0, 2)] int prefetch)
    {
        // Everything with state in one run: schedule per step, plateau rule, early stopping (with snapshots), clipping, mid-epoch evaluations.
        TrainerCallback[] Callbacks() =>
        [
            new LrScheduler(new CosineLr(0.05, 40, 0.001), ScheduleUnit.Step),
            new ReduceLrOnPlateauCallback(new ReduceLrOnPlateau(factor: 0.5, patience: 0), "loss"),
            new EarlyStopping("accuracy", patience: 100),
            GradientClipping.ByNorm(1.0),
        ];
        var options = new TrainerOptions { Epochs = 5, EvaluateEvery = 4, Seed = 9 };
        using var whole = Build(options, callbacks: Callbacks, prefetch: prefetch);
        whole.Trainer.Run();

        string path = Path.Combine(_dir, "resume.safetensors");
        using var first = Build(options, callbacks: Callbacks, prefetch: prefetch);
        Assert.That(first.Trainer.Run(untilStep: 7), Is.False, "paused, not finished");
        first.Trainer.SaveCheckpoint(path);
        using var second = Build(options, callbacks: Callbacks, prefetch: prefetch);
        second.Trainer.LoadCheckpoint(path);
        Assert.That((second.Trainer.Step, second.Trainer.Epoch, second.Trainer.BatchInEpoch), Is.EqualTo((first.Trainer.Step, first.Trainer.Epoch, first.Trainer.BatchInEpoch)));
        second.Trainer.Run();
        Assert.That(first.Losses.Concat(second.Losses), Is.EqualTo(whole.Losses), "step losses");
        Assert.That(first.Rates.Concat(second.Rates), Is.EqualTo(whole.Rates), "learning rates");
        Assert.That(second.Parameters(), Is.EqualTo(whole.Parameters()), "final (best restored) parameters");
        Assert.That(second.Trainer.LastEvaluation!.Loss, Is.EqualTo(whole.Trainer.LastEvaluation!.Loss));

        // Pausing in process and continuing gives the same run as well.
        first.Trainer.Run();
        Assert.That(first.Parameters(), Is.EqualTo(whole.Parameters()));
    }

    [Test]
    public void CheckpointWrittenAtAnEpochEndResumesAtTheNextEpoch()
    {
        string path = Path.Combine(_dir, "epoch.safetensors");
        var options = new TrainerOptions { Epochs = 3 };
        using var whole = Build(options);
        whole.Trainer.Run();
        using var first = Build(options, callbacks: () => [new CheckpointEvery(path, 0, atEpochEnd: true)]);
        first.Trainer.Run(untilStep: first.Train.BatchesPerEpoch + 2);
        using var second = Build(options, callbacks: () => [new CheckpointEvery(path, 0, atEpochEnd: true)]);
        second.Trainer.LoadCheckpoint(path);
        Assert.That((second.Trainer.Epoch, second.Trainer.BatchInEpoch), Is.EqualTo((1, 0)));
        second.Trainer.Run();
        Assert.That(second.Parameters(), Is.EqualTo(whole.Parameters()));
    }

    [Test]
    public void CheckpointEveryNStepsWritesAndLoadRejectsAnotherModel()
    {
        string path = Path.Combine(_dir, "every.safetensors");
        var every = new CheckpointEvery(path, 5);
        using var run = Build(new TrainerOptions { Epochs = 0, MaxSteps = 23 }, callbacks: () => [every]);
        run.Trainer.Run();
        Assert.That(every.Written, Is.EqualTo(4));
        Assert.That(Checkpoint.ReadMetadata(path)["trainer.step"], Is.EqualTo("20"));
        using var other = new Sequential(new Linear(4, 5), new ReLU(), new Linear(5, 3));
        using var opt = new Sgd(other.NamedParameters(), 0.1);
        var trainer = new Trainer(other, opt, run.Train);
        Assert.That(() => trainer.LoadCheckpoint(path), Throws.TypeOf<CheckpointMismatchException>().With.Message.Contains("model.0.weight"));
    }

    [Test]
    public void EarlyStoppingStopsAfterPatienceAndRestoresTheBestWeights()
    {
        var early = new EarlyStopping("loss", patience: 2);
        var snapshots = new Dictionary<long, float[]>();
        // A large rate makes the dev loss go up after a few evaluations.
        using var run = Build(new TrainerOptions { Epochs = 50, EvaluateEvery = 3 }, lr: 0.9, callbacks: () => [early]);
        run.Trainer.Add(new LambdaCallback { Evaluation = (t, _) => snapshots[t.Step] = run.Parameters() });
        run.Trainer.Run();
        Assert.That(early.StoppedAtStep, Is.GreaterThan(0), "the run was stopped early");
        Assert.That(run.Trainer.Step, Is.EqualTo(early.StoppedAtStep));
        Assert.That(early.StoppedAtStep - early.BestStep, Is.EqualTo(2 * 3), "two evaluations without improvement");
        Assert.That(run.Parameters(), Is.EqualTo(snapshots[early.BestStep]), "the best evaluation's weights are back");
        Assert.That(() => new EarlyStopping("f1"), Throws.ArgumentException.With.Message.Contains("unknown metric 'f1'"));
    }

    [Test]
    public void SchedulerSetsTheRatePerStepOrPerEpoch()
    {
        var schedule = new StepLr(0.1, 2, 0.5);
        using var perStep = Build(new TrainerOptions { Epochs = 1 }, callbacks: () => [new LrScheduler(schedule, ScheduleUnit.Step)]);
        perStep.Trainer.Run();
        Assert.That(perStep.Rates, Is.EqualTo(Enumerable.Range(0, perStep.Rates.Count).Select(schedule.LearningRate)));
        using var perEpoch = Build(new TrainerOptions { Epochs = 3 }, callbacks: () => [new LrScheduler(schedule, ScheduleUnit.Epoch)]);
        perEpoch.Trainer.Run();
        int n = perEpoch.Train.BatchesPerEpoch;
        Assert.That(perEpoch.Rates, Is.EqualTo(Enumerable.Range(0, 3 * n).Select(i => schedule.LearningRate(i / n))));
    }

    [Test]
    public void PlateauCallbackLowersTheRateWhenTheDevMetricStalls()
    {
        var rule = new ReduceLrOnPlateau(higherIsBetter: true, factor: 0.5, patience: 0, threshold: 10);
        using var run = Build(new TrainerOptions { Epochs = 3 }, callbacks: () => [new ReduceLrOnPlateauCallback(rule, "accuracy")]);
        run.Trainer.Run();
        // With a threshold of +1000% nothing after the first evaluation counts as better: every later one halves the rate.
        Assert.That(run.Optimizer.LearningRate, Is.EqualTo(0.05 * 0.5 * 0.5).Within(1e-15));
    }

    [Test]
    public void ClippingBoundsTheGlobalGradientNormSeenByTheOptimizer()
    {
        var clip = GradientClipping.ByNorm(0.01);
        var norms = new List<double>();
        using var run = Build(new TrainerOptions { Epochs = 1 }, callbacks: () => [clip]);
        run.Trainer.Add(new LambdaCallback
        {
            Step = (t, _) => norms.Add(Math.Sqrt(t.Optimizer.Parameters.Sum(p => p.Grad!.ToArray<float>().Sum(g => (double)g * g)))),
        });
        run.Trainer.Run();
        Assert.That(clip.LastNorm, Is.GreaterThan(0.01), "the raw gradients were larger than the limit");
        Assert.That(norms, Has.All.LessThanOrEqualTo(0.01 * (1 + 1e-5)));
        var byValue = GradientClipping.ByElement(1e-3);
        using var run2 = Build(new TrainerOptions { Epochs = 1 }, callbacks: () => [byValue]);
        run2.Trainer.Add(new LambdaCallback { Step = (t, _) => Assert.That(t.Optimizer.Parameters.SelectMany(p => p.Grad!.ToArray<float>()), Has.All.InRange(-1e-3f, 1e-3f)) });
        run2.Trainer.Run();
    }

    [Test]
    public void AccumulatingTwoHalfBatchesEqualsOneFullBatch()
    {
        // Same data order (no shuffle), mean losses of equal-sized halves: the summed half gradients are the full-batch gradient.
        using var full = Build(new TrainerOptions { Epochs = 2 }, batch: 8, shuffle: false);
        using var halves = Build(new TrainerOptions { Epochs = 2, AccumulationSteps = 2 }, batch: 4, shuffle: false);
        full.Trainer.Run();
        halves.Trainer.Run();
        Assert.That(halves.Trainer.Step, Is.EqualTo(full.Trainer.Step));
        Assert.That(halves.Losses, Is.EqualTo(full.Losses).Within(1e-5));
        Assert.That(halves.Parameters(), Is.EqualTo(full.Parameters()).Within(1e-5));
    }

    [Test]
    public void GeneratorIsReseededFromThePositionBeforeEveryBatch()
    {
        var draws = new List<double>();
        using var run = Build(new TrainerOptions { Epochs = 1 });
        var model = run.Model;
        Trainer? trainer = null;
        trainer = new Trainer(model, run.Optimizer, run.Train, null, new TrainerOptions { Epochs = 2, Seed = 4 })
        {
            Forward = x => { draws.Add(trainer!.Generator.NextDouble()); return model.Forward(x); },
        };
        trainer.Run();
        int n = run.Train.BatchesPerEpoch;
        var expected = Enumerable.Range(0, 2 * n).Select(i => new Generator(DataLoader.Mix(4, i / n, i % n)).NextDouble());
        Assert.That(draws, Is.EqualTo(expected));
    }
}
