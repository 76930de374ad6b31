using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeNet.Backends.Cuda;

namespace NativeNet.Interop;

/// <summary>CUresult values the engine branches on; any other value is reported by name.</summary>
internal enum CuResult
{
    Success = 0,
    ErrorInvalidValue = 1,
    ErrorOutOfMemory = 2,
    ErrorNotInitialized = 3,
    ErrorDeinitialized = 4,
    ErrorNoDevice = 100,
    ErrorInvalidDevice = 101,
    ErrorInvalidImage = 200,
    ErrorNoBinaryForGpu = 209,
    ErrorUnsupportedPtxVersion = 222,
    ErrorNotFound = 500,
    ErrorNotReady = 600,
}

/// <summary>CUdevice_attribute values used by the engine.</summary>
internal enum CuDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    MultiprocessorCount = 16,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
}

/// <summary>
/// Bindings to the CUDA driver API (libcuda.so.1 / nvcuda.dll). Handles are opaque pointers
/// (<see cref="nint"/>), device addresses are <see cref="ulong"/> (CUdeviceptr), devices are ordinals.
/// </summary>
// SAFETY: the pointer-typed signatures mirror cuda.h exactly; callers pass pinned or native memory
// of the sizes the driver documents, and device addresses are never dereferenced on the host.
internal static partial class CudaDriver
{
    private const string Lib = NativeLibraryResolver.Cuda;

    /// <summary>cuStreamCreate flag: the stream does not synchronize with the legacy default stream.</summary>
    public const uint StreamNonBlocking = 1;

    /// <summary>cuEventCreate flag: default (timing enabled).</summary>
    public const uint EventDefault = 0;

    static CudaDriver() => NativeLibraryResolver.EnsureRegistered();

    [LibraryImport(Lib)] internal static partial CuResult cuInit(uint flags);
    [LibraryImport(Lib)] internal static partial CuResult cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] internal static partial CuResult cuGetErrorName(CuResult error, out nint name);
    [LibraryImport(Lib)] internal static partial CuResult cuGetErrorString(CuResult error, out nint text);

    [LibraryImport(Lib)] internal static partial CuResult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] internal static partial CuResult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] internal static unsafe partial CuResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] internal static partial CuResult cuDeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device);
    [LibraryImport(Lib)] internal static partial CuResult cuDeviceTotalMem_v2(out nuint bytes, int device);

    [LibraryImport(Lib)] internal static partial CuResult cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(Lib)] internal static partial CuResult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] internal static partial CuResult cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] internal static partial CuResult cuCtxSynchronize();

    [LibraryImport(Lib)] internal static partial CuResult cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(Lib)] internal static partial CuResult cuStreamDestroy_v2(nint stream);
    [LibraryImport(Lib)] internal static partial CuResult cuStreamSynchronize(nint stream);

    [LibraryImport(Lib)] internal static partial CuResult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(Lib)] internal static partial CuResult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib)] internal static partial CuResult cuEventSynchronize(nint evt);
    [LibraryImport(Lib)] internal static partial CuResult cuEventElapsedTime(out float milliseconds, nint start, nint end);
    [LibraryImport(Lib)] internal static partial CuResult cuEventDestroy_v2(nint evt);

    [LibraryImport(Lib)] internal static partial CuResult cuMemAlloc_v2(out ulong devicePtr, nuint bytes);
    [LibraryImport(Lib)] internal static partial CuResult cuMemFree_v2(ulong devicePtr);
    [LibraryImport(Lib)] internal static partial CuResult cuMemAllocHost_v2(out nint hostPtr, nuint bytes);
    [LibraryImport(Lib)] internal static partial CuResult cuMemFreeHost(nint hostPtr);
    [LibraryImport(Lib)] internal static unsafe partial CuResult cuMemcpyHtoDAsync_v2(ulong dst, void* src, nuint bytes, nint stream);
    [LibraryImport(Lib)] internal static unsafe partial CuResult cuMemcpyDtoHAsync_v2(void* dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(Lib)] internal static partial CuResult cuMemcpyDtoDAsync_v2(ulong dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(Lib)] internal static partial CuResult cuMemsetD32Async(ulong dst, uint value, nuint count, nint stream);

    [LibraryImport(Lib)] internal static unsafe partial CuResult cuModuleLoadData(out nint module, void* image);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial CuResult cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(Lib)] internal static partial CuResult cuModuleUnload(nint module);

    [LibraryImport(Lib)]
    internal static unsafe partial CuResult cuLaunchKernel(
        nint function,
        uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream,
        void** kernelParams, void** extra);

    /// <summary>Throws <see cref="CudaException"/> naming the call and the CUresult name unless <paramref name="result"/> is success.</summary>
    /// <param name="result">The status a driver call returned.</param>
    /// <param name="call">Filled in by the compiler with the call expression.</param>
    public static void Check(CuResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CuResult.Success)
            throw new CudaException(NativeLibraryResolver.Cuda, FunctionName(call), (int)result, ErrorName(result), ErrorString(result));
    }

    /// <summary>
    /// The driver's description of a CUresult (cuGetErrorString), or null. Read right after the failing
    /// call, on its thread: the emulated device returns its detailed message for the call that failed.
    /// </summary>
    /// <param name="result">The status.</param>
    /// <returns>e.g. <c>out of memory</c>.</returns>
    public static string? ErrorString(CuResult result)
    {
        try
        {
            if (cuGetErrorString(result, out nint text) == CuResult.Success && text != 0)
                return Marshal.PtrToStringUTF8(text);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return null;
    }

    /// <summary>The driver's name for a CUresult (cuGetErrorName), or a numeric fallback.</summary>
    /// <param name="result">The status.</param>
    /// <returns>e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</returns>
    public static string ErrorName(CuResult result)
    {
        try
        {
            if (cuGetErrorName(result, out nint name) == CuResult.Success && name != 0)
                return Marshal.PtrToStringUTF8(name) ?? $"CUDA_ERROR_{(int)result}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return $"CUDA_ERROR_{(int)result}";
    }

    /// <summary>The device's name (cuDeviceGetName).</summary>
    /// <param name="device">A device from cuDeviceGet.</param>
    /// <returns>e.g. <c>NVIDIA H100 80GB HBM3</c>.</returns>
    public static string DeviceName(int device)
    {
        Span<byte> buffer = stackalloc byte[256];
        // SAFETY: the buffer is a live stack allocation of the length passed; the driver writes at
        // most that many bytes, NUL-terminated.
        unsafe
        {
            fixed (byte* p = buffer)
                Check(cuDeviceGetName(p, buffer.Length, device));
        }
        int end = buffer.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]);
    }

    /// <summary>Reduces a call expression such as <c>cuMemAlloc_v2(out p, n)</c> to its function name.</summary>
    /// <param name="call">The call expression.</param>
    /// <returns>The text before the first parenthesis, without a class qualifier.</returns>
    internal static string FunctionName(string call)
    {
        int paren = call.IndexOf('(');
        string head = paren >= 0 ? call[..paren] : call;
        int dot = head.LastIndexOf('.');
        return (dot >= 0 ? head[(dot + 1)..] : head).Trim();
    }
}
