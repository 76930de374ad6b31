using NativeNet.Autodiff;
using NativeNet.Backends;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// LayerNorm, GroupNorm, GELU, SiLU and Softplus on every backend: gradient checks in Float64 (the tape's gradient on the
/// backend's device against centred differences of the same device's forward, threshold 1e-7), special values, and the errors.
/// </summary>
public class NormActivationBackendTests(string backendName) : BackendTest(backendName)
{
    private const double Threshold = 1e-7;

    private Tensor Host(int seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new Generator(seed), DType.Float64);

    /// <summary>
    /// Worst relative error over the inputs between the gradient of Σ f(x)·dOut taken on the device and the centred differences
    /// of f on the device, each perturbed host input copied there per evaluation.
    /// </summary>
    private void GradCheckOnDevice(string name, Func<Tensor[], Tensor> f, params Tensor[] hostInputs)
    {
        double worst = WorstGradError(name, f, hostInputs);
        TestContext.Out.WriteLine($"GRADCHECK {name} on {BackendName}: worst {worst:E2}");
        Assert.That(worst, Is.LessThan(Threshold), name);
    }

    private double WorstGradError(string name, Func<Tensor[], Tensor> f, Tensor[] hostInputs)
    {
        using var scope = new TensorScope();
        var device = hostInputs.Select(t => t.To(Dev).RequireGrad()).ToArray();
        var y = f(device);
        var dOut = Tensor.Normal(y.ShapeArray, 0, 1, new Generator(11), DType.Float64);
        y.Backward(dOut.To(Dev));
        double worst = 0;
        for (int i = 0; i < hostInputs.Length; i++)
        {
            var numeric = GradCheck.NumericalGradient(() => f(hostInputs.Select(t => t.To(Dev)).ToArray()), hostInputs[i], dOut);
            Assert.That(device[i].Grad, Is.Not.Null, $"{name}: input {i} got no gradient");
            worst = Math.Max(worst, GradCheck.RelativeError(device[i].Grad!.To(Device.Cpu), numeric));
        }
        return worst;
    }

    /// <summary>
    /// An elementwise op checked one point at a time: contracting a whole tensor would bury the tiny derivatives of the tails
    /// (GELU′(−6) ≈ −4e-8) under the rounding of the sum. The grid −6 … 6 crosses both sides of erf's expansions
    /// (|x|/√2 = 2.5 at |x| ≈ 3.54) and stays 0.03 or more from the zeros of GELU′ (−0.752) and SiLU′ (−1.278).
    /// </summary>
    private void PointwiseGradCheck(string name, Func<Tensor, Tensor> f, double from = -6)
    {
        double worst = 0;
        for (int k = 0; k <= 32; k++)
        {
            double at = -6 + 0.37 * k + 0.011;
            if (at < from) continue;
            worst = Math.Max(worst, WorstGradError($"{name} at {at}", t => f(t[0]), [Tensor.FromArray(new[] { at }, 1)]));
        }
        TestContext.Out.WriteLine($"GRADCHECK {name} pointwise on {BackendName}: worst {worst:E2}");
        Assert.That(worst, Is.LessThan(Threshold), name);
    }

    [Test]
    public void ActivationGradients()
    {
        PointwiseGradCheck("Gelu", t => Ops.Gelu(t));
        // The tanh form (PyTorch's formula) computes 1 + tanh(u), which cancels for very negative x: at x = −5.25 its value
        // carries 1e-8 relative error, enough to spoil centred differences, so it is checked from −4.6 up.
        PointwiseGradCheck("Gelu(tanh)", t => Ops.Gelu(t, "tanh"), from: -4.6);
        PointwiseGradCheck("Silu", Ops.Silu);
        PointwiseGradCheck("Softplus", t => Ops.Softplus(t));
        PointwiseGradCheck("Softplus(beta 2, threshold 3)", t => Ops.Softplus(t, 2, 3));
        PointwiseGradCheck("Softplus(beta 0.5, threshold 1)", t => Ops.Softplus(t, 0.5, 1));
        // And whole tensors of moderate values through the same kernels.
        var x = Host(1, 4, 9);
        GradCheckOnDevice("Gelu [4, 9]", t => Ops.Gelu(t[0]), x);
        GradCheckOnDevice("Silu [4, 9]", t => Ops.Silu(t[0]), x);
        GradCheckOnDevice("Softplus [4, 9]", t => Ops.Softplus(t[0]), x);
    }

    [Test]
    public void LayerNormGradients()
    {
        var w = Ops.AddScalar(Host(3, 5), 1);
        var b = Host(4, 5);
        GradCheckOnDevice("LayerNorm([5])", t => Ops.LayerNorm(t[0], [5], t[1], t[2]), Host(2, 3, 4, 5), w, b);
        GradCheckOnDevice("LayerNorm([5], no affine)", t => Ops.LayerNorm(t[0], [5]), Host(5, 6, 5));
        GradCheckOnDevice("LayerNorm([5], weight only)", t => Ops.LayerNorm(t[0], [5], t[1]), Host(6, 2, 5), w);
        GradCheckOnDevice("LayerNorm([5], bias only)", t => Ops.LayerNorm(t[0], [5], null, t[1]), Host(7, 2, 5), b);
        GradCheckOnDevice("LayerNorm([3, 4])", t => Ops.LayerNorm(t[0], [3, 4], t[1], t[2], eps: 1e-3), Host(8, 2, 3, 4), Host(9, 3, 4), Host(10, 3, 4));
        // A transposed (strided) input goes through a contiguous copy.
        GradCheckOnDevice("LayerNorm(transposed input)", t => Ops.LayerNorm(Ops.Transpose(t[0], 0, 1), [5], t[1], t[2]), Host(12, 5, 3), w, b);
    }

