using NativeNet.Backends;
using NUnit.Framework;

namespace NativeNet.Tests;

/// <summary>
/// Base of fixtures written once and run on every backend: NUnit instantiates the fixture per backend name;
/// CPU backends are switched with Backend.Use, Cuda moves inputs to the GPU and is ignored with the reason where none exists.
/// </summary>
[TestFixtureSource(typeof(BackendTest), nameof(BackendNames))]
public abstract class BackendTest(string backendName)
{
    private IDisposable? _use;

    /// <summary>Every backend the engine knows; unavailable ones are ignored at set-up with the reason.</summary>
    public static IEnumerable<string> BackendNames => ["naive", "simd", "cuda"];

    protected string BackendName => backendName;
    protected Device Dev { get; private set; } = Device.Cpu;

    [SetUp]
    public void SelectBackend()
    {
        Backend backend;
        try { backend = Backend.FromName(backendName); }
        catch (Exception e)
        {
            if (backendName == "cuda") CudaTestDevice.Unavailable($"{backendName} backend unavailable: {e.Message}");
            Assert.Ignore($"{backendName} backend unavailable: {e.Message}");
            return;
        }
        if (backend.DeviceKind == DeviceKind.Cpu) { _use = Backend.Use(backend); Dev = Device.Cpu; }
        else Dev = Device.Cuda(0);
    }

    [TearDown]
    public void RestoreBackend() => _use?.Dispose();

    protected Tensor F32(float[] values, params int[] shape) => Tensor.FromArray(values, shape).To(Dev);
    protected Tensor F64(double[] values, params int[] shape) => Tensor.FromArray(values, shape).To(Dev);
    protected Tensor Labels(params int[] values) => Tensor.FromArray(values).To(Dev);
    protected Tensor Randn(int[] shape, int seed, DType dtype = DType.Float32) => Tensor.Normal(shape, 0, 1, new Generator(seed), dtype, Dev);
}

/// <summary>Numeric assertions shared by the tests.</summary>
public static class Approx
{
    public static void AreClose(double[] expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4)
    {
        var got = actual.ToArray<double>();
        Assert.That(got, Has.Length.EqualTo(expected.Length), $"element count of {actual.Describe()}");
        for (int i = 0; i < got.Length; i++)
        {
            if (double.IsNaN(expected[i])) { Assert.That(double.IsNaN(got[i]), $"element {i}: expected NaN, got {got[i]}"); continue; }
            if (double.IsInfinity(expected[i])) { Assert.That(got[i], Is.EqualTo(expected[i]), $"element {i}"); continue; }
            Assert.That(Math.Abs(got[i] - expected[i]), Is.LessThanOrEqualTo(atol + rtol * Math.Abs(expected[i])), $"element {i}: expected {expected[i]}, got {got[i]}");
        }
    }

    public static void AreClose(Tensor expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4)
    {
        Assert.That(actual.ShapeArray, Is.EqualTo(expected.ShapeArray), "shape");
        AreClose(expected.ToArray<double>(), actual, atol, rtol);
    }
}
