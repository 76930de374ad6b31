using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

public class ModuleTests
{
    private static Sequential LeNet(Generator g) => new(
        new Conv2d(1, 6, 5, generator: g), new ReLU(), new MaxPool2d(2),
        new Conv2d(6, 16, 5, generator: g), new ReLU(), new MaxPool2d(2),
        new Flatten(),
        new Linear(16 * 5 * 5, 120, generator: g), new ReLU(),
        new Linear(120, 84, generator: g), new ReLU(),
        new Linear(84, 10, generator: g));

    [Test]
    public void LeNetParameterNamesShapesAndCount()
    {
        using var net = LeNet(new Generator(0));
        var names = net.NamedParameters().Select(p => $"{p.Name} {ShapeUtil.Format(p.Parameter.Shape)}").ToArray();
        Assert.That(names, Is.EqualTo(new[]
        {
            "0.weight [6, 1, 5, 5]", "0.bias [6]", "3.weight [16, 6, 5, 5]", "3.bias [16]",
            "7.weight [120, 400]", "7.bias [120]", "9.weight [84, 120]", "9.bias [84]", "11.weight [10, 84]", "11.bias [10]",
        }));
        // LeNet-5's classic count: 156 + 2,416 + 48,120 + 10,164 + 850.
        Assert.That(net.ParameterCount, Is.EqualTo(61_706));
        Assert.That(net.Parameters().All(p => p.RequiresGrad && p.IsLeaf));
        using var x = Tensor.Normal([2, 1, 32, 32], 0, 1, new Generator(1));
        using var y = net.Forward(x);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 2, 10 }));
        Assert.That(net.Count, Is.EqualTo(12));
        Assert.That(net[-1], Is.InstanceOf<Linear>());
    }

    [Test]
    public void ConceptsWorkedConvolutionNumbers()
    {
        // 32x32x3, 10 filters 5x5 stride 1 pad 2 -> 32x32x10 with 76 parameters per filter, 760 total.
        using var conv = new Conv2d(3, 10, 5, stride: 1, padding: 2);
        Assert.That(conv.ParameterCount, Is.EqualTo(760));
        using (var x = Tensor.Zeros([1, 3, 32, 32], DType.Float32))
        using (var y = conv.Forward(x))
            Assert.That(y.ShapeArray, Is.EqualTo(new[] { 1, 10, 32, 32 }));

        // AlexNet CONV1: 227x227x3, 96 filters 11x11 stride 4 -> 55x55x96 with 34,944 parameters.
        using var conv1 = new Conv2d(3, 96, 11, stride: 4);
        Assert.That(conv1.ParameterCount, Is.EqualTo(34_944));
        // The output shape comes from the geometry Forward uses; running the 105M multiply-adds on the Naive backend takes seconds.
        var geometry = Backends.Conv2dGeometry.Create("Conv2d", [1, 3, 227, 227], conv1.Weight.Shape, conv1.Stride.H, conv1.Stride.W, conv1.Padding.H, conv1.Padding.W);
        Assert.That(new[] { geometry.K, geometry.OH, geometry.OW }, Is.EqualTo(new[] { 96, 55, 55 }));
    }

    [Test]
    public void LinearAndConvDefaultInitIsUniformOneOverSqrtFanIn()
    {
        var g = new Generator(5);
        using var linear = new Linear(50, 40, generator: g);
        double bound = 1 / Math.Sqrt(50);
        var w = linear.Weight.ToArray<double>();
        Assert.That(w.Max(), Is.LessThanOrEqualTo(bound).And.GreaterThan(0.9 * bound));
        Assert.That(w.Min(), Is.GreaterThanOrEqualTo(-bound).And.LessThan(-0.9 * bound));
        Assert.That(linear.Bias!.ToArray<double>().Max(), Is.LessThanOrEqualTo(bound));

        using var conv = new Conv2d(4, 8, 3, generator: g);
        double convBound = 1 / Math.Sqrt(4 * 3 * 3);
        var cw = conv.Weight.ToArray<double>();
        Assert.That(cw.Max(), Is.LessThanOrEqualTo(convBound).And.GreaterThan(0.9 * convBound));
        Assert.That(cw.Min(), Is.GreaterThanOrEqualTo(-convBound).And.LessThan(-0.9 * convBound));

        using var again = new Linear(50, 40, generator: new Generator(5));
        Assert.That(again.Weight.ToArray<double>(), Is.EqualTo(w), "same seed, same initial weights");
    }

    [Test]
    public void ToStringLooksLikePyTorch()
    {
        using var net = new Sequential(new Linear(3, 4), new ReLU(), new Sequential(new Conv2d(1, 2, 3, padding: 1, bias: false), new BatchNorm2d(2)), new Dropout(0.25));
        Assert.That(net.ToString(), Is.EqualTo(
            "Sequential(\n" +
            "  (0): Linear(in_features=3, out_features=4, bias=True)\n" +
            "  (1): ReLU()\n" +
            "  (2): Sequential(\n" +
            "    (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n" +
            "    (1): BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True)\n" +
            "  )\n" +
            "  (3): Dropout(p=0.25)\n" +
            ")"));
        using var lstm = new Lstm(10, 20, 2);
        Assert.That(lstm.ToString(), Is.EqualTo("Lstm(10, 20, num_layers=2)"));
        Assert.That(new ELU().ToString(), Is.EqualTo("ELU(alpha=1.0)"));
        Assert.That(new LeakyReLU().ToString(), Is.EqualTo("LeakyReLU(negative_slope=0.01)"));
    }

    [Test]
    public void ResidualBlockNamesFollowTorchvision()
    {
        using var block = new ResidualBlock(4, 8, stride: 2);
        var names = block.NamedParameters().Select(p => p.Name).ToArray();
        Assert.That(names, Is.EqualTo(new[]
        {
            "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias",
            "downsample.0.weight", "downsample.1.weight", "downsample.1.bias",
        }));
        Assert.That(block.NamedBuffers().Select(b => b.Name), Does.Contain("downsample.1.running_var"));
        // 3x3 convs without bias: 8·4·9 + 8·8·9, 1x1 projection 8·4, three batch norms 2·8 each.
        Assert.That(block.ParameterCount, Is.EqualTo(288 + 576 + 32 + 48));
        using var x = Tensor.Normal([2, 4, 5, 5], 0, 1, new Generator(0));
        using var y = block.Forward(x);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 2, 8, 3, 3 }));
        Assert.That(y.ToArray<double>().Min(), Is.GreaterThanOrEqualTo(0), "the block ends with a ReLU");
        using var even = Tensor.Normal([1, 4, 28, 28], 0, 1, new Generator(1));
        using var halved = block.Forward(even);
        Assert.That(halved.ShapeArray, Is.EqualTo(new[] { 1, 8, 14, 14 }), "layers floor the output size as PyTorch does (1x1 stride-2 projection)");
        using var identity = new ResidualBlock(4, 4);
        Assert.That(identity.NamedParameters().Any(p => p.Name.StartsWith("downsample", StringComparison.Ordinal)), Is.False);
    }

    [Test]
    public void RecurrentWeightsAreNamedAndShapedLikePyTorch()
    {
        using var lstm = new Lstm(3, 5, numLayers: 2);
        Assert.That(lstm.NamedParameters().Select(p => $"{p.Name} {ShapeUtil.Format(p.Parameter.Shape)}"), Is.EqualTo(new[]
        {
            "weight_ih_l0 [20, 3]", "weight_hh_l0 [20, 5]", "bias_ih_l0 [20]", "bias_hh_l0 [20]",
            "weight_ih_l1 [20, 5]", "weight_hh_l1 [20, 5]", "bias_ih_l1 [20]", "bias_hh_l1 [20]",
        }));
        using var gru = new Gru(3, 5, bias: false);
        Assert.That(gru.NamedParameters().Select(p => $"{p.Name} {ShapeUtil.Format(p.Parameter.Shape)}"),
            Is.EqualTo(new[] { "weight_ih_l0 [15, 3]", "weight_hh_l0 [15, 5]" }));
        using var rnn = new Rnn(3, 4);
        double bound = 1 / Math.Sqrt(4);
        Assert.That(rnn.Parameters().SelectMany(p => p.ToArray<double>()).All(v => Math.Abs(v) <= bound));

        using var x = Tensor.Normal([6, 2, 3], 0, 1, new Generator(1));
        var (output, (hN, cN)) = lstm.Forward(x, null);
        Assert.That(output.ShapeArray, Is.EqualTo(new[] { 6, 2, 5 }));
        Assert.That(hN.ShapeArray, Is.EqualTo(new[] { 2, 2, 5 }));
        Assert.That(cN.ShapeArray, Is.EqualTo(new[] { 2, 2, 5 }));
        using var lastOut = output.Narrow(0, 5, 1);
        using var lastH = hN.Narrow(0, 1, 1);
        Assert.That(lastOut.ToArray(), Is.EqualTo(lastH.ToArray()), "the last layer's h_n is the last output step");
        Assert.Throws<ShapeMismatchException>(() => lstm.Forward(Tensor.Zeros([6, 2, 4], DType.Float32)));
    }

    [Test]
    public void RecurrentDropoutBetweenLayersOnlyInTraining()
    {
        using var gru = new Gru(3, 4, numLayers: 2, dropout: 0.5, dtype: DType.Float64, generator: new Generator(1));
        using var x = Tensor.Normal([4, 2, 3], 0, 1, new Generator(2), DType.Float64);
        using var trainA = gru.Forward(x);
        using var trainB = gru.Forward(x);
        Assert.That(trainA.ToArray<double>(), Is.Not.EqualTo(trainB.ToArray<double>()), "fresh masks each call in training");
        gru.Eval();
        using var evalA = gru.Forward(x);
        using var evalB = gru.Forward(x);
        Assert.That(evalA.ToArray<double>(), Is.EqualTo(evalB.ToArray<double>()));
        Assert.That(gru.ToString(), Is.EqualTo("Gru(3, 4, num_layers=2, dropout=0.5)"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm(3, 4, dropout: 1));
    }

    /// <summary>One step of each cell against the formulas evaluated on host arrays (PyTorch's gate order and GRU n-gate).</summary>
    [Test]
    public void RecurrentCellsMatchTheirFormulas()
    {
        const int n = 2, input = 3, hidden = 2;
        var g = new Generator(2);
        using var x = Tensor.Normal([1, n, input], 0, 1, g, DType.Float64);
        using var h0 = Tensor.Normal([1, n, hidden], 0, 1, g, DType.Float64);
        using var c0 = Tensor.Normal([1, n, hidden], 0, 1, g, DType.Float64);
        var xs = x.ToArray<double>();
        var hs = h0.ToArray<double>();
        var cs = c0.ToArray<double>();
        static double Sig(double v) => 1 / (1 + Math.Exp(-v));
        double[] Pre(RecurrentBase m, int row, int b, bool hiddenPart)
        {
            var w = (hiddenPart ? m.WeightHh(0) : m.WeightIh(0)).ToArray<double>();
            var bias = (hiddenPart ? m.BiasHh(0)! : m.BiasIh(0)!).ToArray<double>();
            int cols = hiddenPart ? hidden : input;
            var src = hiddenPart ? hs : xs;
            double s = bias[row];
            for (int k = 0; k < cols; k++) s += w[row * cols + k] * src[b * cols + k];
            return [s];
        }
        double P(RecurrentBase m, int row, int b, bool h) => Pre(m, row, b, h)[0];

        using var rnn = new Rnn(input, hidden, dtype: DType.Float64, generator: g);
        var (rOut, rH) = rnn.Forward(x, h0);
        using var lstm = new Lstm(input, hidden, dtype: DType.Float64, generator: g);
        var (lOut, (lH, lC)) = lstm.Forward(x, (h0, c0));
        using var gru = new Gru(input, hidden, dtype: DType.Float64, generator: g);
        var (gOut, gH) = gru.Forward(x, h0);
        var rnnValues = rOut.ToArray<double>();
        var lstmH = lH.ToArray<double>();
        var lstmC = lC.ToArray<double>();
        var gruValues = gOut.ToArray<double>();
        for (int b = 0; b < n; b++)
            for (int j = 0; j < hidden; j++)
            {
                int at = b * hidden + j;
                Assert.That(rnnValues[at], Is.EqualTo(Math.Tanh(P(rnn, j, b, false) + P(rnn, j, b, true))).Within(1e-12));

                double Gate(int block) => P(lstm, block * hidden + j, b, false) + P(lstm, block * hidden + j, b, true);
                double i = Sig(Gate(0)), f = Sig(Gate(1)), gg = Math.Tanh(Gate(2)), o = Sig(Gate(3));
                double c = f * cs[at] + i * gg;
                Assert.That(lstmC[at], Is.EqualTo(c).Within(1e-12));
                Assert.That(lstmH[at], Is.EqualTo(o * Math.Tanh(c)).Within(1e-12));

                double r = Sig(P(gru, j, b, false) + P(gru, j, b, true));
                double z = Sig(P(gru, hidden + j, b, false) + P(gru, hidden + j, b, true));
                double nn = Math.Tanh(P(gru, 2 * hidden + j, b, false) + r * P(gru, 2 * hidden + j, b, true));
                Assert.That(gruValues[at], Is.EqualTo((1 - z) * nn + z * hs[at]).Within(1e-12));
            }
        Assert.That(gH.ToArray<double>(), Is.EqualTo(gruValues));
        Assert.That(rH.ToArray<double>(), Is.EqualTo(rnnValues));
    }

    [Test]
    public void BatchNormRunningStatisticsAfterOneStep()
    {
        // Two features over a batch of four: means 2.5 and −1, biased variances 1.25 and 5, unbiased 5/3 and 20/3.
        using var x = Tensor.FromArray(new double[] { 1, 2, 2, -4, 3, 0, 4, -2 }, 4, 2);
        using var bn = new BatchNorm1d(2, dtype: DType.Float64);
        using var y = bn.Forward(x);
        Assert.That(bn.RunningMean.ToArray<double>(), Is.EqualTo(new[] { 0.9 * 0 + 0.1 * 2.5, 0.1 * -1.0 }).Within(1e-12));
        Assert.That(bn.RunningVar.ToArray<double>(), Is.EqualTo(new[] { 0.9 + 0.1 * 5.0 / 3, 0.9 + 0.1 * 20.0 / 3 }).Within(1e-12));
        Assert.That(bn.NumBatchesTracked.Item(), Is.EqualTo(1));
        var expected = new[] { 1.0, 2, 2, -4, 3, 0, 4, -2 }
            .Select((v, i) => i % 2 == 0 ? (v - 2.5) / Math.Sqrt(1.25 + 1e-5) : (v + 1) / Math.Sqrt(5 + 1e-5)).ToArray();
        Assert.That(y.ToArray<double>(), Is.EqualTo(expected).Within(1e-12), "training normalises with the biased batch variance");

        using var y2 = bn.Forward(x);
        Assert.That(bn.RunningMean.ToArray<double>()[0], Is.EqualTo(0.9 * 0.25 + 0.1 * 2.5).Within(1e-12));
        Assert.That(bn.NumBatchesTracked.Item(), Is.EqualTo(2));
    }

    [Test]
    public void BatchNormEvalUsesRunningStatistics()
    {
        using var bn = new BatchNorm2d(2, dtype: DType.Float64);
        Init.Constant(bn.RunningMean, 1.5);
        Init.Constant(bn.RunningVar, 4.0);
        Init.Constant(bn.Weight!, 2.0);
        Init.Constant(bn.Bias!, -1.0);
        bn.Eval();
        Assert.That(bn.IsTraining, Is.False);
        using var x = Tensor.Normal([3, 2, 2, 2], 0, 1, new Generator(3), DType.Float64);
        using var y = bn.Forward(x);
        var expected = x.ToArray<double>().Select(v => 2.0 * (v - 1.5) / Math.Sqrt(4.0 + 1e-5) - 1.0).ToArray();
        Assert.That(y.ToArray<double>(), Is.EqualTo(expected).Within(1e-12));
        Assert.That(bn.RunningMean.ToArray<double>(), Is.EqualTo(new[] { 1.5, 1.5 }), "evaluation leaves the running statistics alone");
        Assert.That(bn.NumBatchesTracked.Item(), Is.EqualTo(0));
        Assert.Throws<ShapeMismatchException>(() => bn.Forward(Tensor.Zeros([3, 2], DType.Float64)));
        Assert.Throws<ArgumentException>(() => new BatchNorm1d(2).Forward(Tensor.Zeros([1, 2], DType.Float32)), "one value per channel cannot be normalised in training");
    }

    [Test]
    public void DropoutIsIdentityInEvalAndMeanPreservingInTrain()
    {
        using var drop = new Dropout(0.3, new Generator(4));
        using var ones = Tensor.Ones([200, 200], DType.Float64);
        using (var y = drop.Forward(ones))
        {
            var v = y.ToArray<double>();
            Assert.That(v.All(e => e == 0 || Math.Abs(e - 1 / 0.7) < 1e-12), "kept values are scaled by 1/keep");
            Assert.That(v.Count(e => e == 0) / (double)v.Length, Is.EqualTo(0.3).Within(0.01));
            Assert.That(v.Average(), Is.EqualTo(1.0).Within(0.02));
        }
        drop.Eval();
        using var x = Tensor.Normal([5, 4], 0, 1, new Generator(5), DType.Float64);
        using (var y = drop.Forward(x))
            Assert.That(y.ToArray<double>(), Is.EqualTo(x.ToArray<double>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.5));
    }

    [Test]
    public void TrainEvalPropagateToChildren()
    {
        using var net = new Sequential(new Linear(2, 2), new Sequential(new Dropout(), new BatchNorm1d(2)));
        net.Eval();
        Assert.That(net.NamedModules().All(m => !m.Module.IsTraining));
        Assert.That(net.NamedModules().Select(m => m.Name), Is.EqualTo(new[] { "", "0", "1", "1.0", "1.1" }));
        net.Train();
        Assert.That(net.NamedModules().All(m => m.Module.IsTraining));
    }

    [Test]
    public void ZeroGradDisposesAndClearsGradients()
    {
        using var net = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 1));
        using (var scope = new TensorScope())
        {
            var loss = Ops.Mean(net.Forward(Tensor.Normal([5, 3], 0, 1, new Generator(6))));
            loss.Backward();
        }
        var grads = net.Parameters().Select(p => p.Grad).ToArray();
        Assert.That(grads.All(g => g is not null && !g.IsDisposed), "gradients outlive the step's scope");
        net.ZeroGrad();
        Assert.That(net.Parameters().All(p => p.Grad is null));
        Assert.That(grads.All(g => g!.IsDisposed));
    }

    [Test]
    public void ParametersOutliveTheScopeThatCreatedThem()
    {
        Linear layer;
        using (var scope = new TensorScope()) layer = new Linear(2, 3);
        Assert.That(layer.Parameters().All(p => !p.IsDisposed), "parameters are never owned by a scope");
        using (var x = Tensor.Ones([1, 2], DType.Float32))
        using (var y = layer.Forward(x))
            Assert.That(y.ShapeArray, Is.EqualTo(new[] { 1, 3 }));
        layer.Dispose();
        Assert.That(layer.Parameters().All(p => p.IsDisposed));
    }

    [Test]
    public void ToDeviceAndDType()
    {
        using var net = new Sequential(new Linear(3, 2), new BatchNorm1d(2));
        var before = net.Parameters().ToArray();
        var values = before.Select(p => p.ToArray<double>()).ToArray();
        Assert.That(net.To(Device.Cpu), Is.SameAs(net));
        Assert.That(net.Parameters().ToArray(), Is.EqualTo(before), "already on the CPU: nothing moves");

        net.To(DType.Float64);
        var after = net.Parameters().ToArray();
        Assert.That(after.All(p => p.DType == DType.Float64 && p.RequiresGrad && p.Device == Device.Cpu));
        Assert.That(after.Select(p => p.ToArray<double>()).ToArray(), Is.EqualTo(values).Within(1e-7));
        Assert.That(before.All(p => p.IsDisposed), "the Float32 originals are released");
        var buffers = net.NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer.DType);
        Assert.That(buffers["1.running_mean"], Is.EqualTo(DType.Float64));
        Assert.That(buffers["1.num_batches_tracked"], Is.EqualTo(DType.Int32));
        using var y = net.Forward(Tensor.Normal([4, 3], 0, 1, new Generator(0), DType.Float64));
        Assert.That(y.DType, Is.EqualTo(DType.Float64));
    }

    [Test]
    public void EmbeddingGathersRowsAndChecksIndices()
    {
        using var emb = new Embedding(4, 2, DType.Float64, new Generator(7));
        var table = emb.Weight.ToArray<double>();
        using var ids = Tensor.FromArray(new[] { 3, 0, 3 }, 3);
        using var y = emb.Forward(ids);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 3, 2 }));
        Assert.That(y.ToArray<double>(), Is.EqualTo(new[] { table[6], table[7], table[0], table[1], table[6], table[7] }));
        using (var scope = new TensorScope()) Ops.Sum(emb.Forward(ids)).Backward();
        Assert.That(emb.Weight.Grad!.ToArray<double>(), Is.EqualTo(new double[] { 1, 1, 0, 0, 0, 0, 2, 2 }), "a row used twice gets two gradients");
        Assert.Throws<ArgumentOutOfRangeException>(() => emb.Forward(Tensor.FromArray(new[] { 4 }, 1)));
        Assert.Throws<DTypeMismatchException>(() => emb.Forward(Tensor.Zeros([2], DType.Float32)));
    }

    [Test]
    public void MaxoutTakesTheLargestPiece()
    {
        using var maxout = new Maxout(3, 2, pieces: 3, DType.Float64, new Generator(8));
        using var x = Tensor.Normal([4, 3], 0, 1, new Generator(9), DType.Float64);
        using var pieces = Ops.Linear(x, maxout.Parameters().First(), maxout.Parameters().Last());
        var all = pieces.ToArray<double>();
        using var y = maxout.Forward(x);
        var expected = Enumerable.Range(0, 8).Select(k => Enumerable.Range(0, 3).Max(p => all[k * 3 + p])).ToArray();
        Assert.That(y.ToArray<double>(), Is.EqualTo(expected));
        Assert.That(maxout.NamedParameters().Select(p => p.Name), Is.EqualTo(new[] { "linear.weight", "linear.bias" }));
    }

    [Test]
    public void PReluLearnsAPerChannelSlope()
    {
        using var prelu = new PReLU(2, init: 0.5);
        using var x = Tensor.FromArray(new float[] { -2, 3, -4, -1 }, 1, 2, 2);
        using var y = prelu.Forward(x);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { -1, 3, -2, -0.5f }));
        Assert.Throws<ShapeMismatchException>(() => prelu.Forward(Tensor.Zeros([1, 3], DType.Float32)));
    }

    [Test]
    public void SharedModulesAndParametersAreListedOnce()
    {
        var shared = new Linear(3, 3);
        using var net = new Sequential(shared, new Tanh(), shared);
        Assert.That(net.NamedParameters().Select(p => p.Name), Is.EqualTo(new[] { "0.weight", "0.bias" }));
        Assert.That(net.ParameterCount, Is.EqualTo(12));
        Assert.That(net.NamedModules().Select(m => m.Name), Is.EqualTo(new[] { "", "0", "1" }));
        Assert.That(net.NamedParameters("model.").First().Name, Is.EqualTo("model.0.weight"));
    }

    [Test]
    public void RegistrationRejectsDuplicatesAndDottedNames()
    {
        Assert.Throws<ArgumentException>(() => new BadModule(duplicate: true));
        Assert.Throws<ArgumentException>(() => new BadModule(duplicate: false));
    }

    private sealed class BadModule : Module
    {
        public BadModule(bool duplicate)
        {
            RegisterParameter("w", Tensor.Zeros([2], DType.Float32));
            if (duplicate) RegisterBuffer("w", Tensor.Zeros([2], DType.Float32));
            else RegisterModule("a.b", new ReLU());
        }

        public override Tensor Forward(Tensor input) => input;
    }
}
