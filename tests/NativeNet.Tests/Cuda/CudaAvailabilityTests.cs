using NativeNet.Backends;
using NativeNet.Backends.Cuda;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>Selecting the Cuda backend: a clear CudaUnavailableException where CUDA is missing, never a crash.</summary>
[TestFixture]
[Category("Cuda")]
public sealed class CudaAvailabilityTests
{
    [Test]
    public void DeviceCudaThrowsWithTheReasonWhereCudaIsMissing()
    {
        if (CudaRuntime.IsAvailable) Assert.Ignore("CUDA is available here");
        var e = Assert.Throws<CudaUnavailableException>(() => Device.Cuda(0));
        Assert.That(e!.Reason, Does.Contain(CudaRuntime.UnavailableReason!));
        Assert.That(e.Message, Does.StartWith("CUDA is not available: "));
    }

    [Test]
    public void BackendFromNameCudaThrowsTheSameWay()
    {
        if (CudaRuntime.IsAvailable) Assert.Ignore("CUDA is available here");
        var e = Assert.Throws<CudaUnavailableException>(() => Backend.FromName("cuda"));
        Assert.That(e!.Reason, Is.EqualTo(CudaRuntime.UnavailableReason));
        Assert.Throws<CudaUnavailableException>(() => CudaBackend.Get(0));
    }

    [Test]
    public void MovingATensorToCudaThrowsAndLeavesTheHostTensorUsable()
    {
        if (CudaRuntime.IsAvailable) Assert.Ignore("CUDA is available here");
        using var t = Tensor.FromArray([1f, 2f, 3f], [3]);
        Assert.Throws<CudaUnavailableException>(() => t.To(Device.Cuda(0)));
        Assert.That(t.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f }));
    }

    [Test]
    public void ADeviceIndexPastTheLastIsUnavailableWithTheCount()
    {
        var e = Assert.Throws<CudaUnavailableException>(() => Device.Cuda(CudaRuntime.DeviceCount + 3));
        if (CudaRuntime.IsAvailable)
            Assert.That(e!.Reason, Does.Contain($"cuda:{CudaRuntime.DeviceCount + 3} does not exist").And.Contain($"{CudaRuntime.DeviceCount} device(s)"));
        else
            Assert.That(e!.Reason, Is.EqualTo(CudaRuntime.UnavailableReason));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.Cuda(-1));
    }

    [Test]
    public void Tf32IsOffByDefault() => Assert.That(CudaBackend.AllowTf32, Is.False);
}
