using NativeNet.Autodiff;
using NativeNet.Nn;
using BenchmarkDotNet.Attributes;

namespace NativeNet.Bench;

/// <summary>
/// The anchor's nn.LSTM / nn.GRU case (shared/anchors/torch_micro.py, bench/scripts/torch_recurrent.py): T=50, batch 64,
/// 128→256, one layer, through the fused recurrent layer: forward without recording, and forward + backward from a fixed
/// upstream gradient of the output into the weights (the input needs no gradient). Same figures as
/// <c>nativenet bench lstm|gru</c>. The naive backend is left out: one forward+backward takes seconds there.
/// </summary>
public class RecurrentBenchmarks
{
    private Device _device;
    private RecurrentBase _net = null!;
    private Tensor[] _parameters = [];
    private Tensor _x = null!, _dy = null!;

    /// <summary>Backends that can run here, without the slow reference.</summary>
    public static IEnumerable<string> Backends => BenchBackends.Available().Where(b => b != "naive");

    /// <summary>Backend name.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "simd";

    /// <summary>Simd threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>"lstm" or "gru".</summary>
    [Params("lstm", "gru")]
    public string Cell { get; set; } = "lstm";

    /// <summary>Seeded module, input and output gradient.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = BenchBackends.Activate(Backend, Threads);
        var g = new Generator(0);
        _net = Cell == "lstm" ? new Lstm(128, 256, generator: g) : new Gru(128, 256, generator: g);
        _net.To(_device);
        _parameters = _net.Parameters().ToArray();
        _x = Tensor.Normal([50, 64, 128], 0, 1, g, device: _device);
        _dy = Tensor.Normal([50, 64, 256], 0, 1, g, device: _device);
    }

    /// <summary>The output sequence without recording.</summary>
    [Benchmark]
    public void Forward()
    {
        using var scope = new TensorScope();
        using (GradMode.Disable()) _net.Forward(_x);
        BenchBackends.Sync(_device);
    }

    /// <summary>Forward, then backward from a fixed dy into every weight and bias.</summary>
    [Benchmark]
    public void ForwardBackward()
    {
        foreach (var p in _parameters)
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
        using var scope = new TensorScope();
        _net.Forward(_x).Backward(_dy);
        BenchBackends.Sync(_device);
    }
}
