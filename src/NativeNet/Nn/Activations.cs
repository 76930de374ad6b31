namespace NativeNet.Nn;

/// <summary>max(0, x).</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Relu(input);
}

/// <summary>x if x &gt; 0 else slope·x.</summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module
{
    /// <summary>Slope for negative inputs.</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.LeakyRelu(input, NegativeSlope);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"negative_slope={PyFloat(NegativeSlope)}";
}

/// <summary>x if x &gt; 0 else alpha·(eˣ − 1).</summary>
public sealed class ELU(double alpha = 1.0) : Module
{
    /// <summary>Saturation value for negative inputs (−alpha).</summary>
    public double Alpha { get; } = alpha;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Elu(input, Alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"alpha={PyFloat(Alpha)}";
}

/// <summary>GELU, exact (<c>approximate</c> "none") or with the tanh approximation ("tanh"), as PyTorch's <c>nn.GELU</c>.</summary>
public sealed class GELU : Module
{
    /// <summary>Creates the layer; <paramref name="approximate"/> is "none" or "tanh".</summary>
    public GELU(string approximate = "none")
    {
        if (approximate is not ("none" or "tanh")) throw new ArgumentException($"GELU: approximate must be \"none\" or \"tanh\", got \"{approximate}\"");
        Approximate = approximate;
    }

    /// <summary>"none" for x·Φ(x), "tanh" for the tanh approximation.</summary>
    public string Approximate { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Gelu(input, Approximate);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"approximate='{Approximate}'";
}

/// <summary>SiLU (swish) x·σ(x).</summary>
public sealed class SiLU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Silu(input);
}

/// <summary>Softplus log(1 + e^(βx))/β, linear above the threshold, as PyTorch's <c>nn.Softplus</c>.</summary>
public sealed class Softplus(double beta = 1, double threshold = 20) : Module
{
    /// <summary>β.</summary>
    public double Beta { get; } = beta;

    /// <summary>βx above which the layer is the identity.</summary>
    public double Threshold { get; } = threshold;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Softplus(input, Beta, Threshold);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"beta={PyFloat(Beta)}, threshold={PyFloat(Threshold)}";
}

/// <summary>Logistic sigmoid 1/(1 + e⁻ˣ).</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Sigmoid(input);
}

/// <summary>tanh x.</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Tanh(input);
}

/// <summary>
/// Parametric ReLU: x if x &gt; 0 else a·x with a learned slope "weight", one shared (<c>numParameters</c> = 1) or one per
/// channel (axis 1), initialised to <c>init</c> (0.25) as PyTorch.
/// </summary>
public sealed class PReLU : Module
{
    /// <summary>Creates the layer.</summary>
    public PReLU(int numParameters = 1, double init = 0.25, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numParameters, 1);
        RegisterParameter("weight", Tensor.Full([numParameters], init, dtype));
    }

    /// <summary>Slopes [numParameters].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.PRelu(input, Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_parameters={Weight.Numel}";
}