    [Test]
    public void GroupNormGradients()
    {
        var w = Ops.AddScalar(Host(21, 6), 1);
        var b = Host(22, 6);
        GradCheckOnDevice("GroupNorm(3 groups of 2, [N,C,H,W])", t => Ops.GroupNorm(t[0], 3, t[1], t[2]), Host(20, 2, 6, 2, 3), w, b);
        GradCheckOnDevice("GroupNorm(1 group)", t => Ops.GroupNorm(t[0], 1, t[1], t[2]), Host(23, 2, 6, 3), w, b);
        GradCheckOnDevice("GroupNorm(6 groups, [N,C])", t => Ops.GroupNorm(t[0], 6, t[1], t[2], eps: 1e-2), Host(24, 3, 6), w, b);
        GradCheckOnDevice("GroupNorm(no affine)", t => Ops.GroupNorm(t[0], 2), Host(25, 2, 6, 4));
    }

    [Test]
    public void LayerNormNormalisesEachRow([Values(DType.Float32, DType.Float64)] DType dtype)
    {
        // Rows far from mean 0 and variance 1: each output row has mean 0 and biased variance 1 − eps/(var + eps).
        using var scope = new TensorScope();
        var x = Tensor.Normal([7, 33], 100, 5, new Generator(30), dtype, Dev);
        var y = Ops.LayerNorm(x, [33]).To(Device.Cpu);
        var values = y.ToArray<double>();
        for (int r = 0; r < 7; r++)
        {
            var row = values.Skip(r * 33).Take(33).ToArray();
            double mean = row.Average(), variance = row.Select(v => (v - mean) * (v - mean)).Average();
            Assert.That(mean, Is.EqualTo(0).Within(dtype == DType.Float32 ? 1e-5 : 1e-12), $"row {r} mean");
            Assert.That(variance, Is.EqualTo(1).Within(dtype == DType.Float32 ? 1e-4 : 1e-6), $"row {r} variance");
        }
    }

    [Test]
    public void ActivationsOfSpecialValues()
    {
        using var scope = new TensorScope();
        var x = F64([double.PositiveInfinity, double.NegativeInfinity, double.NaN, 0, -40, 40, 1e-300], 7);
        Approx.AreClose([double.PositiveInfinity, double.NaN, double.NaN, 0, 0, 40, 5e-301], Ops.Gelu(x), 1e-300, 1e-12);
        Approx.AreClose([double.PositiveInfinity, double.NaN, double.NaN, 0, -40 / (1 + Math.Exp(40)), 40, 5e-301], Ops.Silu(x), 1e-300, 1e-12);
        // Softplus is linear above the threshold and e^(βx)/β far below it; log(2)/β at 0.
        Approx.AreClose([double.PositiveInfinity, 0, double.NaN, Math.Log(2), Math.Exp(-40), 40, Math.Log(2)], Ops.Softplus(x), 1e-300, 1e-12);
        Approx.AreClose([double.PositiveInfinity, 0, double.NaN, Math.Log(2) / 2, Math.Exp(-80) / 2, 40, Math.Log(2) / 2], Ops.Softplus(x, 2, 20), 1e-300, 1e-12);
    }

    [Test]
    public void BadInputsAreRejected()
    {
        using var scope = new TensorScope();
        var x = Randn([2, 3, 4], 40);
        var e1 = Assert.Throws<ShapeMismatchException>(() => Ops.LayerNorm(x, [3]));
        Assert.That(e1!.Message, Does.Contain("LayerNorm").And.Contain("[2, 3, 4]").And.Contain("[3]"));
        var e2 = Assert.Throws<ShapeMismatchException>(() => Ops.LayerNorm(x, [4], Randn([3], 41)));
        Assert.That(e2!.Message, Does.Contain("weight").And.Contain("[3]"));
        Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, []));
        Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, [4], eps: 0));
        Assert.Throws<DTypeMismatchException>(() => Ops.LayerNorm(x, [4], Randn([4], 42, DType.Float64)));
        var e3 = Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 2));
        Assert.That(e3!.Message, Does.Contain("GroupNorm").And.Contain("3 channels").And.Contain("2 groups"));
        Assert.Throws<ShapeMismatchException>(() => Ops.GroupNorm(Randn([3], 43), 1));
        Assert.Throws<ShapeMismatchException>(() => Ops.GroupNorm(x, 3, Randn([4], 44), Randn([4], 45)));
        Assert.Throws<ArgumentException>(() => Ops.Gelu(x, "erf"));
        Assert.Throws<ArgumentException>(() => Ops.Softplus(x, 0));
        Assert.Throws<ArgumentException>(() => Ops.Softplus(x, 1, double.NaN));
        var ints = Tensor.FromArray(new[] { 1, 2, 3 }).To(Dev);
        Assert.Throws<DTypeMismatchException>(() => Ops.LayerNorm(ints, [3]));
    }
}
