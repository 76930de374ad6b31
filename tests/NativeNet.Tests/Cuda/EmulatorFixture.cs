using NativeNet.Backends.Cuda;
using NativeNet.Interop;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>
/// Shared set-up of the fixtures that test the emulated device's libraries through the engine's bindings: the
/// primary context, a cuBLAS and a cuDNN handle, device allocations freed after each test. Ignored unless the
/// loaded CUDA driver is the emulator (CudaRuntime.IsEmulated: its device name says "emulated"); they fail
/// instead where the emulator was expected (CudaTestDevice).
/// </summary>
[Category("Emulator")]
[Category("Cuda")]
[NonParallelizable]
public abstract unsafe class EmulatorFixture
{
    private nint _context;
    private readonly List<ulong> _allocations = [];

    protected nint CublasHandle { get; private set; }
    protected nint CudnnHandle { get; private set; }

    [OneTimeSetUp]
    public void OpenEmulator()
    {
        CudaTestDevice.RequireEmulator();
        string name = CudaRuntime.Devices[0].Name;
        TestContext.Progress.WriteLine($"{GetType().Name} on the emulated device: {name}");
        CudaDriver.Check(CudaDriver.cuInit(0));
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out _context, 0));
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context));
        Cublas.Check(Cublas.cublasCreate_v2(out nint cublas));
        CublasHandle = cublas;
        Cudnn.Check(Cudnn.cudnnCreate(out nint cudnn));
        CudnnHandle = cudnn;
    }

    [SetUp]
    public void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context));

    [TearDown]
    public void FreeAllocations()
    {
        foreach (ulong p in _allocations) CudaDriver.Check(CudaDriver.cuMemFree_v2(p));
        _allocations.Clear();
    }

    [OneTimeTearDown]
    public void CloseEmulator()
    {
        if (CudnnHandle != 0) Cudnn.Check(Cudnn.cudnnDestroy(CudnnHandle));
        if (CublasHandle != 0) Cublas.Check(Cublas.cublasDestroy_v2(CublasHandle));
        if (_context != 0) CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRelease_v2(0));
    }

    /// <summary>The most recent allocation of this test.</summary>
    protected ulong LastAllocation => _allocations[^1];

    protected ulong Upload<T>(T[] values) where T : unmanaged => Upload(values, values.Length);

    /// <summary>A device allocation of <paramref name="elements"/> elements holding <paramref name="values"/> (a prefix when shorter).</summary>
    protected ulong Upload<T>(T[] values, int elements) where T : unmanaged
    {
        CudaDriver.Check(CudaDriver.cuMemAlloc_v2(out ulong p, (nuint)(elements * sizeof(T))));
        _allocations.Add(p);
        fixed (T* src = values)
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(p, src, (nuint)(Math.Min(values.Length, elements) * sizeof(T)), 0));
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(0));
        return p;
    }

    protected static T[] Download<T>(ulong p, int elements) where T : unmanaged
    {
        var result = new T[elements];
        fixed (T* dst = result)
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(dst, p, (nuint)(elements * sizeof(T)), 0));
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(0));
        return result;
    }

    protected static double[] RandomArray(int seed, int n)
    {
        var random = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = Math.Round(random.NextDouble() * 4 - 2, 3);
        return a;
    }

    protected static void AreClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(tolerance + tolerance * Math.Abs(expected[i])), $"{what}: element {i}");
    }
}
