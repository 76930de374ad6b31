using NativeNet.Backends;
using NativeNet.Backends.Simd;

namespace NativeNet.Cli;

/// <summary>Where a command writes: standard output and error, and whether a live progress bar may be drawn.</summary>
/// <param name="Out">Results (plain lines or JSON lines).</param>
/// <param name="Error">Error messages.</param>
/// <param name="Interactive">True when <see cref="Out"/> is the terminal (not redirected), so Spectre.Console may draw progress.</param>
public sealed record CliConsole(TextWriter Out, TextWriter Error, bool Interactive)
{
    /// <summary>The process's console.</summary>
    public static CliConsole System => new(Console.Out, Console.Error, !Console.IsOutputRedirected);
}

/// <summary>Dispatches <c>nativenet &lt;command&gt;</c> and turns failures into one-line errors with non-zero exit codes.</summary>
public static class CommandLine
{
    private const string Usage = """
        usage: nativenet <command> [options]
          info                       version, backends, SIMD width
          train [--model mlp|cnn|resnet|charlstm|transformer|chargpt|twolayer] [--epochs N] [--batch B]
                [--optimizer sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw] [--lr X] [--backend naive|simd|cuda]
                [--threads T] [--seed S] [--out DIR] [--json] [--limit N] [--data DIR]
                charlstm, transformer, chargpt: [--text PATH] [--seq-len L] [--hidden H] [--clip C] (transformer: width --embedding, context --seq-len)
                transformer, chargpt: [--layers N] [--heads H] [--dropout P]; chargpt (2 layers, 4 heads, width 64, context 64, batch 8, dropout 0.1, adamw lr 3e-3): [--warmup STEPS]
                [--dev-fraction F] [--eval-every N] [--early-stop P] [--checkpoint-every N] [--max-steps N] [--weight-decay W]
                [--time-budget SECONDS]  stop after the epoch whose training time crosses it (evaluation excluded; chargpt: cosine over it)
          train --resume DIR [--json]   continue a run from DIR/resume.safetensors, bit for bit
          tune [--model mlp|cnn|resnet] [--lr log:1e-4:1e-2] [--weight-decay log:1e-6:1e-3] [--batch choice:64,128,256]
               [--trials 16] [--budget-steps 2000] [--eta 2] [--rungs 4] [--dev-fraction 0.1] [--optimizer O]
               [--backend B] [--threads T] [--seed S] [--limit N] [--data DIR] [--out DIR] [--json]
          eval --checkpoint PATH [--backend naive|simd|cuda] [--threads T] [--data DIR] [--json]
               [--report [--worst N] [--report-out DIR]]   confusion matrix, per-class precision/recall, worst images
          export --checkpoint PATH --onnx OUT
          chart bench --data FILE --out PATH   the benchmark chart (PATH.png, PATH.svg) from make_results.py's bars
          bench gemm [--m M] [--n N] [--k K] [--op NN|NT|TN|TT]
          bench conv2d [--shape conv1|conv2|depthwise] [--pass fwd|fwdbwd] [--dx true|false] [--groups G]
          bench maxpool [--pass fwd|fwdbwd]
          bench train-step [--model mlp|cnn] [--batch B]
          bench lstm|gru [--seq 50] [--batch 64] [--input 128] [--hidden 256] [--layers L] [--pass fwd|fwdbwd]
          bench attention [--batch 8] [--heads 4] [--seq 128] [--head-dim 32] [--causal true|false] [--pass fwd|fwdbwd]
          bench gpt-step [--batch 32] [--seq 128] [--width 128] [--layers 4] [--heads 4] [--vocab 76]
                (every bench: [--backend naive|simd|cuda] [--threads T] [--repeats R] [--min-time S] [--json] [--profile N];
                 5 warm-up calls, then at least R calls and S seconds; prints the median;
                 --profile N: then N calls timed gate by gate, forward and backward)
        Errors print one line 'nativenet: ...' (set NATIVENET_DEBUG=1 for the stack trace).
        """;

    /// <summary>Runs the command line on the process console; returns the exit code.</summary>
    public static int Run(string[] args) => Run(args, CliConsole.System);

    /// <summary>Runs the command line writing to <paramref name="console"/>; returns the exit code (0 success, 2 usage error, 1 other failure).</summary>
    public static int Run(string[] args, CliConsole console)
    {
        if (args.Length == 0 || args[0] == "help" || args.Any(a => a is "-h" or "--help"))
        {
            (args.Length == 0 ? console.Error : console.Out).WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var defaultBackend = Backend.DefaultCpu;
        int simdThreads = SimdBackend.Threads;
        try
        {
            string command = args[0];
            var rest = args.Skip(1).ToList();
            if (command == "bench")
            {
                if (rest.Count == 0 || rest[0].StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException("bench needs a benchmark: gemm, conv2d, maxpool, train-step, lstm, gru, attention or gpt-step");
                string which = rest[0];
                return BenchCommand.Run(which, new CliArgs(rest.Skip(1)), console);
            }
            if (command == "chart")
            {
                if (rest.Count == 0 || rest[0].StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException("chart needs a chart: bench");
                return ChartCommand.Run(rest[0], new CliArgs(rest.Skip(1)), console);
            }
            var options = new CliArgs(rest);
            return command switch
            {
                "info" => InfoCommand.Run(options, console),
                "train" => options.Peek("model") == "twolayer" ? TrainTwoLayerCommand.Run(options, console) : TrainCommand.Run(options, console),
                "eval" => EvalCommand.Run(options, console),
                "tune" => TuneCommand.Run(options, console),
                "export" => ExportCommand.Run(options, console),
                _ => throw new UsageException($"unknown command '{command}'; try 'nativenet help'"),
            };
        }
        catch (UsageException e)
        {
            console.Error.WriteLine($"nativenet: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            console.Error.WriteLine($"nativenet: {OneLine(e)}");
            if (Environment.GetEnvironmentVariable("NATIVENET_DEBUG") is { Length: > 0 }) console.Error.WriteLine(e);
            return 1;
        }
        finally
        {
            Backend.DefaultCpu = defaultBackend;
            SimdBackend.Threads = simdThreads;
        }
    }

    /// <summary>The message of <paramref name="e"/> (and of its innermost cause when it adds something) on one line.</summary>
    private static string OneLine(Exception e)
    {
        var inner = e;
        while (inner is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException && inner.InnerException is not null) inner = inner.InnerException;
        string text = inner is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or NotSupportedException or NativeNet.IO.CheckpointFormatException or NativeNet.IO.CheckpointMismatchException
            ? inner.Message
            : $"{inner.GetType().Name}: {inner.Message}";
        return text.ReplaceLineEndings(" ");
    }
}
