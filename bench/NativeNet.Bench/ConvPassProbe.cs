using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeNet.Backends;
using NativeNet.Backends.Simd;

namespace NativeNet.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench/NativeNet.Bench -- conv-passes conv1|conv2|depthwise THREADS [REPS]</c>: the three
/// convolution passes called on the Simd backend directly (no autodiff, no allocation), timed by the wall clock and by the
/// calling thread's CPU time. On a loaded machine the thread CPU time of a one-thread run is the figure that shows what a
/// change does to the work itself, as it leaves out the time spent waiting for a core.
/// </summary>
internal static unsafe partial class ConvPassProbe
{
    /// <summary>Runs the probe; returns the exit code.</summary>
    public static int Run(string shape, int threads, int reps)
    {
        SimdBackend.Threads = threads;
        var g = shape switch
        {
            "conv1" => new Conv2dGeometry(64, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1),
            "conv2" => new Conv2dGeometry(64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1),
            "depthwise" => new Conv2dGeometry(32, 64, 28, 28, 64, 3, 3, 1, 1, 1, 1, 1, 1, 64),
            _ => throw new ArgumentException($"conv-passes: shape must be conv1, conv2 or depthwise, got '{shape}'"),
        };
        var gen = new Generator(0);
        var x = Tensor.Normal([g.N, g.C, g.H, g.W], 0, 1, gen);
        var w = Tensor.Normal([g.K, g.GroupChannels, g.R, g.S], 0, 0.1, gen);
        var b = Tensor.Normal([g.K], 0, 0.1, gen);
        var dy = Tensor.Normal([g.N, g.K, g.OH, g.OW], 0, 1, gen);
        var y = Tensor.Zeros([g.N, g.K, g.OH, g.OW]);
        var dx = Tensor.Zeros([g.N, g.C, g.H, g.W]);
        var dw = Tensor.Zeros([g.K, g.GroupChannels, g.R, g.S]);
        var db = Tensor.Zeros([g.K]);
        var be = SimdBackend.Instance;
        Console.WriteLine($"conv-passes {shape} {g} threads {threads}, {reps} calls; load {File.ReadAllText("/proc/loadavg").Trim()}");
        Time("forward (with bias)", reps, () => be.Conv2dForward(x, w, b, y, g));
        Time("backward data", reps, () => be.Conv2dBackwardData(dy, w, dx, g));
        Time("backward filter + bias", reps, () => be.Conv2dBackwardFilter(x, dy, dw, db, g));
        return 0;
    }

    private static void Time(string pass, int reps, Action f)
    {
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        while (Stopwatch.GetTimestamp() < until) f();
        var wall = new double[reps];
        var cpu = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            double c0 = ThreadCpuMs();
            long s = Stopwatch.GetTimestamp();
            f();
            wall[r] = (Stopwatch.GetTimestamp() - s) * 1e3 / Stopwatch.Frequency;
            cpu[r] = ThreadCpuMs() - c0;
        }
        Array.Sort(wall);
        Array.Sort(cpu);
        Console.WriteLine($"{pass,-24} wall best {wall[0]:F3} median {wall[reps / 2]:F3} ms | calling thread's CPU best {cpu[0]:F3} median {cpu[reps / 2]:F3} ms");
    }

    private const int ClockThreadCpuTime = 3;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, long* timespec);

    private static double ThreadCpuMs()
    {
        long* t = stackalloc long[2];
        if (ClockGetTime(ClockThreadCpuTime, t) != 0) throw new InvalidOperationException("conv-passes: clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return t[0] * 1e3 + t[1] / 1e6;
    }
}
