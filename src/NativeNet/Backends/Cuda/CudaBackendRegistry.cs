namespace NativeNet.Backends.Cuda;

/// <summary>One Cuda backend per device, created on first use.</summary>
internal static class CudaBackendRegistry
{
    public static void EnsureDevice(int index) =>
        throw new InvalidOperationException($"cuda:{index}: the Cuda backend is not part of this build yet");

    public static Backend Get(int index)
    {
        EnsureDevice(index);
        throw new InvalidOperationException("unreachable");
    }
}
