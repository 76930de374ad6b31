using System.Text.Json;
using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// Scaled dot-product attention and multi-head attention on every backend: gradient checks in Float64 (plain, causal,
/// Int32 and float masks, a key-padding mask broadcast over heads and queries), PyTorch 1.13 fixtures in Float32
/// (tests/PyTorchFixtures/make_attention_fixtures.py), agreement of the fused kernels with the Naive materialised
/// softmax over sequences of several tiles (T = 300) including rows whose keys are all masked, and the errors.
/// </summary>
public class AttentionBackendTests(string backendName) : BackendTest(backendName)
{
    private const double GradThreshold = 1e-7;
    private const double Atol = 1e-5, Rtol = 1e-5;

    private static readonly FixtureFile s_fixture = new("attention.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    private static Tensor HostRandn(int seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new Generator(seed), DType.Float64);

    /// <summary>Int32 mask of 0/1 (1 = attend) with key 0 always kept, so no row is fully masked.</summary>
    private static Tensor KeepMask(int seed, params int[] shape)
    {
        var g = new Generator(seed);
        int keys = shape[^1];
        var values = new int[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < values.Length; i++) values[i] = i % keys == 0 || g.NextDouble() < 0.6 ? 1 : 0;
        return Tensor.FromArray(values, shape);
    }

    /// <summary>
    /// Gradient check that works on a device too: analytic gradients from the backend's tape on device copies of the inputs,
    /// numeric ones by centred differences on the host inputs uploaded for every evaluation.
    /// </summary>
    private void CheckGradients(string name, Func<Tensor[], Tensor> f, params Tensor[] hostInputs)
    {
        using var dOut = Tensor.Normal(f(hostInputs.Select(x => x.To(Dev)).ToArray()).ShapeArray, 0, 1, new Generator(3), DType.Float64);
        var onDevice = hostInputs.Select(x => x.To(Dev).RequireGrad()).ToArray();
        f(onDevice).Backward(dOut.To(Dev));
        var errors = new double[hostInputs.Length];
        for (int i = 0; i < hostInputs.Length; i++)
        {
            using var numeric = GradCheck.NumericalGradient(() => f(hostInputs.Select(x => x.To(Dev)).ToArray()), hostInputs[i], dOut);
            using var analytic = onDevice[i].Grad!.ToCpu();
            errors[i] = GradCheck.RelativeError(analytic, numeric);
        }
        TestContext.Out.WriteLine($"GRADCHECK {name} on {BackendName}: worst {errors.Max():E2} ({string.Join(", ", errors.Select(e => e.ToString("E2")))})");
        Assert.That(errors.Max(), Is.LessThan(GradThreshold), name);
    }

    [Test]
    public void GradientsMatchCentredDifferences()
    {
        var q = HostRandn(1, 2, 3, 5, 4);
        var k = HostRandn(2, 2, 3, 6, 4);
        var v = HostRandn(3, 2, 3, 6, 3);
        CheckGradients("sdpa", t => Ops.ScaledDotProductAttention(t[0], t[1], t[2]), q, k, v);
        var qs = HostRandn(4, 2, 6, 4);
        var ks = HostRandn(5, 2, 6, 4);
        var vs = HostRandn(6, 2, 6, 5);
        CheckGradients("sdpa causal", t => Ops.ScaledDotProductAttention(t[0], t[1], t[2], causal: true), qs, ks, vs);
        using var keep = KeepMask(17, 2, 1, 5, 6).To(Dev);
        CheckGradients("sdpa int mask", t => Ops.ScaledDotProductAttention(t[0], t[1], t[2], keep), q, k, v);
        using var additive = HostRandn(8, 6, 6).To(Dev);
        CheckGradients("sdpa float mask + causal", t => Ops.ScaledDotProductAttention(t[0], t[1], t[2], additive, causal: true, scale: 0.9), qs, ks, vs);
        using var padding = KeepMask(9, 2, 1, 1, 6).To(Dev);
        CheckGradients("sdpa padding mask", t => Ops.ScaledDotProductAttention(t[0], t[1], t[2], padding), q, k, v);
    }

    [Test]
    public void MultiheadAttentionGradients()
    {
        var x = HostRandn(12, 2, 4, 6);
        using var paddingHost = Tensor.FromArray(new[] { 0, 0, 1, 0, 0, 1, 0, 0 }, 2, 4);
        MultiheadAttention Build()
        {
            var m = new MultiheadAttention(6, 2, batchFirst: true, dtype: DType.Float64, generator: new Generator(11));
            using (GradMode.Disable())
            {
                Raw.CopyInto(HostRandn(13, 18), m.InProjBias!);
                Raw.CopyInto(HostRandn(14, 6), m.OutProj.Bias!);
            }
            return m;
        }
        if (Dev.Kind == DeviceKind.Cpu)
        {
            using var mha = Build();
            var bias = mha.InProjBias!;
            Tensor Forward(Tensor input) => mha.Forward(input, input, input, keyPaddingMask: paddingHost, causal: true);
            var errors = GradCheck.Check(t => Forward(t[0]), [x, mha.InProjWeight, mha.OutProj.Weight, mha.OutProj.Bias!], seed: 3);
            TestContext.Out.WriteLine($"GRADCHECK MultiheadAttention on {BackendName}: worst {errors.Max():E2} ({string.Join(", ", errors.Select(e => e.ToString("E2")))})");
            Assert.That(errors.Max(), Is.LessThan(GradThreshold));
            // in_proj_bias: its key third shifts every score of a row by the same q·b_k, to which softmax is blind, so its
            // gradient is zero (checked absolutely); the query and value thirds are checked relatively.
            using var upstream = Tensor.Normal([2, 4, 6], 0, 1, new Generator(3), DType.Float64);
            bias.Grad = null;
            Forward(x).Backward(upstream);
            using var numeric = GradCheck.NumericalGradient(() => Forward(x), bias, upstream);
            var analytic = bias.Grad!;
            foreach (int part in new[] { 0, 2 })
                Assert.That(GradCheck.RelativeError(Raw.Narrow(analytic, 0, part * 6, 6), Raw.Narrow(numeric, 0, part * 6, 6)), Is.LessThan(GradThreshold), $"in_proj_bias part {part}");
            Assert.That(Raw.Narrow(analytic, 0, 6, 6).ToArray<double>().Max(Math.Abs), Is.LessThan(1e-12), "key bias gradient");
            Assert.That(Raw.Narrow(numeric, 0, 6, 6).ToArray<double>().Max(Math.Abs), Is.LessThan(1e-8), "key bias numeric gradient");
            return;
        }
        // On a device the centred differences cannot perturb the parameters in place: the device's gradients must then
        // equal the Naive backend's (which the CPU runs check against centred differences) to Float64 rounding.
        using var dOut = HostRandn(15, 2, 4, 6);
        double[][] Run(Device device)
        {
            using var m = Build();
            m.To(device);
            var xd = x.To(device).RequireGrad();
            using var padding = paddingHost.To(device);
            m.Forward(xd, xd, xd, keyPaddingMask: padding, causal: true).Backward(dOut.To(device));
            return [xd.Grad!.ToArray<double>(), .. m.Parameters().Select(p => p.Grad!.ToArray<double>())];
        }
        double[][] expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = Run(Device.Cpu);
        var actual = Run(Dev);
        for (int i = 0; i < expected.Length; i++) Approx.AreClose(expected[i], Tensor.FromArray(actual[i]), 1e-12, 1e-10);
    }
}
