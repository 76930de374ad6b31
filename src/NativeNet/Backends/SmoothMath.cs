namespace NativeNet.Backends;

/// <summary>
/// The smooth activations (GELU, SiLU, softplus) and their derivatives in double precision, as PyTorch 1.13 defines them.
/// .NET has no erf, so the normal CDF Φ comes from two expansions of erf that are accurate to a few ulp where they are
/// used: the all-positive series erf z = (2/√π)·e^(−z²)·Σ (2z²)ⁿ z/(2n+1)!! below |z| = 2.5 (no cancellation), and the
/// continued fraction erfc z = e^(−z²)/√π · 1/(z + ½/(z + 1/(z + (3/2)/(z + …)))) above, both with a fixed number of terms
/// so that the vector forms (<see cref="Simd.SimdActivations"/>) evaluate the same expressions lane by lane.
/// </summary>
public static class SmoothMath
{
    /// <summary>|z| below which erf uses the series, above which erfc uses the continued fraction.</summary>
    internal const double SeriesLimit = 2.5;
    /// <summary>Terms of either expansion: enough for 1e-16 relative on its side of <see cref="SeriesLimit"/>.</summary>
    internal const int Terms = 48;
    internal const double TwoOverSqrtPi = 1.1283791670955126;
    internal const double OneOverSqrtPi = 0.5641895835477563;
    internal const double OneOverSqrt2 = 0.7071067811865476;
    internal const double OneOverSqrt2Pi = 0.3989422804014327;
    /// <summary>√(2/π), the scale inside the tanh approximation of GELU.</summary>
    internal const double SqrtTwoOverPi = 0.7978845608028654;
    /// <summary>The cubic coefficient of the tanh approximation of GELU.</summary>
    internal const double GeluKappa = 0.044715;

    /// <summary>1/(2k+1) for k = 0..Terms, the series' coefficients.</summary>
    internal static readonly double[] SeriesCoefficients = Enumerable.Range(0, Terms + 1).Select(k => 1.0 / (2 * k + 1)).ToArray();

    /// <summary>Φ(x) = ½·erfc(−x/√2), the standard normal CDF.</summary>
    public static double NormalCdf(double x)
    {
        double z = Math.Abs(x) * OneOverSqrt2;
        double e = Math.Exp(-z * z);
        double tail; // ½·erfc(|z|) = Φ(−|x|)
        if (z < SeriesLimit)
        {
            double z2 = 2 * z * z, s = 1;
            for (int k = Terms; k >= 1; k--) s = 1 + z2 * SeriesCoefficients[k] * s;
            tail = 0.5 - 0.5 * (TwoOverSqrtPi * e * z * s);
        }
        else
        {
            double t = z;
            for (int k = Terms; k >= 1; k--) t = z + 0.5 * k / t;
            tail = 0.5 * OneOverSqrtPi * e / t;
        }
        if (double.IsNaN(x)) return x;
        return x < 0 ? tail : 1 - tail;
    }

    /// <summary>Exact GELU: x·Φ(x).</summary>
    public static double Gelu(double x) => x * NormalCdf(x);

    /// <summary>dy · (Φ(x) + x·φ(x)), the derivative of exact GELU.</summary>
    public static double GeluGrad(double dy, double x) => dy * (NormalCdf(x) + x * OneOverSqrt2Pi * Math.Exp(-0.5 * x * x));

    /// <summary>GELU's tanh approximation: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(SqrtTwoOverPi * (x + GeluKappa * x * x * x)));

    /// <summary>The derivative of <see cref="GeluTanh"/>, written as PyTorch's gelu_backward (approximate = 'tanh').</summary>
    public static double GeluTanhGrad(double dy, double x)
    {
        double t = Math.Tanh(SqrtTwoOverPi * (x + GeluKappa * x * x * x));
        double left = 0.5 * x, right = 1 + t;
        double rightDerivative = left * (1 - t * t) * SqrtTwoOverPi * (1 + 3 * GeluKappa * x * x);
        return dy * (0.5 * right + rightDerivative);
    }

    /// <summary>SiLU (swish): x·σ(x).</summary>
    public static double Silu(double x) => x * Scalar.Sigmoid(x);

    /// <summary>dy · σ(x)·(1 + x·(1 − σ(x))).</summary>
    public static double SiluGrad(double dy, double x)
    {
        double s = Scalar.Sigmoid(x);
        return dy * s * (1 + x * (1 - s));
    }

    /// <summary>
    /// Softplus as PyTorch: x where β·x &gt; threshold, else log(1 + e^(β·x))/β, evaluated as
    /// (max(βx, 0) + log1p(e^(−|βx|)))/β so that neither large nor very negative βx loses precision.
    /// </summary>
    public static double Softplus(double x, double beta, double threshold)
    {
        double bx = x * beta;
        if (bx > threshold) return x;
        return (Math.Max(bx, 0) + Log1p(Math.Exp(-Math.Abs(bx)))) / beta;
    }

    /// <summary>log(1 + u) accurate for small u (Goldberg's correction: u·log(w)/(w − 1) with w = 1 + u rounded).</summary>
    internal static double Log1p(double u)
    {
        double w = 1 + u;
        return w == 1 ? u : Math.Log(w) * u / (w - 1);
    }
}
