using BenchmarkDotNet.Attributes;
using NativeNet.Backends;

namespace NativeNet.Bench;

/// <summary>
/// Single-precision GEMM through <see cref="Backend.Gemm"/> into a preallocated C (as OpenBLAS's sgemm.c anchor
/// does): square 64..2048 and the network shapes of shared/anchors/RESULTS.md section 2. Naive runs only
/// shapes whose dimensions are all at most 512.
/// </summary>
public class GemmBenchmarks
{
    private Device _device;
    private Backend _backend = null!;
    private Tensor _a = null!, _b = null!, _c = null!;
    private GemmShape _shape;

    /// <summary>The square sizes and network shapes, "MxNxK OP".</summary>
    public static string[] Shapes { get; } =
    [
        "64x64x64 NN", "128x128x128 NN", "256x256x256 NN", "512x512x512 NN", "1024x1024x1024 NN", "2048x2048x2048 NN",
        "128x512x784 NN", "128x512x784 NT", "512x784x128 TN", "128x256x512 NT", "128x10x512 NN", "128x10x256 NT",
        "64x12544x288 NN", "32x50176x9 NN", "128x128x3136 NT", "64x1024x256 NT",
    ];

    /// <summary>Backends that can run here.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available();

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>"MxNxK OP".</summary>
    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "1024x1024x1024 NN";

    /// <summary>Creates seeded operands and the output.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        _backend = NativeNet.Backends.Backend.For(_device);
        _shape = GemmShape.Parse(Shape);
        var g = new Generator(1);
        var (m, n, k) = (_shape.M, _shape.N, _shape.K);
        _a = Tensor.Uniform(_shape.TransA ? [k, m] : [m, k], -0.5, 0.5, g, device: _device);
        _b = Tensor.Uniform(_shape.TransB ? [n, k] : [k, n], -0.5, 0.5, g, device: _device);
        _c = Tensor.Zeros([m, n], DType.Float32, _device);
    }

    /// <summary>C = op(A)·op(B).</summary>
    [Benchmark]
    public void Sgemm()
    {
        var (m, n, k) = (_shape.M, _shape.N, _shape.K);
        _backend.Gemm(DType.Float32, 1, m, n, k,
            new MatrixOperand(_a.Storage, _a.Offset, _shape.TransA ? m : k, 0, _shape.TransA),
            new MatrixOperand(_b.Storage, _b.Offset, _shape.TransB ? k : n, 0, _shape.TransB),
            _c.Storage, _c.Offset, n, 0, 0);
        BenchBackends.Sync(_device);
    }

    /// <summary>Frees the operands.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }
}
