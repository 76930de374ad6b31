namespace NativeNet.Backends.Cuda;

/// <summary>
/// A call into a CUDA library (driver API, NVRTC, cuBLAS or cuDNN) returned a failure status.
/// </summary>
public class CudaException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="library">The library's logical name, e.g. <c>cuda</c>, <c>nvrtc</c>, <c>cublas</c>, <c>cudnn</c>.</param>
    /// <param name="function">The native function that failed, e.g. <c>cuMemAlloc_v2</c>.</param>
    /// <param name="status">The numeric status code the function returned.</param>
    /// <param name="statusName">The status name, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</param>
    /// <param name="detail">The library's description of the failure (e.g. cuGetErrorString), appended when given.</param>
    public CudaException(string library, string function, int status, string statusName, string? detail = null)
        : base($"{function} failed: {statusName} ({status}) [{library}]{(string.IsNullOrEmpty(detail) ? "" : ": " + detail)}")
    {
        Library = library;
        Function = function;
        Status = status;
        StatusName = statusName;
    }

    /// <summary>Creates an exception with a free-form message (no status code).</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public CudaException(string message, Exception? inner = null)
        : base(message, inner)
    {
        Library = "";
        Function = "";
        StatusName = "";
    }

    /// <summary>The library's logical name (<c>cuda</c>, <c>nvrtc</c>, <c>cublas</c>, <c>cudnn</c>), or empty.</summary>
    public string Library { get; }

    /// <summary>The native function that failed, or empty.</summary>
    public string Function { get; }

    /// <summary>The numeric status code returned by the function (0 when not applicable).</summary>
    public int Status { get; }

    /// <summary>The library's name for <see cref="Status"/>, e.g. <c>CUBLAS_STATUS_NOT_INITIALIZED</c>.</summary>
    public string StatusName { get; }
}

/// <summary>
/// CUDA cannot be used in this process: no driver, no device, or a required library
/// (NVRTC, cuBLAS, cuDNN 9) is missing. The message says which; see <see cref="CudaRuntime.UnavailableReason"/>.
/// </summary>
public sealed class CudaUnavailableException : Exception
{
    /// <summary>Creates the exception with the reason CUDA is unavailable.</summary>
    /// <param name="reason">Why CUDA cannot be used.</param>
    public CudaUnavailableException(string reason)
        : base("CUDA is not available: " + reason)
    {
        Reason = reason;
    }

    /// <summary>Why CUDA cannot be used.</summary>
    public string Reason { get; }
}

/// <summary>NVRTC rejected a kernel source file. The message holds the file name and NVRTC's log.</summary>
public sealed class KernelCompileException : Exception
{
    /// <summary>Creates the exception for a failed compilation.</summary>
    /// <param name="fileName">The kernel source file, e.g. <c>elementwise.cu</c>.</param>
    /// <param name="options">The NVRTC options used.</param>
    /// <param name="log">NVRTC's compilation log.</param>
    public KernelCompileException(string fileName, IReadOnlyList<string> options, string log)
        : base($"NVRTC failed to compile kernel file '{fileName}' (options: {string.Join(' ', options)}):{Environment.NewLine}{log}")
    {
        FileName = fileName;
        Log = log;
    }

    /// <summary>The kernel source file that failed to compile.</summary>
    public string FileName { get; }

    /// <summary>NVRTC's compilation log.</summary>
    public string Log { get; }
}
