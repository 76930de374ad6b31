namespace NativeNet;

/// <summary>Kind of memory a tensor lives in.</summary>
public enum DeviceKind
{
    /// <summary>Host memory, computed by the current CPU backend (Naive or Simd).</summary>
    Cpu,
    /// <summary>An NVIDIA GPU, computed by the Cuda backend.</summary>
    Cuda,
}

/// <summary>Where a tensor's storage lives: the CPU or one CUDA device.</summary>
public readonly record struct Device(DeviceKind Kind, int Index)
{
    /// <summary>Host memory.</summary>
    public static Device Cpu => new(DeviceKind.Cpu, 0);

    /// <summary>CUDA device <paramref name="index"/>; throws <c>CudaUnavailableException</c> where no usable CUDA device exists.</summary>
    public static Device Cuda(int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        Backends.Backend.EnsureCudaDevice(index);
        return new Device(DeviceKind.Cuda, index);
    }

    /// <inheritdoc/>
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Index}";
}
