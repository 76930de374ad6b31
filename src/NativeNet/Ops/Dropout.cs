using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// Inverted dropout: in training each element is kept with probability 1 − p and scaled by 1/(1 − p), so the expected
    /// value is unchanged; in evaluation (or with p = 0) the input passes through unchanged (a new view).
    /// The mask is drawn on the host from <paramref name="generator"/> (default <see cref="Generator.Default"/>) and
    /// moved to x's device, so the same seed gives the same mask on every backend.
    /// </summary>
    public static Tensor Dropout(Tensor x, double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must be in [0, 1], got {p}");
        if (!training || p == 0) return Apply(new IdentityGate(), () => Raw.Detach(x), x);
        var gate = new DropoutGate(p, generator ?? Generator.Default);
        return Apply(gate, () => gate.Forward(x), x);
    }
}

/// <summary>Gate of inverted dropout: y = x·mask with mask ∈ {0, 1/(1 − p)}; dx = dy·mask.</summary>
public sealed class DropoutGate(double p, Generator generator) : Gate
{
    private Tensor? _mask;

    /// <inheritdoc/>
    public override string Name => "Dropout";

    /// <summary>The mask of the last forward (0 or 1/(1 − p) per element); null before, disposed once the gate's cache is released.</summary>
    public Tensor? Mask => _mask;

    /// <summary>Draws a mask (rand &lt; keep) and applies it.</summary>
    public Tensor Forward(Tensor x)
    {
        Raw.CheckFloat(Name, x);
        double keep = 1 - p, scale = keep > 0 ? 1 / keep : 0;
        var values = new double[x.Numel];
        for (int i = 0; i < values.Length; i++) values[i] = generator.NextDouble() < keep ? scale : 0;
        using var host = Tensor.FromHost(values, x.ShapeArray);
        using var typed = Raw.CastTo(host, x.DType);
        using var mask = typed.To(x.Device);
        _mask = Save(mask);
        return Raw.Mul(x, mask);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dy) => [Raw.Mul(dy, _mask!)];
}
