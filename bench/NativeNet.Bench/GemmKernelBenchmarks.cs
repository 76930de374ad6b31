using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using NativeNet.Backends.Simd;

namespace NativeNet.Bench;

/// <summary>
/// Single-precision <see cref="SimdGemm"/> on the shapes the engine cares about (square, MLP and conv-as-GEMM).
/// GFLOP/s = 2·M·N·K / mean time. OpenBLAS figures for the same shapes are in shared/anchors/RESULTS.md.
/// </summary>
// SAFETY: the three native buffers are allocated in GlobalSetup for exactly the benchmarked shape, used only between
// setup and cleanup, and freed once.
[MemoryDiagnoser]
public unsafe class GemmKernelBenchmarks
{
    private float* _a, _b, _c;
    private int _m, _n, _k;
    private bool _ta, _tb;

    /// <summary>M x N x K and the transposes, e.g. "1024x1024x1024 NN".</summary>
    [Params("1024x1024x1024 NN", "128x512x784 NN", "128x512x784 NT", "512x784x128 TN", "64x12544x288 NN", "2048x2048x2048 NN")]
    public string Shape { get; set; } = "1024x1024x1024 NN";

    /// <summary>Threads handed to the GEMM.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>Allocates and fills the operands.</summary>
    [GlobalSetup]
    public void Setup()
    {
        string[] parts = Shape.Split(' ');
        int[] dims = Array.ConvertAll(parts[0].Split('x'), int.Parse);
        (_m, _n, _k) = (dims[0], dims[1], dims[2]);
        (_ta, _tb) = (parts[1][0] == 'T', parts[1][1] == 'T');
        _a = Alloc((long)_m * _k);
        _b = Alloc((long)_k * _n);
        _c = Alloc((long)_m * _n);
        var rng = new Random(1);
        for (long i = 0; i < (long)_m * _k; i++)
            _a[i] = (float)rng.NextDouble() - 0.5f;
        for (long i = 0; i < (long)_k * _n; i++)
            _b[i] = (float)rng.NextDouble() - 0.5f;
    }

    /// <summary>Frees the operands.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_c);
    }

    /// <summary>C = op(A)·op(B).</summary>
    [Benchmark]
    public void Sgemm() => SimdGemm.Gemm(_ta, _tb, _m, _n, _k, _a, _ta ? _m : _k, _b, _tb ? _k : _n, 0f, _c, _n, Threads);

    private static float* Alloc(long count) => (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
}
