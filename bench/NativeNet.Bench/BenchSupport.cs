using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;
using NativeNet.Backends;
using NativeNet.Backends.Cuda;
using NativeNet.Backends.Naive;
using NativeNet.Backends.Simd;

namespace NativeNet.Bench;

/// <summary>Which backends can run here, and switching the process to one of them.</summary>
public static class BenchBackends
{
    private static bool s_cudaReasonPrinted;

    /// <summary>Thread counts benchmarked for the Simd backend (this box has 2 cores).</summary>
    public static IEnumerable<int> ThreadCounts => [1, 2];

    /// <summary>
    /// "naive", "simd", and "cuda" only where CUDA works; when it does not, prints once why it is skipped
    /// (BenchmarkDotNet evaluates this in the host process, so the line lands in its log).
    /// </summary>
    public static IEnumerable<string> Available()
    {
        yield return "naive";
        yield return "simd";
        if (CudaRuntime.IsAvailable)
        {
            yield return "cuda";
        }
        else if (!s_cudaReasonPrinted)
        {
            s_cudaReasonPrinted = true;
            Console.WriteLine($"// cuda backend skipped: {CudaRuntime.UnavailableReason}");
        }
    }

    /// <summary>
    /// Makes <paramref name="backend"/> compute this process's tensors with <paramref name="threads"/> Simd threads
    /// and returns the device inputs must live on. The default CPU backend is process-wide (not the thread-local
    /// <see cref="Backend.Use"/>) because BenchmarkDotNet may set up and measure on different threads.
    /// </summary>
    public static Device Activate(string backend, int threads)
    {
        SimdBackend.Threads = threads;
        switch (backend)
        {
            case "naive":
                Backend.DefaultCpu = NaiveBackend.Instance;
                return Device.Cpu;
            case "simd":
                Backend.DefaultCpu = SimdBackend.Instance;
                return Device.Cpu;
            case "cuda":
                CudaRuntime.EnsureAvailable();
                Backend.DefaultCpu = SimdBackend.Instance;
                return Device.Cuda(0);
            default:
                throw new ArgumentException($"unknown backend '{backend}': expected naive, simd or cuda");
        }
    }

    /// <summary>Waits for queued device work so a timed call includes it (no-op on the CPU).</summary>
    public static void Sync(Device device)
    {
        if (device.Kind == DeviceKind.Cuda) ((CudaBackend)Backend.For(device)).Synchronize();
    }

    /// <summary>
    /// Which (backend, threads, size) combinations run: the thread count only varies for simd, and the naive
    /// backend only runs GEMMs whose dimensions are all at most 512 (bigger ones take minutes).
    /// </summary>
    public static bool Runs(string backend, int threads, string? gemmShape)
    {
        if (backend != "simd" && threads != 1) return false;
        if (backend == "naive" && gemmShape is not null) return GemmShape.Parse(gemmShape).MaxDim <= 512;
        return true;
    }

    internal static bool Keep(BenchmarkCase c)
    {
        string backend = (string)c.Parameters["Backend"];
        int threads = c.Parameters.Items.Any(p => p.Name == "Threads") ? (int)c.Parameters["Threads"] : 1;
        string? shape = c.Descriptor.Type == typeof(GemmBenchmarks) ? (string)c.Parameters["Shape"] : null;
        return Runs(backend, threads, shape);
    }
}

/// <summary>"MxNxK OP" (OP two letters, N or T per operand), e.g. "128x512x784 NT".</summary>
public readonly record struct GemmShape(int M, int N, int K, bool TransA, bool TransB)
{
    /// <summary>The largest of M, N, K.</summary>
    public int MaxDim => Math.Max(M, Math.Max(N, K));

    /// <summary>Floating-point operations of one product.</summary>
    public double Flop => 2.0 * M * N * K;

    /// <summary>Parses "MxNxK OP".</summary>
    public static GemmShape Parse(string text)
    {
        string[] parts = text.Split(' ');
        int[] d = Array.ConvertAll(parts[0].Split('x'), int.Parse);
        if (d.Length != 3 || parts.Length != 2 || parts[1].Length != 2)
            throw new FormatException($"GEMM shape '{text}': expected 'MxNxK OP', e.g. '128x512x784 NT'");
        return new GemmShape(d[0], d[1], d[2], parts[1][0] == 'T', parts[1][1] == 'T');
    }
}

/// <summary>
/// The suite's configuration: a job sized for a shared 2-core box (3 warm-ups, 10 measured iterations of about
/// 200 ms), the (backend, threads, size) filter, memory diagnoser, and GitHub markdown + CSV exporters.
/// A <c>--job</c> on the command line replaces the job (e.g. <c>--job dry</c> for a smoke test).
/// </summary>
public static class BenchConfig
{
    /// <summary>Builds the config; <paramref name="withJob"/> is false when the command line names a job.</summary>
    public static IConfig Create(bool withJob)
    {
        var config = ManualConfig.CreateEmpty()
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default)
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .AddFilter(new SimpleFilter(BenchBackends.Keep));
        if (withJob)
        {
            config.AddJob(Job.Default
                .WithWarmupCount(3)
                .WithIterationCount(10)
                .WithIterationTime(TimeInterval.FromMilliseconds(200))
                .WithId("suite"));
        }
        return config;
    }
}
