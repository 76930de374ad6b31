namespace NativeNet.Backends.Cuda;

/// <summary>One Cuda backend per device, created on first use.</summary>
internal static class CudaBackendRegistry
{
    private static readonly object Lock = new();
    private static CudaBackend?[]? s_backends;

    /// <summary>Throws <see cref="CudaUnavailableException"/> with the reason unless device <paramref name="index"/> can be used.</summary>
    public static void EnsureDevice(int index)
    {
        CudaRuntime.EnsureAvailable();
        int count = CudaRuntime.DeviceCount;
        if (index < 0 || index >= count)
            throw new CudaUnavailableException(
                $"device cuda:{index} does not exist; {count} device(s) found: {string.Join("; ", CudaRuntime.Devices)}");
    }

    /// <summary>The backend of device <paramref name="index"/>, created (context, stream, handles) on first use.</summary>
    public static CudaBackend Get(int index)
    {
        EnsureDevice(index);
        lock (Lock)
        {
            s_backends ??= new CudaBackend?[CudaRuntime.DeviceCount];
            return s_backends[index] ??= new CudaBackend(CudaRuntime.Devices[index]);
        }
    }
}
