using NativeNet.Backends.Cuda;
using NUnit.Framework;

namespace NativeNet.Tests;

/// <summary>
/// Where the Cuda tests run: a real GPU, the emulated device (tests/CudaEmulator, chosen by the Test
/// target through NATIVENET_CUDA_LIB_DIR, which also sets NATIVENET_CUDA_EMULATED=1), or nowhere.
/// </summary>
public static class CudaTestDevice
{
    /// <summary>Set by the Test target when the Cuda tests must run on the emulated device.</summary>
    public const string EmulatedVariable = "NATIVENET_CUDA_EMULATED";

    /// <summary>True when the run expects the emulated device, so a missing Cuda backend is a failure.</summary>
    public static bool EmulatorExpected => Environment.GetEnvironmentVariable(EmulatedVariable) == "1";

    /// <summary>
    /// Ignores the test with the reason when no CUDA device is usable, except where the emulated
    /// device was expected: then it fails, so the Cuda tests can never skip silently in CI.
    /// </summary>
    /// <param name="reason">Why CUDA is unusable, when the caller already knows.</param>
    public static void Unavailable(string reason)
    {
        if (EmulatorExpected) Assert.Fail($"{EmulatedVariable}=1 but the emulated CUDA device is unusable: {reason}");
        Assert.Ignore(reason);
    }

    /// <summary>Calls <see cref="Unavailable"/> unless the Cuda backend can run here.</summary>
    public static void Require()
    {
        if (!CudaRuntime.IsAvailable) Unavailable("no CUDA device: " + CudaRuntime.UnavailableReason);
        if (EmulatorExpected && !CudaRuntime.IsEmulated) Assert.Fail($"{EmulatedVariable}=1 but the loaded CUDA driver is not the emulator");
    }

    /// <summary>
    /// <see cref="Require"/>, and ignores the test with the reason unless the loaded CUDA driver is the emulator:
    /// for the tests of the emulator itself, which a real GPU would pass or fail for other reasons.
    /// </summary>
    public static void RequireEmulator()
    {
        Require();
        if (!CudaRuntime.IsEmulated)
            Assert.Ignore($"device 0 is {CudaRuntime.Devices[0].Name}, not the emulated device (run with NATIVENET_CUDA_LIB_DIR=artifacts/cuda-emulator): these tests check the emulator itself");
    }
}
