using NativeNet.Backends.Cuda;
using NativeNet.Interop;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>CudaRuntime's probe and the interop status checks; pass with and without a GPU.</summary>
[TestFixture]
[Category("Kernels")]
[Category("Cuda")]
public sealed class CudaRuntimeTests
{
    [Test]
    public void IsAvailableAgreesWithEnsureAvailable()
    {
        bool available = false;
        Assert.DoesNotThrow(() => available = CudaRuntime.IsAvailable);
        if (available)
        {
            Assert.DoesNotThrow(CudaRuntime.EnsureAvailable);
            Assert.That(CudaRuntime.UnavailableReason, Is.Null);
            Assert.That(CudaRuntime.DeviceCount, Is.GreaterThan(0));
            Assert.That(CudaRuntime.Devices[0].ComputeCapabilityMajor, Is.GreaterThanOrEqualTo(3));
            Assert.That(CudaRuntime.Devices[0].TotalMemoryBytes, Is.GreaterThan(0));
            TestContext.Out.WriteLine($"CUDA available: {string.Join("; ", CudaRuntime.Devices)}, driver {CudaRuntime.DriverVersion}, NVRTC {CudaRuntime.NvrtcVersion}, cuDNN {CudaRuntime.CudnnVersion}");
        }
        else
        {
            Assert.That(CudaRuntime.UnavailableReason, Is.Not.Null.And.Not.Empty);
            var e = Assert.Throws<CudaUnavailableException>(CudaRuntime.EnsureAvailable);
            Assert.That(e!.Reason, Is.EqualTo(CudaRuntime.UnavailableReason));
            Assert.That(e.Message, Does.Contain(CudaRuntime.UnavailableReason!));
            TestContext.Out.WriteLine($"CUDA unavailable: {CudaRuntime.UnavailableReason}");
        }
    }

    [Test]
    public void WithoutDriverTheReasonNamesLibcudaAndWhereItLooked()
    {
        if (OperatingSystem.IsWindows())
            Assert.Ignore("the reason names nvcuda.dll on Windows");
        if (NativeLibraryResolver.TryLoad(NativeLibraryResolver.Cuda, out _, out _))
            Assert.Ignore("a CUDA driver library is present on this machine");

        Assert.That(CudaRuntime.IsAvailable, Is.False);
        Assert.That(CudaRuntime.DeviceCount, Is.Zero);
        Assert.That(CudaRuntime.UnavailableReason, Does.Contain("libcuda.so.1"));
        Assert.That(CudaRuntime.UnavailableReason, Does.Contain("default loader path"));
        Assert.That(CudaRuntime.UnavailableReason, Does.Contain(NativeLibraryResolver.LibDirVariable));
    }

    [Test]
    public void CallingAMissingLibraryThrowsInsteadOfCrashing()
    {
        if (NativeLibraryResolver.TryLoad(NativeLibraryResolver.Cuda, out _, out _))
            Assert.Ignore("a CUDA driver library is present on this machine");
        var e = Assert.Throws<DllNotFoundException>(() => CudaDriver.cuDriverGetVersion(out _));
        Assert.That(e!.Message, Does.Contain("libcuda.so.1").Or.Contain("nvcuda.dll"));
    }

    // Stands in for a failing cuBLAS call so the check can be tested without the library.
    private static CublasStatus cublasSgemm_v2_Stub(CublasStatus status) => status;

    [Test]
    public void StatusChecksNameTheCallAndTheStatus()
    {
        var e = Assert.Throws<CudaException>(() => Cublas.Check(cublasSgemm_v2_Stub(CublasStatus.InvalidValue)));
        Assert.That(e!.Function, Is.EqualTo("cublasSgemm_v2_Stub"));
        Assert.That(e.StatusName, Is.EqualTo("CUBLAS_STATUS_INVALID_VALUE"));
        Assert.That(e.Message, Does.Contain("cublasSgemm_v2_Stub").And.Contain("CUBLAS_STATUS_INVALID_VALUE"));

        Assert.That(CudaDriver.FunctionName("CudaDriver.cuMemAlloc_v2(out ptr, bytes)"), Is.EqualTo("cuMemAlloc_v2"));
        Assert.DoesNotThrow(() => Cublas.Check(CublasStatus.Success));
    }

    [Test]
    public void NvrtcStatusNamesComeFromNvrtc()
    {
        if (!KernelCompiler.IsNvrtcAvailable)
            Assert.Ignore($"NVRTC is not available: {KernelCompiler.NvrtcUnavailableReason}");
        var e = Assert.Throws<CudaException>(() => Nvrtc.Check(NvrtcResult.Compilation, "nvrtcCompileProgram(prog, n, opts)"));
        Assert.That(e!.StatusName, Is.EqualTo("NVRTC_ERROR_COMPILATION"));
        Assert.That(e.Function, Is.EqualTo("nvrtcCompileProgram"));
        Assert.That(e.Library, Is.EqualTo("nvrtc"));
    }
}
