using System.Text.Json;
using System.Text.Json.Serialization;
using NativeNet.Backends;
using NativeNet.Backends.Simd;
using NativeNet.Optim;

namespace NativeNet.Cli;

/// <summary>Everything that defines a training run; saved in metrics.json and in the checkpoint metadata so eval can rebuild the model.</summary>
public sealed record TrainConfig
{
    /// <summary>Models of <c>nativenet train</c> (twolayer has its own command).</summary>
    public static readonly string[] Models = ["mlp", "cnn", "resnet", "charlstm", "transformer", "chargpt"];

    /// <summary>Optimizer names.</summary>
    public static readonly string[] Optimizers = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"];

    /// <summary>The text the character model reads when --text is not given (shipped by Debian's base-files).</summary>
    public const string DefaultText = "/usr/share/common-licenses/GPL-3";

    /// <summary>mlp, cnn, resnet, charlstm, transformer (a character-level Transformer on the same text as charlstm) or chargpt (its larger GPT configuration).</summary>
    [JsonPropertyName("model")] public string Model { get; init; } = "cnn";
    /// <summary>Passes over the training data.</summary>
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 5;
    /// <summary>Samples per step (parallel text streams for charlstm).</summary>
    [JsonPropertyName("batch")] public int Batch { get; init; } = 128;
    /// <summary>Optimizer name.</summary>
    [JsonPropertyName("optimizer")] public string Optimizer { get; init; } = "adam";
    /// <summary>Learning rate.</summary>
    [JsonPropertyName("lr")] public double LearningRate { get; init; } = 1e-3;
    /// <summary>naive, simd or cuda.</summary>
    [JsonPropertyName("backend")] public string Backend { get; init; } = NativeNet.Backends.Backend.DefaultCpu.Name;
    /// <summary>Threads of the Simd backend and its GEMM.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Seed of the initialisation, shuffling and sampling.</summary>
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    /// <summary>Output directory.</summary>
    [JsonPropertyName("out")] public string Out { get; init; } = "";
    /// <summary>Use only the first N training and N test samples (characters of the text for charlstm); 0 = all.</summary>
    [JsonPropertyName("limit")] public int Limit { get; init; }
    /// <summary>Fashion-MNIST directory (null: <see cref="NativeNet.Data.FashionMnist.DefaultDirectory"/>).</summary>
    [JsonPropertyName("data")] public string? Data { get; init; }
    /// <summary>charlstm: the training text.</summary>
    [JsonPropertyName("text")] public string? Text { get; init; }
    /// <summary>charlstm: characters per truncated-BPTT chunk.</summary>
    [JsonPropertyName("seq_len")] public int SeqLen { get; init; } = 64;
    /// <summary>charlstm: LSTM state width.</summary>
    [JsonPropertyName("hidden")] public int Hidden { get; init; } = 256;
    /// <summary>charlstm: character embedding width.</summary>
    [JsonPropertyName("embedding")] public int Embedding { get; init; } = 64;
    /// <summary>transformer, chargpt: Transformer blocks.</summary>
    [JsonPropertyName("layers")] public int Layers { get; init; } = 2;
    /// <summary>transformer, chargpt: attention heads per block.</summary>
    [JsonPropertyName("heads")] public int Heads { get; init; } = 4;
    /// <summary>chargpt: optimizer steps of linear learning-rate warm-up before the cosine decay (null: no schedule).</summary>
    [JsonPropertyName("warmup")] public int? Warmup { get; init; }
    /// <summary>transformer, chargpt: dropout probability on the embeddings, after each attention and after each MLP (null: 0).</summary>
    [JsonPropertyName("dropout")] public double? Dropout { get; init; }
    /// <summary>
    /// Seconds of training after which the run ends at the end of the epoch that crosses them (null: no limit; evaluation time
    /// excluded). Where the run stops, and chargpt's learning rate (cosine over the budget), then depend on the machine's speed,
    /// so such a run is not repeatable bit for bit.
    /// </summary>
    [JsonPropertyName("time_budget")] public double? TimeBudget { get; init; }
    /// <summary>charlstm: maximum global gradient norm.</summary>
    [JsonPropertyName("clip")] public double Clip { get; init; } = 5.0;
    /// <summary>Weight decay of the optimizer (null: its default, 0.01 for adamw and 0 otherwise).</summary>
    [JsonPropertyName("weight_decay")] public double? WeightDecay { get; init; }
    /// <summary>Fraction of the training images held out as a stratified dev set (null: none).</summary>
    [JsonPropertyName("dev_fraction")] public double? DevFraction { get; init; }
    /// <summary>Evaluate on the dev set every N steps besides each epoch end (null: epoch ends only).</summary>
    [JsonPropertyName("eval_every")] public int? EvalEvery { get; init; }
    /// <summary>Stop after this many dev evaluations without a better dev accuracy and keep the best weights (null: off).</summary>
    [JsonPropertyName("early_stop")] public int? EarlyStop { get; init; }
    /// <summary>Write the resume checkpoint every N steps besides each epoch end (null: epoch ends only).</summary>
    [JsonPropertyName("checkpoint_every")] public int? CheckpointEvery { get; init; }
    /// <summary>Stop after this many optimizer steps (null: run all epochs).</summary>
    [JsonPropertyName("max_steps")] public int? MaxSteps { get; init; }

