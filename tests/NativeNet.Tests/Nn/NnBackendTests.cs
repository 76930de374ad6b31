using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// Every module on every backend: forward values and parameter gradients (of Σ y²) match the Naive CPU run of the same
/// Float32 module, moved to the backend's device with <see cref="Module.To(Device)"/>.
/// </summary>
public class NnBackendTests(string backendName) : BackendTest(backendName)
{
    private static (double[] Output, double[][] Grads) Run(Module module, Func<Module, Tensor> forward)
    {
        using var scope = new TensorScope();
        module.ZeroGrad();
        var y = forward(module);
        Ops.Sum(Ops.Square(y)).Backward();
        return (y.ToArray<double>(), module.Parameters().Select(p => p.Grad!.ToArray<double>()).ToArray());
    }

    private void Compare(Module module, Tensor hostInput, Func<Module, Tensor, Tensor>? forward = null)
    {
        forward ??= (m, x) => m.Forward(x);
        using (module)
        {
            (double[] Output, double[][] Grads) expected;
            using (Backend.Use(NaiveBackend.Instance)) expected = Run(module, m => forward(m, hostInput));
            module.To(Dev);
            Assert.That(module.Parameters().Concat(module.Buffers()).All(t => t.Device == Dev), "every parameter and buffer moved");
            using var input = hostInput.To(Dev);
            var actual = Run(module, m => forward(m, input));
            Approx.AreClose(expected.Output, Tensor.FromArray(actual.Output), 1e-4, 1e-4);
            for (int i = 0; i < expected.Grads.Length; i++)
                Approx.AreClose(expected.Grads[i], Tensor.FromArray(actual.Grads[i]), 1e-4, 1e-4);
        }
    }

    [Test]
    public void ConvolutionalStack()
    {
        var g = new Generator(1);
        var masks = new Generator(0);
        var net = new Sequential(
            new Conv2d(2, 4, 3, padding: 1, generator: g), new BatchNorm2d(4), new PReLU(4), new MaxPool2d(2),
            new Dropout(0.3, masks), new Flatten(), new Linear(16, 3, generator: g), new ELU());
        Compare(net, Tensor.Normal([2, 2, 4, 4], 0, 1, g), (m, x) =>
        {
            masks.ManualSeed(5);
            return m.Forward(x);
        });
    }

    [Test]
    public void ResidualBlockWithProjection()
    {
        var g = new Generator(2);
        Compare(new Sequential(new ResidualBlock(2, 3, 2, generator: g), new GlobalAvgPool2d()), Tensor.Normal([2, 2, 5, 5], 0, 1, g));
    }

    [Test]
    public void FullyConnectedWithEvalBatchNorm()
    {
        var g = new Generator(3);
        var net = new Sequential(new Linear(4, 6, generator: g), new BatchNorm1d(6), new LeakyReLU(0.1), new Maxout(6, 3, 2, generator: g),
            new AvgPool2dAdapter(), new Sigmoid(), new Tanh());
        using (var warm = Tensor.Normal([8, 4], 0, 1, g)) using (net.Forward(warm)) { } // running statistics away from 0 and 1
        net.Eval();
        Compare(net, Tensor.Normal([5, 4], 0, 1, g));
    }

    [TestCase("Rnn")]
    [TestCase("Lstm")]
    [TestCase("Gru")]
    public void Recurrent(string kind)
    {
        var g = new Generator(4);
        Module net = kind switch
        {
            "Rnn" => new Rnn(3, 4, 2, generator: g),
            "Lstm" => new Lstm(3, 4, 2, generator: g),
            _ => new Gru(3, 4, 2, generator: g),
        };
        Compare(net, Tensor.Normal([3, 2, 3], 0, 1, g));
    }

    [Test]
    public void EmbeddingLookup()
    {
        var ids = Tensor.FromArray(new[] { 2, 0, 2, 4 }, 2, 2);
        Compare(new Embedding(5, 3, generator: new Generator(5)), ids, (m, _) => m.Forward(ids));
    }

    /// <summary>Reshapes [N, C] to [N, C, 1, 1], average-pools 1×1 and flattens back, so pooling runs inside a dense net too.</summary>
    private sealed class AvgPool2dAdapter : Module
    {
        public override Tensor Forward(Tensor input) =>
            Ops.Reshape(Ops.AvgPool2d(Ops.Reshape(input, input.Shape[0], input.Shape[1], 1, 1), 1), input.Shape[0], input.Shape[1]);
    }
}
