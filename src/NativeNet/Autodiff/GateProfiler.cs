using System.Diagnostics;

namespace NativeNet.Autodiff;

/// <summary>Whether a <see cref="GateProfiler"/> entry is a forward, a backward or a named section of the caller's.</summary>
public enum ProfilePhase
{
    /// <summary>A gate's forward (from the previous event to the gate's recording).</summary>
    Forward,

    /// <summary>A gate's backward, with the accumulation of its gradients.</summary>
    Backward,

    /// <summary>A section named by <see cref="GateProfiler.Mark"/> (an optimizer step, a scope's disposal, ...).</summary>
    Section,
}

/// <summary>One row of a <see cref="GateProfiler"/> report: total time and calls of one gate (by name and output shape) in one phase.</summary>
/// <param name="Name">Gate name and output shape, e.g. "Linear [4096, 384]", or the section's name.</param>
/// <param name="Phase">Forward, backward or section.</param>
/// <param name="Calls">How many times it ran.</param>
/// <param name="Milliseconds">Total wall time.</param>
public readonly record struct GateTiming(string Name, ProfilePhase Phase, int Calls, double Milliseconds);

/// <summary>
/// Opt-in per-gate wall-clock profile on the calling thread: between <see cref="Start"/> and <see cref="Stop"/> every
/// event (a gate recorded by an op, a gate's backward on the <see cref="Tape"/>, a <see cref="Mark"/>) is charged the time
/// since the previous event, so the rows add up to the wall time and work outside gates (views, a module's own code) is
/// charged to the next gate. When off, the tape pays one static bool test per op.
/// </summary>
public static class GateProfiler
{
    private static readonly Dictionary<(string, ProfilePhase), (int Calls, long Ticks)> Totals = [];
    private static long _last;

    /// <summary>Whether a profile is being taken.</summary>
    public static bool IsEnabled { get; private set; }

    /// <summary>Clears the totals and starts charging events.</summary>
    public static void Start()
    {
        Totals.Clear();
        IsEnabled = true;
        _last = Stopwatch.GetTimestamp();
    }

    /// <summary>Charges the time since the previous event to the section <paramref name="name"/> (no effect when off).</summary>
    public static void Mark(string name)
    {
        if (IsEnabled) Charge(name, ProfilePhase.Section);
    }

    /// <summary>Stops profiling and returns the rows, largest total first.</summary>
    public static IReadOnlyList<GateTiming> Stop()
    {
        IsEnabled = false;
        double msPerTick = 1000.0 / Stopwatch.Frequency;
        return Totals.Select(kv => new GateTiming(kv.Key.Item1, kv.Key.Item2, kv.Value.Calls, kv.Value.Ticks * msPerTick))
            .OrderByDescending(r => r.Milliseconds).ToList();
    }

    internal static void Gate(IGate gate, Tensor output, ProfilePhase phase) =>
        Charge($"{gate.Name} {ShapeUtil.Format(output.Shape)}", phase);

    private static void Charge(string name, ProfilePhase phase)
    {
        long now = Stopwatch.GetTimestamp();
        var key = (name, phase);
        var (calls, ticks) = Totals.GetValueOrDefault(key);
        Totals[key] = (calls + 1, ticks + now - _last);
        _last = Stopwatch.GetTimestamp();
    }
}