    // chargpt's defaults: sized for the ~32k training characters of the default text and a couple of minutes on two cores
    // (bench/results/chargpt.md). The 4×128 GPT with context 128 and batch 32 gets too few steps in that time and
    // overfits the fixed chunks; 2 blocks of width 64, context 64, 8 random windows a step, lr 3e-3 and dropout 0.1 reached
    // the lowest validation loss of the configurations tried in a fixed time (bench/results/chargpt.md lists them).
    private const int GptLayers = 2, GptWidth = 64, GptContext = 64, GptBatch = 8, GptWarmup = 20;
    private const double GptDropout = 0.1, GptLearningRate = 3e-3;

    private static readonly JsonSerializerOptions s_json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The config as a JSON object.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads a config written by <see cref="ToJson"/>.</summary>
    public static TrainConfig FromJson(string json) =>
        JsonSerializer.Deserialize<TrainConfig>(json, s_json) ?? throw new InvalidDataException("the training config is empty");

    /// <summary>
    /// The config stored in the metadata of a checkpoint written by <c>nativenet train</c>; an
    /// <see cref="InvalidDataException"/> naming <paramref name="path"/> when there is none or it does not parse.
    /// </summary>
    public static TrainConfig FromCheckpoint(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue("format", out var format) || format != TrainCommand.Format || !metadata.TryGetValue(TrainingTask.ConfigKey, out var configJson))
            throw new InvalidDataException($"checkpoint '{path}' was not written by 'nativenet train' (no {TrainCommand.Format} metadata)");
        try
        {
            return FromJson(configJson);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"checkpoint '{path}' has an unreadable training config: {e.Message}");
        }
    }

    /// <summary>Parses the options of <c>nativenet train</c>.</summary>
    public static TrainConfig Parse(CliArgs args)
    {
        string model = args.Choice("model", "cnn", Models);
        bool text = model is "charlstm" or "transformer" or "chargpt";
        bool gpt = model == "chargpt";
        bool attention = model is "transformer" or "chargpt";
        var config = new TrainConfig
        {
            Model = model,
            // A time budget bounds the run; the epochs then only cap it.
            Epochs = args.Int("epochs", args.Has("time-budget") ? 10_000 : 5, 1, 10_000),
            Batch = args.Int("batch", gpt ? GptBatch : text ? 32 : 128, 1, 1_000_000),
            Optimizer = args.Choice("optimizer", gpt ? "adamw" : "adam", Optimizers),
            LearningRate = args.Double("lr", gpt ? GptLearningRate : text ? 2e-3 : 1e-3, positive: true),
            Backend = args.Choice("backend", NativeNet.Backends.Backend.DefaultCpu.Name, "naive", "simd", "cuda"),
            Threads = args.Int("threads", Environment.ProcessorCount, 1, 1024),
            Seed = args.Int("seed", 42),
            Limit = args.Int("limit", 0, 0),
            Data = args.PathOption("data", null),
            Text = text ? args.PathOption("text", DefaultText) : null,
            SeqLen = text ? args.Int("seq-len", gpt ? GptContext : 64, 2, 100_000) : 64,
            Hidden = text ? args.Int("hidden", 256, 1, 100_000) : 256,
            Embedding = text ? args.Int("embedding", gpt ? GptWidth : 64, 1, 100_000) : 64,
            Clip = text ? args.Double("clip", gpt ? 1.0 : 5.0, positive: true) : 5.0,
            Layers = attention ? args.Int("layers", gpt ? GptLayers : 2, 1, 1000) : 2,
            Heads = attention ? args.Int("heads", 4, 1, 1000) : 4,
            Warmup = gpt ? args.Int("warmup", GptWarmup, 0, 1_000_000) : null,
            Dropout = attention ? args.Double("dropout", gpt ? GptDropout : 0) : null,
            TimeBudget = args.Has("time-budget") ? args.Double("time-budget", 0, positive: true) : null,
            WeightDecay = args.Has("weight-decay") ? args.Double("weight-decay", 0) : null,
            DevFraction = args.Has("dev-fraction") ? args.Double("dev-fraction", 0) : null,
            EvalEvery = args.Has("eval-every") ? args.Int("eval-every", 0, 1) : null,
            EarlyStop = args.Has("early-stop") ? args.Int("early-stop", 0, 1) : null,
            CheckpointEvery = args.Has("checkpoint-every") ? args.Int("checkpoint-every", 0, 1) : null,
            MaxSteps = args.Has("max-steps") ? args.Int("max-steps", 0, 1) : null,
        };
        if (config.DevFraction is { } f && !(f > 0 && f < 1)) throw new UsageException($"--dev-fraction must be in (0, 1), got {f.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (text && config.DevFraction is not null) throw new UsageException("--dev-fraction is for the image models; charlstm holds out the last 10% of the text");
        if ((config.EvalEvery is not null || config.EarlyStop is not null) && config.DevFraction is null)
            throw new UsageException("--eval-every and --early-stop evaluate on a dev set: give --dev-fraction F too");
        if (config.Dropout is { } p && !(p >= 0 && p < 1)) throw new UsageException($"--dropout must be in [0, 1), got {p.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (attention && config.Embedding % config.Heads != 0)
            throw new UsageException($"--embedding {config.Embedding} must be divisible by --heads {config.Heads}");
        if (model == "charlstm" && (config.CheckpointEvery is not null || config.MaxSteps is not null))
            throw new UsageException("--checkpoint-every and --max-steps are for the image models; charlstm carries its LSTM state through an epoch and checkpoints at epoch ends only");
        string stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        return config with { Out = args.PathOption("out", Path.Combine("runs", $"{model}-{stamp}"))! };
    }

    /// <summary>Makes the configured backend the CPU default and sets its threads; returns the device tensors live on.</summary>
    public Device ApplyBackend() => ApplyBackend(Backend, Threads);

    /// <summary>Makes backend <paramref name="name"/> the CPU default (or selects CUDA) and sets the Simd/GEMM threads.</summary>
    public static Device ApplyBackend(string name, int threads)
    {
        SimdBackend.Threads = threads;
        var backend = NativeNet.Backends.Backend.FromName(name);
        if (backend.DeviceKind == DeviceKind.Cpu)
        {
            NativeNet.Backends.Backend.DefaultCpu = backend;
            return Device.Cpu;
        }
        return Device.Cuda(0);
    }

    /// <summary>The configured optimizer over <paramref name="parameters"/>.</summary>
    public Optimizer CreateOptimizer(IEnumerable<(string Name, Tensor Tensor)> parameters) => Optimizer switch
    {
        "sgd" => new Sgd(parameters, LearningRate, weightDecay: WeightDecay ?? 0),
        "momentum" => new Momentum(parameters, LearningRate, 0.9, weightDecay: WeightDecay ?? 0),
        "nesterov" => new Nesterov(parameters, LearningRate, 0.9, weightDecay: WeightDecay ?? 0),
        "adagrad" => new AdaGrad(parameters, LearningRate, weightDecay: WeightDecay ?? 0),
        "rmsprop" => new RmsProp(parameters, LearningRate, weightDecay: WeightDecay ?? 0),
        "adam" => new Adam(parameters, LearningRate, weightDecay: WeightDecay ?? 0),
        "adamw" => new AdamW(parameters, LearningRate, weightDecay: WeightDecay ?? 0.01, decayWhere: NativeNet.Optim.Optimizer.WeightsOnly),
        _ => throw new UsageException($"unknown optimizer '{Optimizer}'"),
    };
}
