using BenchmarkDotNet.Attributes;
using NativeNet.Models;
using NativeNet.Nn;
using NativeNet.Optim;

namespace NativeNet.Bench;

/// <summary>
/// One training step at batch 128: forward, softmax cross-entropy, backward and Adam (lr 1e-3), on the models of
/// shared/anchors/models.py (<see cref="ModelZoo"/>), the same code `nativenet bench train-step` times. Gradients are dropped
/// before each step (torch's zero_grad(set_to_none=True)); the step's temporaries are freed by a
/// <see cref="TensorScope"/>.
/// </summary>
public class TrainStepBenchmarks
{
    private Device _device;
    private Module _model = null!;
    private Adam _adam = null!;
    private Tensor _x = null!, _labels = null!;

    /// <summary>Backends that can run here.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available();

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>"mlp" or "cnn".</summary>
    [Params("mlp", "cnn")]
    public string Model { get; set; } = "mlp";

    /// <summary>Builds the model, the optimiser and a seeded random batch.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        var g = new Generator(6);
        _model = ModelZoo.Build(Model, g);
        _model.To(_device);
        _adam = new Adam(_model.Parameters(), learningRate: 1e-3);
        int[] shape = Model == "mlp" ? [128, 784] : [128, 1, 28, 28];
        _x = Tensor.Normal(shape, 0, 1, g, device: _device);
        var labels = new int[128];
        for (int i = 0; i < labels.Length; i++) labels[i] = g.NextInt(10);
        _labels = Tensor.FromArray(labels, 128);
        if (_device.Kind != DeviceKind.Cpu)
        {
            using var host = _labels;
            _labels = host.To(_device);
        }
    }

    /// <summary>zero_grad, forward, cross-entropy, backward, Adam step.</summary>
    [Benchmark]
    public void Step()
    {
        _adam.ZeroGrad(setToNull: true);
        using (new TensorScope())
        {
            Ops.SoftmaxCrossEntropy(_model.Forward(_x), _labels).Backward();
            _adam.Step();
        }
        BenchBackends.Sync(_device);
    }

    /// <summary>Frees the model, the optimiser state and the batch.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _adam.ZeroGrad(setToNull: true);
        _adam.Dispose();
        _model.Dispose();
        _x.Dispose();
        _labels.Dispose();
    }
}
