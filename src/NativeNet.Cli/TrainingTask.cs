using System.Globalization;
using System.Numerics.Tensors;
using NativeNet.Autodiff;
using NativeNet.Data;
using NativeNet.Models;
using NativeNet.Nn;
using NativeNet.Optim;
using NativeNet.Training;

namespace NativeNet.Cli;

/// <summary>Test-set figures: mean loss and accuracy (fraction) over <paramref name="Count"/> predictions.</summary>
public readonly record struct EvalResult(double Loss, double Accuracy, int Count);

/// <summary>
/// A model together with its data: builds the model from the config (and, for eval, the checkpoint metadata),
/// builds the <see cref="Trainer"/> that trains it, and evaluates on the held-out data.
/// </summary>
public abstract class TrainingTask : IDisposable
{
    /// <summary>Metadata key of the config JSON.</summary>
    public const string ConfigKey = "config";

    /// <summary>Creates the task of <paramref name="config"/>. With <paramref name="metadata"/> (from a checkpoint) only the test data is loaded and preprocessing is taken from it.</summary>
    public static TrainingTask Create(TrainConfig config, Device device, IReadOnlyDictionary<string, string>? metadata = null) =>
        config.Model is "charlstm" or "transformer" or "chargpt" ? new CharTask(config, device, metadata) : new ImageTask(config, device, metadata);

    /// <summary>The model (on the task's device).</summary>
    public abstract Module Model { get; }

    /// <summary>Optimisation steps in one epoch.</summary>
    public abstract int StepsPerEpoch { get; }

    /// <summary>One line saying what is trained on what.</summary>
    public abstract string Description { get; }

    /// <summary>What one training sample is, for the throughput figures (<see cref="EpochMetrics.Unit"/>).</summary>
    public virtual string SampleUnit => EpochMetrics.SampleUnit;

    /// <summary>The trainer of this task's model and training data (with the task's own forward pass and callbacks).</summary>
    public abstract Trainer CreateTrainer(TrainerOptions options, Optimizer optimizer);

    /// <summary>Loss and accuracy on the test data (evaluation mode, no gradients); leaves the model in training mode.</summary>
    public abstract EvalResult Evaluate();

    /// <summary>Text sampled from the model after an epoch (language models only).</summary>
    public virtual string? Sample(int epoch) => null;

    /// <summary>What eval needs besides the config to rebuild the preprocessing (normalisation, vocabulary).</summary>
    public abstract Dictionary<string, string> Metadata();

