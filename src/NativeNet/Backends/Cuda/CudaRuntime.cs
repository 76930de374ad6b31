using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

/// <summary>One CUDA device as the driver reports it.</summary>
/// <param name="Ordinal">The device ordinal (0-based).</param>
/// <param name="Name">The device name, e.g. <c>NVIDIA H100 80GB HBM3</c>.</param>
/// <param name="ComputeCapabilityMajor">Compute capability, major part (9 for an H100).</param>
/// <param name="ComputeCapabilityMinor">Compute capability, minor part.</param>
/// <param name="TotalMemoryBytes">Total device memory in bytes.</param>
/// <param name="MultiprocessorCount">Number of streaming multiprocessors.</param>
public sealed record CudaDeviceInfo(
    int Ordinal,
    string Name,
    int ComputeCapabilityMajor,
    int ComputeCapabilityMinor,
    long TotalMemoryBytes,
    int MultiprocessorCount)
{
    /// <summary>The compute capability as one number, major*10 + minor (80 for sm_80).</summary>
    public int Architecture => ComputeCapabilityMajor * 10 + ComputeCapabilityMinor;

    /// <inheritdoc />
    public override string ToString() =>
        $"cuda:{Ordinal} {Name} (sm_{Architecture}, {TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {MultiprocessorCount} SMs)";
}

/// <summary>
/// Whether the CUDA backend can run in this process, and what the devices are. Probed once,
/// lazily, on first use: the driver (libcuda), a device, NVRTC, cuBLAS and cuDNN 9 must all be
/// present. Nothing here throws except <see cref="EnsureAvailable"/>.
/// </summary>
public static class CudaRuntime
{
    private sealed record State(
        bool Available,
        string? Reason,
        int DriverVersion,
        IReadOnlyList<CudaDeviceInfo> Devices,
        string? NvrtcVersion,
        int CudnnVersion,
        bool Emulated = false);

    private static readonly Lazy<State> Probed = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when the driver, at least one device, NVRTC, cuBLAS and cuDNN 9 were all found. Never throws.</summary>
    public static bool IsAvailable => Probed.Value.Available;

    /// <summary>Why CUDA is unavailable (e.g. <c>no CUDA driver library (libcuda.so.1) found; tried: ...</c>), or null when available.</summary>
    public static string? UnavailableReason => Probed.Value.Reason;

    /// <summary>The number of CUDA devices (0 when there is no driver or no device).</summary>
    public static int DeviceCount => Probed.Value.Devices.Count;

    /// <summary>The devices found, in ordinal order; empty without a driver.</summary>
    public static IReadOnlyList<CudaDeviceInfo> Devices => Probed.Value.Devices;

    /// <summary>The driver's CUDA version as the driver reports it (e.g. 13000 for 13.0), or 0 without a driver.</summary>
    public static int DriverVersion => Probed.Value.DriverVersion;

    /// <summary>NVRTC's version ("major.minor"), or null when NVRTC was not found or not probed.</summary>
    public static string? NvrtcVersion => Probed.Value.NvrtcVersion;

    /// <summary>
    /// True when the driver library is NativeNet's emulated CUDA device (tests/CudaEmulator, test-only,
    /// picked up only through <c>NATIVENET_CUDA_LIB_DIR</c>), which exports <c>nnemu_is_emulator</c>.
    /// </summary>
    public static bool IsEmulated => Probed.Value.Emulated;

    /// <summary>cuDNN's version number (e.g. 90100 for 9.1.0), or 0 when cuDNN was not found or not probed.</summary>
    public static int CudnnVersion => Probed.Value.CudnnVersion;

    /// <summary>Throws <see cref="CudaUnavailableException"/> with <see cref="UnavailableReason"/> unless CUDA is available.</summary>
    /// <exception cref="CudaUnavailableException">CUDA cannot be used here.</exception>
    public static void EnsureAvailable()
    {
        State s = Probed.Value;
        if (!s.Available)
            throw new CudaUnavailableException(s.Reason ?? "unknown reason");
    }

    private static State Probe()
    {
        try
        {
            return ProbeUnchecked();
        }
        catch (Exception e)
        {
            return new State(false, $"probing CUDA failed: {e.GetType().Name}: {e.Message}", 0, [], null, 0);
        }
    }

    private static State ProbeUnchecked()
    {
        if (!NativeLibraryResolver.TryLoad(NativeLibraryResolver.Cuda, out nint driver, out string driverError))
            return new State(false, $"no CUDA driver library ({NativeLibraryResolver.CandidateNames(NativeLibraryResolver.Cuda)[0]}) found; tried {driverError}", 0, [], null, 0);
        bool emulated = System.Runtime.InteropServices.NativeLibrary.TryGetExport(driver, "nnemu_is_emulator", out _);

        CuResult init = CudaDriver.cuInit(0);
        if (init == CuResult.ErrorNoDevice)
            return new State(false, "CUDA driver found but no device (cuInit: CUDA_ERROR_NO_DEVICE)", 0, [], null, 0);
        if (init != CuResult.Success)
            return new State(false, $"CUDA driver found but cuInit failed: {CudaDriver.ErrorName(init)}", 0, [], null, 0);

        CudaDriver.Check(CudaDriver.cuDriverGetVersion(out int driverVersion));
        CudaDriver.Check(CudaDriver.cuDeviceGetCount(out int count));
        if (count == 0)
            return new State(false, "CUDA driver found but no device", driverVersion, [], null, 0);

        var devices = new List<CudaDeviceInfo>(count);
        for (int i = 0; i < count; i++)
        {
            CudaDriver.Check(CudaDriver.cuDeviceGet(out int dev, i));
            CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int major, CuDeviceAttribute.ComputeCapabilityMajor, dev));
            CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int minor, CuDeviceAttribute.ComputeCapabilityMinor, dev));
            CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int sms, CuDeviceAttribute.MultiprocessorCount, dev));
            CudaDriver.Check(CudaDriver.cuDeviceTotalMem_v2(out nuint bytes, dev));
            devices.Add(new CudaDeviceInfo(i, CudaDriver.DeviceName(dev), major, minor, (long)bytes, sms));
        }

        if (!NativeLibraryResolver.TryLoad(NativeLibraryResolver.Nvrtc, out _, out string nvrtcError))
            return new State(false, $"NVRTC not found; tried {nvrtcError}", driverVersion, devices, null, 0);
        Nvrtc.Check(Nvrtc.nvrtcVersion(out int nvMajor, out int nvMinor));
        string nvrtcVersion = $"{nvMajor}.{nvMinor}";

        if (!NativeLibraryResolver.TryLoad(NativeLibraryResolver.Cublas, out _, out string cublasError))
            return new State(false, $"cuBLAS not found; tried {cublasError}", driverVersion, devices, nvrtcVersion, 0);

        if (!NativeLibraryResolver.TryLoad(NativeLibraryResolver.Cudnn, out _, out string cudnnError))
            return new State(false, $"cuDNN 9 not found; tried {cudnnError}", driverVersion, devices, nvrtcVersion, 0);
        int cudnnVersion = (int)Cudnn.cudnnGetVersion();
        if (cudnnVersion / 10000 != 9)
            return new State(false, $"cuDNN 9 required, found version {cudnnVersion}", driverVersion, devices, nvrtcVersion, cudnnVersion);

        return new State(true, null, driverVersion, devices, nvrtcVersion, cudnnVersion, emulated);
    }
}
