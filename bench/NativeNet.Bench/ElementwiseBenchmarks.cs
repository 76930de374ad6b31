using BenchmarkDotNet.Attributes;
using NativeNet.Backends;

namespace NativeNet.Bench;

/// <summary>
/// Elementwise kernels (add, relu, exp) on contiguous float32 vectors of 1K, 64K, 1M and 16M elements, written
/// into a preallocated output through the backend primitives, so the figures are the kernels' own.
/// </summary>
public class ElementwiseBenchmarks
{
    private Device _device;
    private Backend _backend = null!;
    private Tensor _a = null!, _b = null!, _y = null!;

    /// <summary>Backends that can run here.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available();

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>Elements.</summary>
    [Params(1 << 10, 1 << 16, 1 << 20, 1 << 24)]
    public int Size { get; set; } = 1 << 20;

    /// <summary>Seeded inputs and the output.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        _backend = NativeNet.Backends.Backend.For(_device);
        var g = new Generator(2);
        _a = Tensor.Normal([Size], 0, 1, g, device: _device);
        _b = Tensor.Normal([Size], 0, 1, g, device: _device);
        _y = Tensor.Empty([Size], DType.Float32, _device);
    }

    /// <summary>y = a + b.</summary>
    [Benchmark]
    public void Add()
    {
        _backend.Binary(BinaryOp.Add, _a, _b, _y, 0);
        BenchBackends.Sync(_device);
    }

    /// <summary>y = max(0, a).</summary>
    [Benchmark]
    public void Relu()
    {
        _backend.Unary(UnaryOp.Relu, _a, _y, 0, 0);
        BenchBackends.Sync(_device);
    }

    /// <summary>y = exp(a).</summary>
    [Benchmark]
    public void Exp()
    {
        _backend.Unary(UnaryOp.Exp, _a, _y, 0, 0);
        BenchBackends.Sync(_device);
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _y.Dispose();
    }
}
