using NativeNet.Autodiff;
using BenchmarkDotNet.Attributes;

namespace NativeNet.Bench;

/// <summary>
/// 3x3 stride-1 padding-1 convolution through the differentiable API (<see cref="Ops.Conv2d"/>), the two shapes of
/// the CNN and shared/anchors/RESULTS.md: forward (no tape), and forward + backward giving dW, db and dX, as
/// torch_micro.py's "fwd+bwd (dW,db,dX)" rows. Each call's temporaries are freed by a <see cref="TensorScope"/>.
/// </summary>
public class Conv2dBenchmarks
{
    private Device _device;
    private Tensor _x = null!, _w = null!, _b = null!, _dy = null!;

    /// <summary>Backends that can run here.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available();

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>"N=64 CI->CO HxW".</summary>
    [Params("N=64 1->32 28x28", "N=64 32->64 14x14")]
    public string Shape { get; set; } = "N=64 32->64 14x14";

    /// <summary>Seeded input, weights, bias and output gradient.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        string[] p = Shape.Split(' ');
        int n = int.Parse(p[0][2..]);
        int[] ch = Array.ConvertAll(p[1].Split("->"), int.Parse);
        int h = int.Parse(p[2].Split('x')[0]);
        var g = new Generator(4);
        _x = Tensor.Normal([n, ch[0], h, h], 0, 1, g, device: _device).RequireGrad();
        _w = Tensor.Normal([ch[1], ch[0], 3, 3], 0, 0.1, g, device: _device).RequireGrad();
        _b = Tensor.Normal([ch[1]], 0, 0.1, g, device: _device).RequireGrad();
        _dy = Tensor.Normal([n, ch[1], h, h], 0, 1, g, device: _device);
    }

    /// <summary>y = conv(x, w) + b without recording.</summary>
    [Benchmark]
    public void Forward()
    {
        using var scope = new TensorScope();
        using (GradMode.Disable()) Ops.Conv2d(_x, _w, _b, 1, 1, floor: true);
        BenchBackends.Sync(_device);
    }

    /// <summary>Forward, then backward from a fixed dy: dW, db, dX.</summary>
    [Benchmark]
    public void ForwardBackward()
    {
        ClearGrads();
        using var scope = new TensorScope();
        Ops.Conv2d(_x, _w, _b, 1, 1, floor: true).Backward(_dy);
        BenchBackends.Sync(_device);
    }

    private void ClearGrads()
    {
        foreach (var t in new[] { _x, _w, _b })
        {
            t.Grad?.Dispose();
            t.Grad = null;
        }
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        ClearGrads();
        _x.Dispose();
        _w.Dispose();
        _b.Dispose();
        _dy.Dispose();
    }
}