    /// <summary>Model parameters and buffers by checkpoint name ("model.0.weight").</summary>
    public Dictionary<string, Tensor> ModelTensors()
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, p) in Model.NamedParameters()) tensors["model." + name] = p;
        foreach (var (name, b) in Model.NamedBuffers()) tensors["model." + name] = b;
        return tensors;
    }

    /// <summary>Disposes the model and data.</summary>
    public virtual void Dispose()
    {
        Model.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A double as metadata text (round-trip).</summary>
    protected static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Reads a double from metadata.</summary>
    protected static double ReadDouble(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v : throw new InvalidDataException($"the checkpoint metadata has no valid '{key}'");
}

/// <summary>Fashion-MNIST classification with mlp, cnn or resnet; with a dev fraction a stratified part of the training set is held out.</summary>
internal sealed class ImageTask : TrainingTask
{
    private const int EvalBatch = 1000;
    private readonly TrainConfig _config;
    private readonly Device _device;
    private readonly Module _model;
    private readonly DataLoader? _loader, _devLoader;
    private readonly Tensor _testX, _testY;
    private readonly double _mean, _std;
    private readonly int _trainCount, _devCount;

    public ImageTask(TrainConfig config, Device device, IReadOnlyDictionary<string, string>? metadata)
    {
        _config = config;
        _device = device;
        if (metadata is null)
        {
            var (trainX, trainY) = Limit(FashionMnist.Load(train: true, config.Data), config.Limit);
            using (trainX)
            using (trainY)
            {
                IDataset dataset = new TensorDataset(trainX, trainY);
                Normalize normalize;
                if (config.DevFraction is { } fraction)
                {
                    var (train, dev) = DevSplit.Stratified(dataset, fraction, config.Seed);
                    normalize = Normalize.Fit(train, NormalizeMode.Global);
                    _devCount = dev.Count;
                    _devLoader = new DataLoader(dev, EvalBatch, shuffle: false, prefetch: 0, transform: normalize);
                    dataset = train;
                }
                else
                {
                    normalize = Normalize.Fit(trainX, NormalizeMode.Global);
                }
                (_mean, _std) = (normalize.Mean[0], normalize.Std[0]);
                _trainCount = dataset.Count;
                _loader = new DataLoader(dataset, config.Batch, shuffle: true, seed: config.Seed, prefetch: 2, transform: normalize);
            }
        }
        else
        {
            (_mean, _std) = (ReadDouble(metadata, "normalize_mean"), ReadDouble(metadata, "normalize_std"));
        }
        (_testX, _testY) = Limit(FashionMnist.Load(train: false, config.Data), config.Limit);
        Standardize(_testX, _mean, _std);
        _model = ModelZoo.Build(config.Model, new Generator(config.Seed));
        if (device.Kind != DeviceKind.Cpu) _model.To(device);
    }

    public override Module Model => _model;

    public override int StepsPerEpoch => _loader?.BatchesPerEpoch ?? 0;

    public override string Description =>
        $"{_config.Model} ({_model.ParameterCount:N0} parameters) on Fashion-MNIST: {_trainCount} train, {(_devCount > 0 ? $"{_devCount} dev (stratified), " : "")}{_testX.Shape[0]} test, " +
        $"inputs standardised with the training mean {_mean:F4} and std {_std:F4}";

    public override Dictionary<string, string> Metadata() => new()
    {
        ["normalize_mean"] = Format(_mean),
        ["normalize_std"] = Format(_std),
    };

    /// <summary>The standardised test images and their labels.</summary>
    public (Tensor X, Tensor Y) TestData => (_testX, _testY);

    /// <summary>The first <paramref name="limit"/> samples (all when 0), as new contiguous tensors.</summary>
    private static (Tensor X, Tensor Y) Limit((Tensor X, Tensor Y) data, int limit)
    {
        if (limit <= 0 || limit >= data.X.Shape[0]) return data;
        using (data.X)
        using (data.Y)
            return (data.X.Narrow(0, 0, limit).Contiguous().Clone(), data.Y.Narrow(0, 0, limit).Contiguous().Clone());
    }

    /// <summary>(x − mean)/std in place, with the same float arithmetic as <see cref="Normalize.ApplyInPlace"/>.</summary>
    private static void Standardize(Tensor x, double mean, double std)
    {
        var data = x.HostData<float>().AsSpan(x.Offset, x.Numel);
        TensorPrimitives.Subtract(data, (float)mean, data);
        TensorPrimitives.Multiply(data, (float)(1 / std), data);
    }

    public override Trainer CreateTrainer(TrainerOptions options, Optimizer optimizer) =>
        new(_model, optimizer, _loader ?? throw new InvalidOperationException("this task was built for evaluation only"), _devLoader, options) { Device = _device };

    /// <summary>All figures on the test set (confusion matrix, per-class precision and recall).</summary>
    public ClassificationMetrics EvaluateTest() => Trainer.Evaluate(_model, new TensorBatches(_testX, _testY, EvalBatch), _device);

    public override EvalResult Evaluate()
    {
        var metrics = EvaluateTest();
        return new EvalResult(metrics.Loss, metrics.Accuracy, (int)metrics.Count);
    }

    public override void Dispose()
    {
        _loader?.Dispose();
        _devLoader?.Dispose();
        _testX.Dispose();
        _testY.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Character-level language modelling: the first 90% of the text trains (as <c>batch</c> parallel streams, truncated
/// backpropagation through time over chunks of <c>seq_len</c> characters, the LSTM state carried across chunks,
/// gradients clipped by global norm), the last 10% measures next-character accuracy.
/// </summary>
internal sealed class CharTask : TrainingTask
{
    private const double Temperature = 0.8;
    private const int SampleLength = 240;
    private const int GptSampleEvery = 10;
    private readonly TrainConfig _config;
    private readonly Device _device;
    private readonly Module _model;
    private readonly CharLstm? _lstm;
    private readonly CharTransformer? _transformer;
    private readonly string _vocabulary;
    private readonly int[] _train, _test;
    private readonly string _path;
    // The Transformer's dropout masks, reseeded from (seed, epoch, batch) before every step so a resumed run repeats them.
    private readonly Generator _dropoutGenerator = new(0);

    public CharTask(TrainConfig config, Device device, IReadOnlyDictionary<string, string>? metadata)
    {
        _config = config;
        _device = device;
        _path = config.Text ?? TrainConfig.DefaultText;
        if (!File.Exists(_path)) throw new FileNotFoundException($"text file '{_path}' not found (give one with --text PATH)");
        string text = File.ReadAllText(_path);
        if (config.Limit > 0 && config.Limit < text.Length) text = text[..config.Limit];
        if (text.Length < 100) throw new InvalidDataException($"text file '{_path}' has {text.Length} characters; charlstm needs at least 100");
        _vocabulary = metadata is null
            ? new string(text.Distinct().Order().ToArray())
            : metadata.TryGetValue("vocabulary", out var v) ? v : throw new InvalidDataException("the checkpoint metadata has no 'vocabulary'");
        var index = new Dictionary<char, int>();
        for (int i = 0; i < _vocabulary.Length; i++) index[_vocabulary[i]] = i;
        var all = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
            all[i] = index.TryGetValue(text[i], out int k) ? k : throw new InvalidDataException($"character U+{(int)text[i]:X4} of '{_path}' is not in the checkpoint's vocabulary");
        int split = text.Length * 9 / 10;
        _train = all[..split];
        _test = all[split..];
        if (_train.Length - 1 < config.Batch)
            throw new ArgumentException($"--batch {config.Batch} streams need at least that many training characters; the text has {_train.Length}");
        // transformer, chargpt: width --embedding, context --seq-len, --layers causal pre-norm blocks of --heads heads.
        if (config.Model == "chargpt")
            _model = _transformer = CharTransformer.Gpt(_vocabulary.Length, config.SeqLen, config.Embedding, config.Heads, config.Layers, new Generator(config.Seed), config.Dropout ?? 0, _dropoutGenerator);
        else if (config.Model == "transformer")
            _model = _transformer = new CharTransformer(_vocabulary.Length, config.SeqLen, config.Embedding, config.Heads, config.Layers, config.Dropout ?? 0, new Generator(config.Seed),
                dropoutGenerator: _dropoutGenerator);
        else
            _model = _lstm = new CharLstm(_vocabulary.Length, config.Embedding, config.Hidden, 1, new Generator(config.Seed));
        if (device.Kind != DeviceKind.Cpu) _model.To(device);
    }

    public override Module Model => _model;

    public override int StepsPerEpoch => ((_train.Length - 1) / _config.Batch + _config.SeqLen - 1) / _config.SeqLen;

    public override string Description =>
        (_transformer is not null
            ? $"{_config.Model} ({_model.ParameterCount:N0} parameters, vocabulary {_vocabulary.Length}, width {_config.Embedding}, {_transformer.Layers} blocks of {_config.Heads} heads, context {_config.SeqLen}" +
              (_config.Dropout is > 0 ? $", dropout {_config.Dropout.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "") +
              (_config.Warmup is { } warmup ? $", {warmup} warm-up steps then cosine decay{(_config.TimeBudget is not null ? " over the time budget" : "")}" : "") + $") on {_path}: "
            : $"charlstm ({_model.ParameterCount:N0} parameters, vocabulary {_vocabulary.Length}, embedding {_config.Embedding}, hidden {_config.Hidden}) on {_path}: ") +
        $"{_train.Length} train / {_test.Length} test characters, {_config.Batch} {(_transformer is null ? "streams, chunks" : "random windows")} of {_config.SeqLen}, clip {_config.Clip}";

    public override Dictionary<string, string> Metadata() => new() { ["vocabulary"] = _vocabulary };

    /// <summary>A sample is one predicted character: throughput is training characters per second.</summary>
    public override string SampleUnit => EpochMetrics.CharacterUnit;

    public override Trainer CreateTrainer(TrainerOptions options, Optimizer optimizer)
    {
        var carry = new CarriedState();
        Trainer? trainer = null;
        IBatchSource data = _transformer is null ? new StreamChunks(_train, _config.Batch, _config.SeqLen) : new RandomWindows(_train, _config.Batch, _config.SeqLen, _config.Seed);
        trainer = new Trainer(_model, optimizer, data, null, options)
        {
            Device = _device,
            Forward = x =>
            {
                if (_transformer is not null)
                {
                    _dropoutGenerator.ManualSeed(DataLoader.Mix(unchecked(_config.Seed + 1), trainer!.Epoch, trainer.BatchInEpoch));
                    return _transformer.Forward(x);
                }
                var (logits, (h, c)) = _lstm!.Forward(x, carry.State);
                carry.Next = (trainer!.StepScope!.Keep(h.Detach()), trainer.StepScope.Keep(c.Detach()));
                return logits;
            },
        };
        trainer.Add(GradientClipping.ByNorm(_config.Clip));
        if (_config.Warmup is { } budgetWarmup && options.TimeBudgetSeconds > 0)
            trainer.Add(new TimeBudgetCosine(_config.LearningRate, budgetWarmup, _config.LearningRate / 10));
        else if (_config.Warmup is { } warmup)
        {
            // Warm-up then cosine decay to a tenth of the rate over all epochs; --max-steps only interrupts the run (as --resume
            // sees it), so a resumed run follows the same schedule bit for bit.
            int decay = Math.Max(1, options.Epochs * StepsPerEpoch - warmup);
            trainer.Add(new LrScheduler(new LinearWarmup(new CosineLr(_config.LearningRate, decay, _config.LearningRate / 10), warmup), ScheduleUnit.Step));
        }
        trainer.Add(carry);
        _carried = carry;
        return trainer;
    }

    private CarriedState? _carried;

    public override void Dispose()
    {
        _carried?.Reset();
        base.Dispose();
    }

    /// <summary>The LSTM state carried from chunk to chunk within an epoch (truncated backpropagation through time), reset at each epoch start.</summary>
    private sealed class CarriedState : TrainerCallback
    {
        public (Tensor H, Tensor C)? State { get; private set; }

        public (Tensor H, Tensor C)? Next { get; set; }

        public override void OnEpochBegin(Trainer trainer, int epoch) => Reset();

        public override void OnStep(Trainer trainer, StepInfo step)
        {
            DisposeState(State);
            State = Next;
            Next = null;
        }

        public override void OnTrainEnd(Trainer trainer) => Reset();

        public void Reset()
        {
            DisposeState(State);
            DisposeState(Next);
            (State, Next) = (null, null);
        }
    }

    /// <summary>
    /// The training characters as <c>streams</c> parallel streams cut into chunks of <c>seqLen</c>: batch b is inputs
    /// [steps, streams] and next-character targets [steps·streams] (time-major), the same every epoch.
    /// </summary>
    private sealed class StreamChunks(int[] text, int streams, int seqLen) : IBatchSource
    {
        private int Length => (text.Length - 1) / streams;

        public int BatchesPerEpoch => (Length + seqLen - 1) / seqLen;

        public IEnumerable<(Tensor X, Tensor Y)> Epoch(int epoch, int startBatch)
        {
            int length = Length;
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                int start = b * seqLen;
                int steps = Math.Min(seqLen, length - start);
                var inputs = new int[steps * streams];
                var targets = new int[steps * streams];
                for (int t = 0; t < steps; t++)
                    for (int s = 0; s < streams; s++)
                    {
                        int position = s * length + start + t;
                        inputs[t * streams + s] = text[position];
                        targets[t * streams + s] = text[position + 1];
                    }
                yield return (Tensor.FromArray(inputs, steps, streams), Tensor.FromArray(targets, steps * streams));
            }
        }
    }

    /// <summary>
    /// For the Transformer, which carries no state from chunk to chunk: each batch is <c>batch</c> windows of <c>seqLen</c>
    /// characters starting at random positions of the training text (as nanoGPT samples), drawn from a generator seeded by
    /// (seed, epoch, batch) so a resumed run sees the same windows; an epoch has as many batches as the streams would.
    /// Every position is seen at many offsets within its context instead of always the same one.
    /// </summary>
    private sealed class RandomWindows(int[] text, int batch, int seqLen, int seed) : IBatchSource
    {
        private readonly int _steps = Math.Min(seqLen, text.Length - 1);

        public int BatchesPerEpoch => ((text.Length - 1) / batch + seqLen - 1) / seqLen;

        public IEnumerable<(Tensor X, Tensor Y)> Epoch(int epoch, int startBatch)
        {
            int starts = text.Length - _steps;
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                var generator = new Generator(DataLoader.Mix(seed, epoch, b));
                var inputs = new int[_steps * batch];
                var targets = new int[_steps * batch];
                for (int s = 0; s < batch; s++)
                {
                    int start = (int)(generator.NextDouble() * starts);
                    for (int t = 0; t < _steps; t++)
                    {
                        inputs[t * batch + s] = text[start + t];
                        targets[t * batch + s] = text[start + t + 1];
                    }
                }
                yield return (Tensor.FromArray(inputs, _steps, batch), Tensor.FromArray(targets, _steps * batch));
            }
        }
    }

    private Tensor ToDevice(Tensor t) => _device.Kind == DeviceKind.Cpu ? t : t.To(_device);

    private static void DisposeState((Tensor H, Tensor C)? state)
    {
        state?.H.Dispose();
        state?.C.Dispose();
    }

    private static int CountCorrect(Tensor logits, int[] targets)
    {
        using var predicted = Ops.ArgMax(logits, 1);
        var p = predicted.ToArray<int>();
        int correct = 0;
        for (int i = 0; i < p.Length; i++) if (p[i] == targets[i]) correct++;
        return correct;
    }

    /// <summary>Logits of a chunk and, for the LSTM, its final state (the Transformer has none: each chunk is its own context).</summary>
    private (Tensor Logits, (Tensor H, Tensor C)? State) Step(Tensor x, (Tensor H, Tensor C)? state)
    {
        if (_transformer is not null) return (_transformer.Forward(x), null);
        var (logits, next) = _lstm!.Forward(x, state);
        return (logits, next);
    }

    /// <summary>Reads the held-out tail as one stream, chunk by chunk with the state carried over (LSTM).</summary>
    public override EvalResult Evaluate()
    {
        _model.Eval();
        (Tensor H, Tensor C)? state = null;
        try
        {
            using var noGrad = GradMode.Disable();
            int n = _test.Length - 1, correct = 0;
            double lossSum = 0;
            for (int start = 0; start < n; start += _config.SeqLen)
            {
                int steps = Math.Min(_config.SeqLen, n - start);
                var targets = _test.AsSpan(start + 1, steps).ToArray();
                using var scope = new TensorScope();
                var x = ToDevice(Tensor.FromArray(_test.AsSpan(start, steps).ToArray(), steps, 1));
                var (logits, next) = Step(x, state);
                lossSum += Ops.SoftmaxCrossEntropy(logits, ToDevice(Tensor.FromArray(targets))).Item() * steps;
                correct += CountCorrect(logits, targets);
                if (next is { } n2) next = (scope.Keep(n2.H), scope.Keep(n2.C));
                DisposeState(state);
                state = next;
            }
            return new EvalResult(lossSum / n, (double)correct / n, n);
        }
        finally
        {
            DisposeState(state);
            _model.Train();
        }
    }

    /// <summary>
    /// Temperature sampling from a generator seeded by (seed, epoch), primed with the text's first character. chargpt's epochs
    /// are a handful of steps each and sampling rereads the whole context per character, so it samples every
    /// <see cref="GptSampleEvery"/>th epoch and at the last.
    /// </summary>
    public override string? Sample(int epoch)
    {
        if (_config.Model == "chargpt" && epoch % GptSampleEvery != 0 && epoch != _config.Epochs) return null;
        _model.Eval();
        var generator = new Generator(unchecked(_config.Seed * 1000003 + epoch));
        var text = new System.Text.StringBuilder();
        int current = _train[0];
        text.Append(_vocabulary[current]);
        var history = new List<int> { current };
        (Tensor H, Tensor C)? state = null;
        try
        {
            using var noGrad = GradMode.Disable();
            for (int i = 0; i < SampleLength; i++)
            {
                using var scope = new TensorScope();
                // The LSTM reads one character and carries its state; the Transformer rereads its last seq_len characters.
                var window = _transformer is null ? [current] : history.Skip(Math.Max(0, history.Count - _config.SeqLen)).ToArray();
                var x = ToDevice(Tensor.FromArray(window, window.Length, 1));
                var (logits, next) = Step(x, state);
                if (next is { } n2) next = (scope.Keep(n2.H), scope.Keep(n2.C));
                DisposeState(state);
                state = next;
                var scores = Raw.Narrow(logits, 0, window.Length - 1, 1).ToArray<float>();
                double max = scores.Max();
                var weights = scores.Select(s => Math.Exp((s - max) / Temperature)).ToArray();
                double u = generator.NextDouble() * weights.Sum();
                current = weights.Length - 1;
                for (int k = 0; k < weights.Length; k++)
                {
                    u -= weights[k];
                    if (u < 0) { current = k; break; }
                }
                text.Append(_vocabulary[current]);
                history.Add(current);
            }
            return text.ToString();
        }
        finally
        {
            DisposeState(state);
            _model.Train();
        }
    }
}
