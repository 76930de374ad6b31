using NativeNet.Autodiff;
using BenchmarkDotNet.Attributes;

namespace NativeNet.Bench;

/// <summary>
/// 2x2 max-pooling of N=64 C=32 28x28 (the CNN's first pool) through <see cref="Ops.MaxPool2d"/>: forward (no tape)
/// and forward + backward (dX), as torch_micro.py's max_pool2d rows.
/// </summary>
public class MaxPoolBenchmarks
{
    private Device _device;
    private Tensor _x = null!, _dy = null!;

    /// <summary>Backends that can run here.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available();

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>Seeded random input (random data, as the PyTorch anchor, whose speed depends on it).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        var g = new Generator(5);
        _x = Tensor.Normal([64, 32, 28, 28], 0, 1, g, device: _device).RequireGrad();
        _dy = Tensor.Normal([64, 32, 14, 14], 0, 1, g, device: _device);
    }

    /// <summary>y = maxpool2x2(x) without recording.</summary>
    [Benchmark]
    public void Forward()
    {
        using var scope = new TensorScope();
        using (GradMode.Disable()) Ops.MaxPool2d(_x, 2, floor: true);
        BenchBackends.Sync(_device);
    }

    /// <summary>Forward, then backward from a fixed dy (dX).</summary>
    [Benchmark]
    public void ForwardBackward()
    {
        ClearGrad();
        using var scope = new TensorScope();
        Ops.MaxPool2d(_x, 2, floor: true).Backward(_dy);
        BenchBackends.Sync(_device);
    }

    private void ClearGrad()
    {
        _x.Grad?.Dispose();
        _x.Grad = null;
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        ClearGrad();
        _x.Dispose();
        _dy.Dispose();
    }
}
