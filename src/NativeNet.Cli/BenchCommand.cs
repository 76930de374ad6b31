using System.Globalization;
using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Cuda;
using NativeNet.Models;
using NativeNet.Nn;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet bench gemm|conv2d|maxpool|train-step|lstm|gru|attention|gpt-step</c>: one timed figure per call with <see cref="Measurement"/>
/// (warm-up, ≥ 30 repeats and ≥ 1 s, median), as one plain line or one JSON object. Shapes follow the PyTorch anchors.
/// </summary>
public static class BenchCommand
{
    /// <summary>Runs benchmark <paramref name="which"/>; returns the exit code.</summary>
    public static int Run(string which, CliArgs args, CliConsole console)
    {
        if (which is not ("gemm" or "conv2d" or "maxpool" or "train-step" or "lstm" or "gru" or "attention" or "gpt-step"))
            throw new UsageException($"unknown benchmark '{which}': expected gemm, conv2d, maxpool, train-step, lstm, gru, attention or gpt-step");
        string backendName = args.Choice("backend", Backend.DefaultCpu.Name, "naive", "simd", "cuda");
        int threads = args.Int("threads", Environment.ProcessorCount, 1, 1024);
        bool json = args.Flag("json");
        int repeats = args.Int("repeats", 30, 1, 100_000);
        double minTime = args.Double("min-time", 1.0);
        int profileCalls = args.Int("profile", 0, 0, 100_000);
        if (!(minTime >= 0)) throw new UsageException($"--min-time must be a number of seconds >= 0, got {minTime}");
        var fields = new List<(string Name, object Value)> { ("op", which), ("backend", backendName), ("threads", threads) };
        Func<Device, (Action Call, double Flop)> setup = which switch
        {
            "gemm" => Gemm(args, fields),
            "conv2d" => Conv(args, fields),
            "maxpool" => MaxPool(args, fields),
            "lstm" or "gru" => Recurrent(which, args, fields),
            "attention" => Attention(args, fields),
            "gpt-step" => GptStep(args, fields),
            _ => TrainStep(args, fields),
        };
        args.RejectUnknown($"bench {which}");

        var device = TrainConfig.ApplyBackend(backendName, threads);
        var cuda = device.Kind == DeviceKind.Cuda ? (CudaBackend)Backend.For(device) : null;
        var (call, flop) = setup(device);
        var result = Measurement.Run(() =>
        {
            call();
            cuda?.Synchronize();
        }, minRepeats: repeats, minSeconds: minTime);
        if (flop > 0) fields.Add(("gflops", Math.Round(flop / (result.MedianMs * 1e6), 2)));
        fields.Add(("median_ms", Math.Round(result.MedianMs, 4)));
        fields.Add(("min_ms", Math.Round(result.MinMs, 4)));
        fields.Add(("repeats", result.Repeats));
        fields.Add(("other_load", double.IsNaN(result.OtherLoad) ? -1 : Math.Round(result.OtherLoad, 2)));
        fields.Add(("load_average", TrainCommand.LoadAverage()));
        if (json)
        {
            console.Out.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                foreach (var (name, value) in fields)
                {
                    switch (value)
                    {
                        case string s: w.WriteString(name, s); break;
                        case int i: w.WriteNumber(name, i); break;
                        case double d: w.WriteNumber(name, d); break;
                    }
                }
                w.WriteEndObject();
            }));
        }
        else
        {
            console.Out.WriteLine(string.Join("  ", fields.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Name}={f.Value}"))));
        }
        if (profileCalls > 0) PrintProfile(call, cuda, profileCalls, console);
        return 0;
    }

    /// <summary>
    /// <c>--profile N</c>: N more calls under <see cref="GateProfiler"/>, then one line per gate (name and output shape) and
    /// phase with its milliseconds per call, its share and its calls per call, largest first, and the profiled total.
    /// </summary>
    private static void PrintProfile(Action call, CudaBackend? cuda, int calls, CliConsole console)
    {
        int[] collections = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        var pause = GC.GetTotalPauseDuration();
        long allocated = GC.GetTotalAllocatedBytes();
        GateProfiler.Start();
        for (int i = 0; i < calls; i++)
        {
            call();
            cuda?.Synchronize();
            GateProfiler.Mark("(between calls)");
        }
        var rows = GateProfiler.Stop();
        double total = rows.Sum(r => r.Milliseconds) / calls;
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"profile calls={calls} ms_per_call={total:F2} gc_pause_ms_per_call={(GC.GetTotalPauseDuration() - pause).TotalMilliseconds / calls:F2} " +
            $"allocated_mb_per_call={(GC.GetTotalAllocatedBytes() - allocated) / 1e6 / calls:F1} " +
            $"collections_gen0_1_2={GC.CollectionCount(0) - collections[0]},{GC.CollectionCount(1) - collections[1]},{GC.CollectionCount(2) - collections[2]}"));
        foreach (var r in rows)
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"profile {r.Milliseconds / calls,9:F3} ms {100 * r.Milliseconds / calls / total,5:F1}%  x{(double)r.Calls / calls,-4:G3} {r.Phase,-8} {r.Name}"));
    }

    /// <summary>
    /// C = op(A)·op(B) with preallocated row-major operands, straight through <see cref="Backend.Gemm"/>; <c>--op</c> names the
    /// transposes as BLAS does (NN, NT, TN, TT), a transposed operand being stored as its transpose.
    /// </summary>
    private static Func<Device, (Action, double)> Gemm(CliArgs args, List<(string, object)> fields)
    {
        int m = args.Int("m", 1024, 1, 1 << 20), n = args.Int("n", 1024, 1, 1 << 20), k = args.Int("k", 1024, 1, 1 << 20);
        if ((long)m * n > int.MaxValue || (long)m * k > int.MaxValue || (long)k * n > int.MaxValue)
            throw new UsageException($"bench gemm: {m}x{n}x{k} needs a matrix of more than 2^31 elements");
        string op = args.Choice("op", "nn", "nn", "nt", "tn", "tt").ToUpperInvariant();
        bool transA = op[0] == 'T', transB = op[1] == 'T';
        fields.AddRange([("m", m), ("n", n), ("k", k), ("gemm_op", op)]);
        return device =>
        {
            var generator = new Generator(0);
            var a = Tensor.Normal(transA ? [k, m] : [m, k], 0, 1, generator, DType.Float32, device);
            var b = Tensor.Normal(transB ? [n, k] : [k, n], 0, 1, generator, DType.Float32, device);
            var c = Tensor.Zeros([m, n], DType.Float32, device);
            var backend = Backend.For(device);
            var opA = new MatrixOperand(a.Storage, 0, transA ? m : k, 0, transA);
            var opB = new MatrixOperand(b.Storage, 0, transB ? k : n, 0, transB);
            return (() => backend.Gemm(DType.Float32, 1, m, n, k, opA, opB, c.Storage, 0, n, 0, 0), 2.0 * m * n * k);
        };
    }

    /// <summary>The anchor convolutions: conv1 N=64 1→32 28×28, conv2 N=64 32→64 14×14, depthwise N=32 64→64 28×28 (groups 64),
    /// 3×3 pad 1; fwdbwd computes dW, db and (conv2 and depthwise, or --dx true) dX; --groups splits the channels into groups.</summary>
    private static Func<Device, (Action, double)> Conv(CliArgs args, List<(string, object)> fields)
    {
        string shape = args.Choice("shape", "conv1", "conv1", "conv2", "depthwise");
        string pass = args.Choice("pass", "fwd", "fwd", "fwdbwd");
        bool dx = args.Choice("dx", shape == "conv1" ? "false" : "true", "true", "false") == "true";
        var (n, c, k, size) = shape switch { "conv1" => (64, 1, 32, 28), "conv2" => (64, 32, 64, 14), _ => (32, 64, 64, 28) };
        int groups = args.Int("groups", shape == "depthwise" ? c : 1, 1, 1 << 20);
        if (c % groups != 0 || k % groups != 0)
            throw new UsageException($"bench conv2d --shape {shape}: --groups {groups} must divide the {c} input channels and the {k} filters");
        fields.AddRange([("shape", shape), ("pass", pass), ("n", n), ("c", c), ("k", k), ("hw", size), ("groups", groups)]);
        if (pass == "fwdbwd") fields.Add(("dx", dx ? "yes" : "no"));
        double fwdFlop = 2.0 * n * k * (c / groups) * 9 * size * size;
        return device =>
        {
            var generator = new Generator(0);
            var x = Tensor.Normal([n, c, size, size], 0, 1, generator, DType.Float32, device).RequireGrad(pass == "fwdbwd" && dx);
            var w = Tensor.Normal([k, c / groups, 3, 3], 0, 0.1, generator, DType.Float32, device).RequireGrad();
            var b = Tensor.Normal([k], 0, 0.1, generator, DType.Float32, device).RequireGrad();
            var g = Tensor.Normal([n, k, size, size], 0, 1, generator, DType.Float32, device);
            if (pass == "fwd")
                return (() =>
                {
                    using var noGrad = GradMode.Disable();
                    Ops.Conv2d(x, w, b, 1, 1, groups: groups).Dispose();
                }, fwdFlop);
            return (() =>
            {
                ClearGrads(x, w, b);
                using var scope = new TensorScope();
                Ops.Conv2d(x, w, b, 1, 1, groups: groups).Backward(g);
            }, fwdFlop * (dx ? 3 : 2));
        };
    }

    /// <summary>The anchor max-pool: 2×2 stride 2 on N=64 C=32 28×28; fwdbwd computes dX.</summary>
    private static Func<Device, (Action, double)> MaxPool(CliArgs args, List<(string, object)> fields)
    {
        string pass = args.Choice("pass", "fwd", "fwd", "fwdbwd");
        fields.AddRange([("pass", pass), ("n", 64), ("c", 32), ("hw", 28)]);
        return device =>
        {
            var generator = new Generator(0);
            var x = Tensor.Normal([64, 32, 28, 28], 0, 1, generator, DType.Float32, device).RequireGrad(pass == "fwdbwd");
            var g = Tensor.Normal([64, 32, 14, 14], 0, 1, generator, DType.Float32, device);
            if (pass == "fwd")
                return (() =>
                {
                    using var noGrad = GradMode.Disable();
                    Ops.MaxPool2d(x, 2).Dispose();
                }, 0);
            return (() =>
            {
                ClearGrads(x);
                using var scope = new TensorScope();
                Ops.MaxPool2d(x, 2).Backward(g);
            }, 0);
        };
    }

    /// <summary>
    /// The anchor's nn.LSTM / nn.GRU case: sequence [T, N, input] through <c>--layers</c> stacked layers from a zero state;
    /// fwd runs without recording, fwdbwd backpropagates a fixed upstream gradient of the output into the weights (the input
    /// needs no gradient, as in the anchor).
    /// </summary>
    private static Func<Device, (Action, double)> Recurrent(string which, CliArgs args, List<(string, object)> fields)
    {
        int steps = args.Int("seq", 50, 1, 100_000), batch = args.Int("batch", 64, 1, 100_000);
        int input = args.Int("input", 128, 1, 100_000), hidden = args.Int("hidden", 256, 1, 100_000), layers = args.Int("layers", 1, 1, 64);
        string pass = args.Choice("pass", "fwd", "fwd", "fwdbwd");
        fields.AddRange([("pass", pass), ("seq", steps), ("batch", batch), ("input", input), ("hidden", hidden), ("layers", layers)]);
        int gates = which == "lstm" ? 4 : 3;
        // 2 flops per multiply-add of the GEMMs: forward X·W_ihᵀ and h·W_hhᵀ; backward dW_ih, dW_hh, dh and dX (not for layer 0).
        double perStep(int inSize) => 2.0 * batch * gates * hidden * (inSize + hidden);
        double fwdFlop = 0, bwdFlop = 0;
        for (int l = 0; l < layers; l++)
        {
            int inSize = l == 0 ? input : hidden;
            fwdFlop += steps * perStep(inSize);
            bwdFlop += steps * (2 * perStep(inSize) - (l == 0 ? 2.0 * batch * gates * hidden * inSize : 0));
        }
        return device =>
        {
            var generator = new Generator(0);
            RecurrentBase net = which == "lstm"
                ? new NativeNet.Nn.Lstm(input, hidden, layers, generator: generator)
                : new NativeNet.Nn.Gru(input, hidden, layers, generator: generator);
            net.To(device);
            var parameters = net.Parameters().ToArray();
            var x = Tensor.Normal([steps, batch, input], 0, 1, generator, DType.Float32, device);
            var g = Tensor.Normal([steps, batch, hidden], 0, 1, generator, DType.Float32, device);
            if (pass == "fwd")
                return (() =>
                {
                    using var noGrad = GradMode.Disable();
                    net.Forward(x).Dispose();
                }, fwdFlop);
            return (() =>
            {
                ClearGrads(parameters);
                using var scope = new TensorScope();
                net.Forward(x).Backward(g);
            }, fwdFlop + bwdFlop);
        };
    }

    /// <summary>One Adam training step (zero grads, forward, cross-entropy, backward, step) on fixed random inputs, as the anchor's train_step_case.</summary>
    private static Func<Device, (Action, double)> TrainStep(CliArgs args, List<(string, object)> fields)
    {
        string model = args.Choice("model", "cnn", "mlp", "cnn", "resnet");
        int batch = args.Int("batch", 128, 1, 100_000);
        fields.AddRange([("model", model), ("batch", batch)]);
        return device =>
        {
            var generator = new Generator(0);
            var net = ModelZoo.Build(model, generator);
            net.To(device);
            var optimizer = new NativeNet.Optim.Adam(net.NamedParameters(), 1e-3);
            int[] shape = model == "mlp" ? [batch, 784] : [batch, 1, 28, 28];
            var x = Tensor.Normal(shape, 0, 1, generator, DType.Float32, device);
            var labels = Enumerable.Range(0, batch).Select(_ => generator.NextInt(10)).ToArray();
            var y = Tensor.FromArray(labels);
            if (device.Kind != DeviceKind.Cpu) y = y.To(device);
            return (TrainingStep(net, optimizer, x, y), 0);
        };
    }

    /// <summary>
    /// One training step of <paramref name="net"/> on (x, y): zero the gradients, forward, cross-entropy, backward, optimiser
    /// step, each phase marked for <c>--profile</c>.
    /// </summary>
    private static Action TrainingStep(Module net, NativeNet.Optim.Optimizer optimizer, Tensor x, Tensor y)
    {
        string step = $"{optimizer.GetType().Name}.Step";
        return () =>
        {
            optimizer.ZeroGrad(setToNull: true);
            GateProfiler.Mark("ZeroGrad");
            using (var scope = new TensorScope())
            {
                Ops.SoftmaxCrossEntropy(net.Forward(x), y).Backward();
                GateProfiler.Mark("(end of backward)");
            }
            GateProfiler.Mark("TensorScope.Dispose");
            optimizer.Step();
            GateProfiler.Mark(step);
        };
    }

    /// <summary>
    /// <see cref="Ops.ScaledDotProductAttention"/> on q, k, v [B, H, T, D] (default B=8, H=4, T=128, D=32, causal); fwdbwd
    /// backpropagates a fixed upstream gradient into q, k and v. FLOPs are counted only without the causal mask (QKᵀ and PV).
    /// </summary>
    private static Func<Device, (Action, double)> Attention(CliArgs args, List<(string, object)> fields)
    {
        int batch = args.Int("batch", 8, 1, 100_000), heads = args.Int("heads", 4, 1, 10_000);
        int steps = args.Int("seq", 128, 1, 1_000_000), dim = args.Int("head-dim", 32, 1, 100_000);
        string pass = args.Choice("pass", "fwd", "fwd", "fwdbwd");
        bool causal = args.Choice("causal", "true", "true", "false") == "true";
        fields.AddRange([("pass", pass), ("batch", batch), ("heads", heads), ("seq", steps), ("head_dim", dim), ("causal", causal ? "yes" : "no")]);
        double fwdFlop = causal ? 0 : 4.0 * batch * heads * steps * steps * dim;
        return device =>
        {
            var generator = new Generator(0);
            bool grad = pass == "fwdbwd";
            var q = Tensor.Normal([batch, heads, steps, dim], 0, 1, generator, DType.Float32, device).RequireGrad(grad);
            var k = Tensor.Normal([batch, heads, steps, dim], 0, 1, generator, DType.Float32, device).RequireGrad(grad);
            var v = Tensor.Normal([batch, heads, steps, dim], 0, 1, generator, DType.Float32, device).RequireGrad(grad);
            var g = Tensor.Normal([batch, heads, steps, dim], 0, 1, generator, DType.Float32, device);
            if (!grad)
                return (() =>
                {
                    using var noGrad = GradMode.Disable();
                    Ops.ScaledDotProductAttention(q, k, v, causal: causal).Dispose();
                }, fwdFlop);
            return (() =>
            {
                ClearGrads(q, k, v);
                using var scope = new TensorScope();
                Ops.ScaledDotProductAttention(q, k, v, causal: causal).Backward(g);
            }, fwdFlop * 3.5);
        };
    }

    /// <summary>
    /// One chargpt training step (zero grads, forward, cross-entropy, backward, AdamW step) on fixed random characters:
    /// <see cref="CharTransformer.Gpt"/> with its defaults (4 blocks, 4 heads, width 128, context 128), vocabulary 76
    /// (the default text's), 32 streams; no gradient clipping, as in bench/scripts/torch_attention.py.
    /// </summary>
    private static Func<Device, (Action, double)> GptStep(CliArgs args, List<(string, object)> fields)
    {
        int batch = args.Int("batch", 32, 1, 100_000), context = args.Int("seq", 128, 2, 100_000);
        int width = args.Int("width", 128, 1, 100_000), layers = args.Int("layers", 4, 1, 1000), heads = args.Int("heads", 4, 1, 1000);
        int vocabulary = args.Int("vocab", 76, 2, 1_000_000);
        if (width % heads != 0) throw new UsageException($"bench gpt-step: --width {width} must be divisible by --heads {heads}");
        fields.AddRange([("batch", batch), ("seq", context), ("width", width), ("layers", layers), ("heads", heads), ("vocab", vocabulary)]);
        return device =>
        {
            var generator = new Generator(0);
            var net = CharTransformer.Gpt(vocabulary, context, width, heads, layers, generator);
            net.To(device);
            var optimizer = new NativeNet.Optim.AdamW(net.NamedParameters(), 1e-3, weightDecay: 0.01, decayWhere: NativeNet.Optim.Optimizer.WeightsOnly);
            var x = Tensor.FromArray(Enumerable.Range(0, context * batch).Select(_ => generator.NextInt(vocabulary)).ToArray(), context, batch);
            var y = Tensor.FromArray(Enumerable.Range(0, context * batch).Select(_ => generator.NextInt(vocabulary)).ToArray());
            if (device.Kind != DeviceKind.Cpu) (x, y) = (x.To(device), y.To(device));
            return (TrainingStep(net, optimizer, x, y), 0);
        };
    }

    private static void ClearGrads(params Tensor[] tensors)
    {
        foreach (var t in tensors)
        {
            t.Grad?.Dispose();
            t.Grad = null;
        }
    }
}
