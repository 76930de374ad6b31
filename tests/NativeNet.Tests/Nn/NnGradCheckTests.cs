using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// Gradient checks of every module and every new gate in Float64 on the Naive backend (threshold 1e-7).
/// Each test prints "GRADCHECK name: worst …" so the worst relative errors can be collected from the test log.
/// </summary>
public class NnGradCheckTests
{
    private const double Threshold = 1e-7;

    private static IDisposable Naive() => Backend.Use(NaiveBackend.Instance);

    private static Tensor Randn(Generator g, params int[] shape) => Tensor.Normal(shape, 0, 1, g, DType.Float64);

    private static void Check(string name, Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(name, Threshold, f, inputs);

    private static void Check(string name, double threshold, Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(name, threshold, 1e-5, f, inputs);

    private static void Check(string name, double threshold, double step, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var errors = GradCheck.Check(f, inputs, seed: 3, h: step);
        TestContext.Out.WriteLine($"GRADCHECK {name}: worst {errors.Max():E2} (per input: {string.Join(", ", errors.Select(e => e.ToString("E2")))})");
        Assert.That(errors.Max(), Is.LessThan(threshold), name);
    }

    private static void CheckModule(string name, Module module, Tensor x)
    {
        var inputs = new[] { x }.Concat(module.Parameters()).ToArray();
        Check(name, t => module.Forward(t[0]), inputs);
    }

    /// <summary>Output sequence and final states in one tensor, so every path of a recurrent net is checked.</summary>
    private static Tensor Flat(params Tensor[] parts) => Ops.Concat(parts.Select(p => Ops.Reshape(p, -1)).ToArray(), 0);

    [Test]
    public void Linear()
    {
        using var _ = Naive();
        var g = new Generator(1);
        CheckModule("Linear", new Linear(4, 5, dtype: DType.Float64, generator: g), Randn(g, 3, 4));
        CheckModule("Linear(no bias)", new Linear(4, 2, bias: false, dtype: DType.Float64, generator: g), Randn(g, 3, 4));
    }

    [Test]
    public void Conv2dStride2Padding1()
    {
        using var _ = Naive();
        var g = new Generator(2);
        CheckModule("Conv2d(stride 2, padding 1)", new Conv2d(2, 3, 3, stride: 2, padding: 1, dtype: DType.Float64, generator: g), Randn(g, 2, 2, 5, 5));
    }

    [Test]
    public void Pools()
    {
        using var _ = Naive();
        var g = new Generator(3);
        CheckModule("MaxPool2d(2)", new MaxPool2d(2), Randn(g, 2, 2, 4, 4));
        CheckModule("AvgPool2d(3, stride 2, padding 1)", new AvgPool2d(3, 2, 1), Randn(g, 1, 2, 5, 5));
        CheckModule("GlobalAvgPool2d", new GlobalAvgPool2d(), Randn(g, 2, 3, 3, 3));
        CheckModule("Flatten", new Flatten(), Randn(g, 2, 3, 2, 2));
    }

    [Test]
    public void BatchNorm1dTrain()
    {
        using var _ = Naive();
        var g = new Generator(4);
        var bn = new BatchNorm1d(4, dtype: DType.Float64);
        Init.Normal(bn.Weight!, 1, 0.5, g);
        Init.Normal(bn.Bias!, 0, 0.5, g);
        CheckModule("BatchNorm1d(train)", bn, Randn(g, 5, 4));
        CheckModule("BatchNorm1d(train, [N,C,L])", bn, Randn(g, 3, 4, 2));
        CheckModule("BatchNorm1d(train, no affine)", new BatchNorm1d(3, affine: false, dtype: DType.Float64), Randn(g, 4, 3));
    }

    [Test]
    public void BatchNorm2dTrainAndEval()
    {
        using var _ = Naive();
        var g = new Generator(5);
        var bn = new BatchNorm2d(3, dtype: DType.Float64);
        Init.Normal(bn.Weight!, 1, 0.5, g);
        Init.Normal(bn.Bias!, 0, 0.5, g);
        CheckModule("BatchNorm2d(train)", bn, Randn(g, 2, 3, 3, 3));
        bn.Eval();
        CheckModule("BatchNorm2d(eval)", bn, Randn(g, 2, 3, 3, 3));
    }

    [Test]
    public void DropoutWithFixedMask()
    {
        using var _ = Naive();
        var g = new Generator(6);
        var drop = new Dropout(0.4, new Generator(0));
        Check("Dropout(p=0.4, fixed mask)", t =>
        {
            drop.Generator.ManualSeed(11);
            return drop.Forward(t[0]);
        }, Randn(g, 4, 5));
    }

    [Test]
    public void Activations()
    {
        using var _ = Naive();
        var g = new Generator(7);
        CheckModule("PReLU(per channel)", new PReLU(3, dtype: DType.Float64), Randn(g, 2, 3, 2, 2));
        CheckModule("PReLU(shared)", new PReLU(1, 0.1, DType.Float64), Randn(g, 4, 3));
        CheckModule("LeakyReLU(0.1)", new LeakyReLU(0.1), Randn(g, 3, 4));
        CheckModule("ELU(0.7)", new ELU(0.7), Randn(g, 3, 4));
        CheckModule("ReLU", new ReLU(), Randn(g, 3, 4));
        CheckModule("Sigmoid", new Sigmoid(), Randn(g, 3, 4));
        CheckModule("Tanh", new Tanh(), Randn(g, 3, 4));
    }

    [Test]
    public void PReluGate()
    {
        using var _ = Naive();
        var g = new Generator(8);
        Check("Ops.PRelu", t => Ops.PRelu(t[0], t[1]), Randn(g, 3, 2, 4), Tensor.FromArray(new[] { 0.3, -0.2 }, 2));
    }

    [Test]
    public void Maxout()
    {
        using var _ = Naive();
        var g = new Generator(9);
        CheckModule("Maxout(4→3, 3 pieces)", new Maxout(4, 3, 3, DType.Float64, g), Randn(g, 5, 4));
    }

    [Test]
    public void EmbeddingWithRespectToWeight()
    {
        using var _ = Naive();
        var g = new Generator(10);
        var emb = new Embedding(6, 3, DType.Float64, g);
        var ids = Tensor.FromArray(new[] { 1, 4, 1, 0, 5, 1 }, 2, 3);
        Check("Embedding(weight)", t => emb.Forward(ids), emb.Weight);
    }

    private static IEnumerable<TestCaseData> RecurrentCases()
    {
        // The fused layer's CPU cells differ per backend (Naive scalar reference, Simd vectorised), so both are checked.
        foreach (string backend in new[] { "naive", "simd" })
        foreach (bool withState in new[] { false, true })
        foreach (string kind in new[] { "Rnn", "Lstm", "Gru" })
            yield return new TestCaseData(kind, withState, backend).SetName($"{kind}(withState={withState}, {backend})");
    }

    /// <summary>
    /// Centred-difference step of the LSTM and GRU checks. With h = 1e-5 the numeric side sits on the Float64 noise floor of a
    /// 2-layer, 3-step output (the GEMMs' summation order moves it: Simd GRU 1.8e-7 at 1e-5, 1.4e-8 at 1e-4; Naive 8.8e-8 → 1.5e-8).
    /// The RNN keeps 1e-5: its noise is lower and at 1e-4 the h² truncation error of tanh shows (1.4e-7).
    /// </summary>
    private const double RecurrentStep = 1e-4;

    [TestCaseSource(nameof(RecurrentCases))]
    public void Recurrent(string kind, bool withState, string backend)
    {
        using var _ = Backend.Use(Backend.FromName(backend));
        var g = new Generator(12);
        const int steps = 3, batch = 2, input = 3, hidden = 4, layers = 2;
        var x = Randn(g, steps, batch, input);
        string name = $"{kind}(2 layers, T=3{(withState ? ", initial state" : "")}, {backend})";
        switch (kind)
        {
            case "Rnn":
            {
                var rnn = new Rnn(input, hidden, layers, dtype: DType.Float64, generator: g);
                var h0 = Randn(g, layers, batch, hidden);
                var inputs = withState ? [x, h0, .. rnn.Parameters()] : new[] { x }.Concat(rnn.Parameters()).ToArray();
                Check(name, t =>
                {
                    var (output, hN) = rnn.Forward(t[0], withState ? t[1] : null);
                    return Flat(output, hN);
                }, inputs);
                break;
            }
            case "Lstm":
            {
                var lstm = new Lstm(input, hidden, layers, dtype: DType.Float64, generator: g);
                var h0 = Randn(g, layers, batch, hidden);
                var c0 = Randn(g, layers, batch, hidden);
                var inputs = withState ? [x, h0, c0, .. lstm.Parameters()] : new[] { x }.Concat(lstm.Parameters()).ToArray();
                // Looser threshold and step 1e-4: a few LSTM gradient elements are tiny (dL/dh0[0] = 9.021820e-6 analytic, the
                // same to 7 digits before and after the fused layer), and centred differences of this 2-layer, 3-step output have
                // an absolute noise floor near 1e-11 in Float64: the numeric value is 9.021812e-6 at h = 1e-4 but 9.021783e-6 at
                // h = 1e-5 (relative error 2e-6, all noise); every other element agrees to better than 1e-7.
                Check(name, 1e-6, RecurrentStep, t =>
                {
                    var (output, (hN, cN)) = lstm.Forward(t[0], withState ? (t[1], t[2]) : null);
                    return Flat(output, hN, cN);
                }, inputs);
                break;
            }
            default:
            {
                var gru = new Gru(input, hidden, layers, dtype: DType.Float64, generator: g);
                var h0 = Randn(g, layers, batch, hidden);
                var inputs = withState ? [x, h0, .. gru.Parameters()] : new[] { x }.Concat(gru.Parameters()).ToArray();
                Check(name, Threshold, RecurrentStep, t =>
                {
                    var (output, hN) = gru.Forward(t[0], withState ? t[1] : null);
                    return Flat(output, hN);
                }, inputs);
                break;
            }
        }
    }

    [Test]
    public void ResidualBlockIdentityShortcut()
    {
        using var _ = Naive();
        var g = new Generator(13);
        var block = new ResidualBlock(2, 2, 1, DType.Float64, g);
        Assert.That(block.HasProjection, Is.False);
        CheckModule("ResidualBlock(identity shortcut)", block, Randn(g, 2, 2, 4, 4));
    }

    [Test]
    public void ResidualBlockProjectionShortcut()
    {
        using var _ = Naive();
        var g = new Generator(14);
        var block = new ResidualBlock(2, 3, 2, DType.Float64, g);
        Assert.That(block.HasProjection, Is.True);
        CheckModule("ResidualBlock(1x1 projection, stride 2)", block, Randn(g, 2, 2, 5, 5));
    }

    [Test]
    public void SequentialOfModules()
    {
        using var _ = Naive();
        var g = new Generator(15);
        var net = new Sequential(new Linear(4, 6, dtype: DType.Float64, generator: g), new Tanh(), new Linear(6, 2, dtype: DType.Float64, generator: g));
        CheckModule("Sequential(Linear, Tanh, Linear)", net, Randn(g, 3, 4));
    }
}
