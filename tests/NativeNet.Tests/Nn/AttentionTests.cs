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
        var q = HostRandn(1, 2, 1, 5, 4);
        var k = HostRandn(2, 2, 1, 6, 4);
        var v = HostRandn(3, 2, 1, 6, 3);
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

    [TestCaseSource(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        using var hp = JsonDocument.Parse(s_fixture.Meta[name]);
        var root = hp.RootElement;
        using var scope = new TensorScope();
        var inputs = s_fixture.Group(name, "input").ToDictionary(kv => kv.Key, kv =>
            kv.Value.DType.IsFloat() && !kv.Key.Contains("mask", StringComparison.Ordinal) ? kv.Value.To(Dev).RequireGrad() : kv.Value.To(Dev));
        var upstream = s_fixture.Tensors[$"{name}/upstream/y"].To(Dev);
        var actual = new Dictionary<string, Tensor>();
        MultiheadAttention? module = null;
        Tensor y;
        if (root.GetProperty("kind").GetString() == "sdpa")
        {
            bool causal = root.TryGetProperty("causal", out var c) && c.GetBoolean();
            y = Ops.ScaledDotProductAttention(inputs["q"], inputs["k"], inputs["v"], inputs.GetValueOrDefault("mask"), causal);
        }
        else
        {
            module = new MultiheadAttention(root.GetProperty("embed_dim").GetInt32(), root.GetProperty("num_heads").GetInt32(),
                batchFirst: root.GetProperty("batch_first").GetBoolean());
            var parameters = s_fixture.Group(name, "param");
            var mine = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            Assert.That(mine.Keys, Is.EquivalentTo(parameters.Keys), "parameter names are PyTorch's");
            foreach (var (key, p) in mine) Raw.CopyInto(parameters[key], p);
            module.To(Dev);
            var query = inputs["query"];
            y = module.Forward(query, inputs.GetValueOrDefault("key") ?? query, inputs.GetValueOrDefault("value") ?? query,
                inputs.GetValueOrDefault("key_padding_mask"), inputs.GetValueOrDefault("attn_mask"));
        }
        actual["output/y"] = y;
        y.Backward(upstream);
        foreach (var (key, input) in inputs.Where(kv => kv.Value.RequiresGrad)) actual[$"grad/{key}"] = input.Grad!;
        if (module is not null)
            foreach (var (key, p) in module.NamedParameters()) actual[$"grad/{key}"] = p.Grad!;
        var expectedKeys = s_fixture.Tensors.Keys.Where(k => k.StartsWith($"{name}/output/", StringComparison.Ordinal) || k.StartsWith($"{name}/grad/", StringComparison.Ordinal))
            .Select(k => k[(name.Length + 1)..]).ToArray();
        Assert.That(actual.Keys, Is.EquivalentTo(expectedKeys), "every output and gradient of the fixture is compared");
        foreach (var key in expectedKeys) Approx.AreClose(s_fixture.Tensors[$"{name}/{key}"], actual[key], Atol, Rtol);
        module?.Dispose();
    }

    private sealed record AttentionRun(double[] Output, double[][] Grads);

    /// <summary>Forward and the gradients of Σ y·w for q, k, v on <paramref name="device"/> with the current backend.</summary>
    private static AttentionRun RunAttention(Device device, Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, bool backward)
    {
        using var scope = new TensorScope();
        var qd = q.To(device).RequireGrad();
        var kd = k.To(device).RequireGrad();
        var vd = v.To(device).RequireGrad();
        var y = Ops.ScaledDotProductAttention(qd, kd, vd, mask?.To(device), causal);
        if (!backward) return new AttentionRun(y.ToArray<double>(), []);
        var w = Tensor.Normal(y.ShapeArray, 0, 1, new Generator(77), y.DType).To(device);
        Ops.Sum(Ops.Mul(y, w)).Backward();
        return new AttentionRun(y.ToArray<double>(), [qd.Grad!.ToArray<double>(), kd.Grad!.ToArray<double>(), vd.Grad!.ToArray<double>()]);
    }

    [TestCase(false, false, DType.Float64)]
    [TestCase(true, false, DType.Float64)]
    [TestCase(false, true, DType.Float64)]
    [TestCase(true, true, DType.Float32)]
    public void FusedAgreesWithNaiveOverSeveralTiles(bool causal, bool padding, DType dtype)
    {
        // T = 300 spans three 128-wide key tiles (and ten 32-row query blocks) on Simd with ragged last ones; Tk ≠ Tq exercises the non-square causal case. The
        // Cuda kernels have no tiles and the emulated device runs every lane as a fiber, so there the sequences are shorter.
        bool emulated = Dev.Kind != DeviceKind.Cpu;
        int tq = emulated ? 90 : 300, tk = emulated ? 80 : 290, skipped = emulated ? 40 : 130;
        using var q = Tensor.Normal([2, 2, tq, 16], 0, 1, new Generator(21), dtype);
        using var k = Tensor.Normal([2, 2, tk, 16], 0, 1, new Generator(22), dtype);
        using var v = Tensor.Normal([2, 2, tk, 12], 0, 1, new Generator(23), dtype);
        Tensor? mask = null;
        if (padding)
        {
            // Batch 1 keeps only keys ≥ skipped: its whole first tiles are masked, which the online softmax must skip.
            var keep = new int[2 * tk];
            for (int j = 0; j < tk; j++) { keep[j] = j % 7 == 3 ? 0 : 1; keep[tk + j] = j >= skipped ? 1 : 0; }
            mask = Tensor.FromArray(keep, 2, 1, 1, tk);
        }
        AttentionRun expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = RunAttention(Device.Cpu, q, k, v, mask, causal, backward: !(causal && padding));
        var actual = RunAttention(Dev, q, k, v, mask, causal, backward: !(causal && padding));
        double tol = dtype == DType.Float64 ? 1e-10 : 2e-5;
        Approx.AreClose(expected.Output, Tensor.FromArray(actual.Output), tol, tol);
        for (int i = 0; i < expected.Grads.Length; i++) Approx.AreClose(expected.Grads[i], Tensor.FromArray(actual.Grads[i]), tol, tol);
        mask?.Dispose();
    }

    [TestCase(true, DType.Float64)]
    [TestCase(false, DType.Float64)]
    [TestCase(true, DType.Float32)]
    public void HeadViewsOfBthdAgreeWithNaiveAndKeepTheLayout(bool causal, DType dtype)
    {
        // q, k, v as MultiheadAttention makes them: [B, T, H, D] projections permuted to [B, H, T, D] head views, which the
        // backends take in place; the output and the gradients come back in [B, T, H, D] memory, so the merge is free.
        bool emulated = Dev.Kind != DeviceKind.Cpu;
        int t = emulated ? 70 : 300;
        using var scope = new TensorScope();
        var leaves = new[] { (41, 16), (42, 16), (43, 12) }
            .Select(p => Tensor.Normal([2, t, 3, p.Item2], 0, 1, new Generator(p.Item1), dtype).To(Dev).RequireGrad()).ToArray();
        var heads = leaves.Select(leaf => Ops.Permute(leaf, 0, 2, 1, 3)).ToArray();
        Assert.That(Backend.IsHeadsView(heads[0]) && !heads[0].IsContiguous, "the permuted projections are head views");
        var y = Ops.ScaledDotProductAttention(heads[0], heads[1], heads[2], causal: causal);
        Assert.That(Raw.Permute(y, [0, 2, 1, 3]).IsContiguous, "the output lies in [B, T, H, Dv] memory");
        var w = Tensor.Normal(y.ShapeArray, 0, 1, new Generator(77), dtype).To(Dev);
        Ops.Sum(Ops.Mul(y, w)).Backward();
        AttentionRun expected;
        var dense = heads.Select(h => Raw.Contiguous(h).ToCpu()).ToArray();
        using (Backend.Use(NaiveBackend.Instance)) expected = RunAttention(Device.Cpu, dense[0], dense[1], dense[2], null, causal, backward: true);
        double tol = dtype == DType.Float64 ? 1e-10 : 2e-5;
        Approx.AreClose(expected.Output, Raw.Contiguous(y).ToCpu(), tol, tol);
        for (int i = 0; i < 3; i++)
        {
            Assert.That(leaves[i].Grad!.IsContiguous, $"gradient {i} is a dense [B, T, H, D] tensor");
            Approx.AreClose(expected.Grads[i], Raw.Contiguous(Raw.Permute(leaves[i].Grad!, [0, 2, 1, 3])).ToCpu(), tol, tol);
        }
    }

    [Test]
    public void BackendRejectsAnOverlappingHeadView()
    {
        using var q = Randn([2, 5, 4], 1, DType.Float64);
        using var k = Randn([2, 6, 4], 2, DType.Float64);
        using var v = Randn([2, 6, 3], 3, DType.Float64);
        using var rows = Tensor.Zeros([5, 3], DType.Float64, Dev);
        using var overlapping = Raw.AsStrided(rows, [1, 2, 5, 3], [0, 0, 3, 1], rows.Offset);
        using var lse = Tensor.Empty([2, 5], DType.Float64, Dev);
        var e = Assert.Throws<ShapeMismatchException>(() => q.Backend.AttentionForward(q, k, v, null, false, 0.5, overlapping, lse));
        Assert.That(e!.Message, Does.Contain("AttentionForward").And.Contain("output").And.Contain("overlap"));
    }

    [Test]
    public void FullyMaskedRowsAreNaNAsPyTorch()
    {
        // With causal and keys < 130 masked, queries 0…129 of batch 1 have no key left: PyTorch 1.13's softmax over a row of
        // −∞ gives NaN, and so do the Naive and the fused paths; every other row is finite and agrees.
        using var q = Tensor.Normal([2, 1, 200, 8], 0, 1, new Generator(31), DType.Float64);
        using var k = Tensor.Normal([2, 1, 200, 8], 0, 1, new Generator(32), DType.Float64);
        using var v = Tensor.Normal([2, 1, 200, 8], 0, 1, new Generator(33), DType.Float64);
        var keep = new int[400];
        for (int j = 0; j < 200; j++) { keep[j] = 1; keep[200 + j] = j >= 130 ? 1 : 0; }
        using var mask = Tensor.FromArray(keep, 2, 1, 1, 200);
        AttentionRun expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = RunAttention(Device.Cpu, q, k, v, mask, causal: true, backward: false);
        var actual = RunAttention(Dev, q, k, v, mask, causal: true, backward: false);
        for (int i = 0; i < 400 * 8; i++)
        {
            int batch = i / (200 * 8), row = i / 8 % 200;
            Assert.That(double.IsNaN(expected.Output[i]), Is.EqualTo(batch == 1 && row < 130), $"naive element {i}");
        }
        Approx.AreClose(expected.Output, Tensor.FromArray(actual.Output), 1e-10, 1e-10);
    }

    [Test]
    public void BadInputIsRejectedWithTheShapes()
    {
        using var q = Randn([2, 5, 4], 1, DType.Float64);
        using var k = Randn([2, 6, 4], 2, DType.Float64);
        using var v = Randn([2, 6, 3], 3, DType.Float64);
        using var wrongK = Randn([2, 6, 5], 4, DType.Float64);
        var e = Assert.Throws<ShapeMismatchException>(() => Ops.ScaledDotProductAttention(q, wrongK, v));
        Assert.That(e!.Message, Does.Contain("ScaledDotProductAttention").And.Contain("[2, 6, 5]"));
        using var badMask = Tensor.Zeros([3, 6], DType.Float64, Dev);
        Assert.Throws<ShapeMismatchException>(() => Ops.ScaledDotProductAttention(q, k, v, badMask));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.ScaledDotProductAttention(q, k, v, dropout: 1));
        using var f32 = Randn([2, 6, 4], 5);
        Assert.Throws<DTypeMismatchException>(() => Ops.ScaledDotProductAttention(q, f32, v));
        Assert.Throws<ArgumentException>(() => new MultiheadAttention(10, 3));
        using var mha = new MultiheadAttention(8, 2, batchFirst: true);
        using var x = Randn([2, 5, 8], 6);
        using var wrongPadding = Tensor.Zeros([2, 4], DType.Int32, Dev);
        mha.To(Dev);
        var pe = Assert.Throws<ShapeMismatchException>(() => mha.Forward(x, x, x, keyPaddingMask: wrongPadding));
        Assert.That(pe!.Message, Does.Contain("key_padding_mask").And.Contain("[2, 4]"));
    }

    [Test]
    public void DropoutPathMatchesFusedWithoutDropoutAndDropsWeights()
    {
        using var q = Randn([1, 2, 7, 4], 41, DType.Float64);
        using var k = Randn([1, 2, 7, 4], 42, DType.Float64);
        using var v = Randn([1, 2, 7, 4], 43, DType.Float64);
        using var fused = Ops.ScaledDotProductAttention(q, k, v, causal: true);
        // p → 0⁺: the composed (materialised) path keeps every weight, so it must equal the fused kernel.
        using var composed = Ops.ScaledDotProductAttention(q, k, v, causal: true, dropout: 1e-300, generator: new Generator(1));
        Approx.AreClose(fused, composed, 1e-12, 1e-12);
        using var dropped = Ops.ScaledDotProductAttention(q, k, v, causal: true, dropout: 0.5, generator: new Generator(1));
        Assert.That(dropped.ToArray<double>().Zip(fused.ToArray<double>()).Any(p => Math.Abs(p.First - p.Second) > 1e-6), "dropout changed the output");
    }

    [Test]
    public void PositionalEncodings()
    {
        using var sin = new SinusoidalPositionalEncoding(50, 6, DType.Float64);
        sin.To(Dev);
        using var zeros = Tensor.Zeros([2, 5, 6], DType.Float64, Dev);
        var pe = sin.Forward(zeros).ToArray<double>();
        // pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d)) (position 3, pair 1 of batch 1)
        int at = (5 + 3) * 6;
        Assert.That(pe[at + 2], Is.EqualTo(Math.Sin(3 / Math.Pow(10000, 2.0 / 6))).Within(1e-12));
        Assert.That(pe[at + 3], Is.EqualTo(Math.Cos(3 / Math.Pow(10000, 2.0 / 6))).Within(1e-12));
        using var learned = new LearnedPositionalEmbedding(8, 6, DType.Float64, new Generator(5));
        learned.To(Dev);
        var x = Randn([2, 5, 6], 7, DType.Float64).RequireGrad();
        var y = learned.Forward(x);
        Ops.Sum(y).Backward();
        var w = learned.Weight.ToArray<double>();
        Assert.That(y.ToArray<double>()[6 + 1], Is.EqualTo(x.ToArray<double>()[6 + 1] + w[6 + 1]).Within(1e-12));
        var gw = learned.Weight.Grad!.ToArray<double>();
        Assert.That(gw[..30], Is.All.EqualTo(2.0), "positions used by both sequences");
        Assert.That(gw[30..], Is.All.EqualTo(0.0), "positions beyond T");
        Assert.Throws<ShapeMismatchException>(() => learned.Forward(Tensor.Zeros([1, 9, 6], DType.Float64, Dev)));
    }
}
