using BenchmarkDotNet.Attributes;
using NativeNet.Backends;

namespace NativeNet.Bench;

/// <summary>
/// Row softmax over the last axis through the backend primitives (preallocated output): forward, log-softmax
/// forward, and the softmax backward. Shapes: classifier logits (128x10), a wide layer (256x1000) and a large
/// attention-like block (1024x4096).
/// </summary>
public class SoftmaxBenchmarks
{
    private Device _device;
    private Backend _backend = null!;
    private Tensor _x = null!, _y = null!, _dy = null!, _dx = null!;
    private int _rows, _cols;

    /// <summary>Backends that can run here.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available();

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>"ROWSxCOLS".</summary>
    [Params("128x10", "256x1000", "1024x4096")]
    public string Shape { get; set; } = "256x1000";

    /// <summary>Seeded inputs and outputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        _backend = NativeNet.Backends.Backend.For(_device);
        int[] d = Array.ConvertAll(Shape.Split('x'), int.Parse);
        (_rows, _cols) = (d[0], d[1]);
        var g = new Generator(3);
        _x = Tensor.Normal([_rows, _cols], 0, 2, g, device: _device);
        _dy = Tensor.Normal([_rows, _cols], 0, 1, g, device: _device);
        _y = Tensor.Empty([_rows, _cols], DType.Float32, _device);
        _dx = Tensor.Empty([_rows, _cols], DType.Float32, _device);
        _backend.Softmax(_x, _y, _rows, _cols, 1, log: false);
    }

    /// <summary>y = softmax(x) per row.</summary>
    [Benchmark]
    public void Forward()
    {
        _backend.Softmax(_x, _y, _rows, _cols, 1, log: false);
        BenchBackends.Sync(_device);
    }

    /// <summary>y = log_softmax(x) per row.</summary>
    [Benchmark]
    public void LogForward()
    {
        _backend.Softmax(_x, _dx, _rows, _cols, 1, log: true);
        BenchBackends.Sync(_device);
    }

    /// <summary>dx = y·(dy − Σ dy·y) per row.</summary>
    [Benchmark]
    public void Backward()
    {
        _backend.SoftmaxBackward(_y, _dy, _dx, _rows, _cols, 1, log: false);
        BenchBackends.Sync(_device);
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _y.Dispose();
        _dy.Dispose();
        _dx.Dispose();
    }
}
