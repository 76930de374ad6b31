namespace NativeNet.Nn;

/// <summary>The nonlinearity an initialisation is tuned for (PyTorch's <c>calculate_gain</c> names).</summary>
public enum Nonlinearity
{
    /// <summary>Identity; gain 1.</summary>
    Linear,
    /// <summary>Convolution without activation; gain 1.</summary>
    Conv,
    /// <summary>Logistic sigmoid; gain 1.</summary>
    Sigmoid,
    /// <summary>tanh; gain 5/3.</summary>
    Tanh,
    /// <summary>ReLU; gain √2.</summary>
    Relu,
    /// <summary>Leaky ReLU with negative slope a (default 0.01); gain √(2/(1 + a²)).</summary>
    LeakyRelu,
    /// <summary>SELU; gain 3/4.</summary>
    Selu,
}

/// <summary>Which fan Kaiming initialisation preserves the variance of.</summary>
public enum FanMode
{
    /// <summary>Inputs per output unit: preserves the forward pass's variance.</summary>
    FanIn,
    /// <summary>Outputs per input unit: preserves the backward pass's variance.</summary>
    FanOut,
}

/// <summary>
/// Weight initialisers, as PyTorch's <c>torch.nn.init</c>: each overwrites the tensor in place (on any device) with
/// values drawn on the host from a <see cref="Generator"/> (<see cref="Generator.Default"/> when none is given) and returns it.
/// Fans follow PyTorch: a Linear weight [out, in] has fan_in = in, fan_out = out; a Conv weight [K, C, R, S] has
/// fan_in = C·R·S, fan_out = K·R·S.
/// </summary>
public static class Init
{
    /// <summary>The recommended gain for <paramref name="nonlinearity"/> (<paramref name="negativeSlope"/> is leaky ReLU's slope, default 0.01).</summary>
    public static double CalculateGain(Nonlinearity nonlinearity, double? negativeSlope = null) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Conv or Nonlinearity.Sigmoid => 1.0,
        Nonlinearity.Tanh => 5.0 / 3.0,
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + Math.Pow(negativeSlope ?? 0.01, 2))),
        Nonlinearity.Selu => 3.0 / 4.0,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "Init.CalculateGain: unknown nonlinearity"),
    };

    /// <summary>(fan_in, fan_out) of a weight of rank 2 or more: [out, in, *receptive field].</summary>
    public static (int FanIn, int FanOut) CalculateFans(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"Init: fan in and fan out cannot be computed for a tensor of shape {ShapeUtil.Format(shape)} (rank below 2)");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>Fills with zeros (does not break symmetry: for biases, or to show why weights need randomness).</summary>
    public static Tensor Zeros(Tensor t) => Constant(t, 0);

    /// <summary>Fills with <paramref name="value"/>.</summary>
    public static Tensor Constant(Tensor t, double value)
    {
        CheckFloat("Constant", t);
        t.Backend.Fill(t, value);
        return t;
    }

    /// <summary>Uniform samples in [low, high).</summary>
    public static Tensor Uniform(Tensor t, double low, double high, Generator? generator = null)
    {
        if (!(low <= high)) throw new ArgumentException($"Init.Uniform: low {low} is above high {high}");
        var g = generator ?? Generator.Default;
        return FillFrom("Uniform", t, () => low + (high - low) * g.NextDouble());
    }

    /// <summary>Normal samples with mean <paramref name="mean"/> and standard deviation <paramref name="std"/>.</summary>
    public static Tensor Normal(Tensor t, double mean = 0, double std = 1, Generator? generator = null)
    {
        if (!(std >= 0)) throw new ArgumentException($"Init.Normal: standard deviation must be non-negative, got {std}");
        var g = generator ?? Generator.Default;
        return FillFrom("Normal", t, () => mean + std * g.NextNormal());
    }

    /// <summary>The courses' small random initialisation, <paramref name="scale"/>·randn (0.01 by default).</summary>
    public static Tensor SmallNormal(Tensor t, Generator? generator = null, double scale = 0.01) => Normal(t, 0, scale, generator);

    /// <summary>Glorot/Xavier uniform: U(±gain·√(6/(fan_in + fan_out))).</summary>
    public static Tensor XavierUniform(Tensor t, Generator? generator = null, double gain = 1.0)
    {
        var (fanIn, fanOut) = CalculateFans(t.Shape);
        double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(t, -bound, bound, generator);
    }

    /// <summary>Glorot/Xavier normal: N(0, gain²·2/(fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor t, Generator? generator = null, double gain = 1.0)
    {
        var (fanIn, fanOut) = CalculateFans(t.Shape);
        return Normal(t, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }

    /// <summary>
    /// He/Kaiming uniform: U(±gain·√(3/fan)) with gain from <paramref name="nonlinearity"/> and <paramref name="a"/>
    /// (leaky ReLU's negative slope). PyTorch's Linear and Conv default is a = √5 with leaky ReLU, giving U(±1/√fan_in).
    /// </summary>
    public static Tensor KaimingUniform(Tensor t, Generator? generator = null, double a = 0, FanMode mode = FanMode.FanIn,
        Nonlinearity nonlinearity = Nonlinearity.LeakyRelu)
    {
        double bound = KaimingStd(t, a, mode, nonlinearity) * Math.Sqrt(3.0);
        return Uniform(t, -bound, bound, generator);
    }

    /// <summary>He/Kaiming normal: N(0, gain²/fan), e.g. randn·√(2/fan_in) for ReLU networks.</summary>
    public static Tensor KaimingNormal(Tensor t, Generator? generator = null, double a = 0, FanMode mode = FanMode.FanIn,
        Nonlinearity nonlinearity = Nonlinearity.LeakyRelu) =>
        Normal(t, 0, KaimingStd(t, a, mode, nonlinearity), generator);

    private static double KaimingStd(Tensor t, double a, FanMode mode, Nonlinearity nonlinearity)
    {
        var (fanIn, fanOut) = CalculateFans(t.Shape);
        int fan = mode == FanMode.FanIn ? fanIn : fanOut;
        if (fan == 0) throw new ArgumentException($"Init.Kaiming: {t.Describe()} has a zero fan");
        return CalculateGain(nonlinearity, a) / Math.Sqrt(fan);
    }

    private static Tensor FillFrom(string op, Tensor t, Func<double> sample)
    {
        CheckFloat(op, t);
        var values = new double[t.Numel];
        for (int i = 0; i < values.Length; i++) values[i] = sample();
        using var host = Tensor.FromHost(values, t.ShapeArray);
        using var typed = Raw.CastTo(host, t.DType);
        using var placed = typed.To(t.Device);
        t.Backend.Copy(placed, t);
        return t;
    }

    private static void CheckFloat(string op, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        t.ThrowIfDisposed();
        if (!t.DType.IsFloat()) throw new DTypeMismatchException($"Init.{op}: expected a floating-point tensor, got {t.Describe()}");
    }
}
