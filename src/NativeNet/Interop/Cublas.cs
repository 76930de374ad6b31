using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeNet.Backends.Cuda;

namespace NativeNet.Interop;

/// <summary>cublasStatus_t.</summary>
internal enum CublasStatus
{
    Success = 0,
    NotInitialized = 1,
    AllocFailed = 3,
    InvalidValue = 7,
    ArchMismatch = 8,
    MappingError = 11,
    ExecutionFailed = 13,
    InternalError = 14,
    NotSupported = 15,
    LicenseError = 16,
}

/// <summary>cublasOperation_t.</summary>
internal enum CublasOperation
{
    N = 0,
    T = 1,
    C = 2,
}

/// <summary>cublasMath_t. <see cref="Tf32TensorOp"/> lets FP32 GEMMs use TF32 tensor cores (opt-in: it lowers precision).</summary>
internal enum CublasMath
{
    Default = 0,
    Pedantic = 2,
    Tf32TensorOp = 3,
    DisallowReducedPrecisionReduction = 16,
}

/// <summary>
/// Bindings to cuBLAS (libcublas.so.13/12/11, cublas64_*.dll). cuBLAS is column-major: a row-major
/// C = A·B is computed as Cᵀ = Bᵀ·Aᵀ by swapping the operands. Scalars alpha/beta are host
/// pointers (the default pointer mode); matrices are device addresses.
/// </summary>
// SAFETY: the pointer-typed signatures mirror cublas_api.h; alpha/beta point to live host scalars and
// matrix arguments are device addresses of the documented extents.
internal static partial class Cublas
{
    private const string Lib = NativeLibraryResolver.Cublas;

    static Cublas() => NativeLibraryResolver.EnsureRegistered();

    [LibraryImport(Lib)] internal static partial CublasStatus cublasCreate_v2(out nint handle);
    [LibraryImport(Lib)] internal static partial CublasStatus cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] internal static partial CublasStatus cublasGetVersion_v2(nint handle, out int version);
    [LibraryImport(Lib)] internal static partial CublasStatus cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib)] internal static partial CublasStatus cublasSetMathMode(nint handle, CublasMath mode);

    [LibraryImport(Lib)]
    internal static unsafe partial CublasStatus cublasSgemm_v2(
        nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float* alpha, nint a, int lda, nint b, int ldb, float* beta, nint c, int ldc);

    [LibraryImport(Lib)]
    internal static unsafe partial CublasStatus cublasDgemm_v2(
        nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        double* alpha, nint a, int lda, nint b, int ldb, double* beta, nint c, int ldc);

    [LibraryImport(Lib)]
    internal static unsafe partial CublasStatus cublasSgemmStridedBatched(
        nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float* alpha, nint a, int lda, long strideA, nint b, int ldb, long strideB,
        float* beta, nint c, int ldc, long strideC, int batchCount);

    [LibraryImport(Lib)]
    internal static unsafe partial CublasStatus cublasDgemmStridedBatched(
        nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        double* alpha, nint a, int lda, long strideA, nint b, int ldb, long strideB,
        double* beta, nint c, int ldc, long strideC, int batchCount);

    // cuBLAS >= 11.4 (and the emulated cuBLAS, which adds the failing call's diagnosis); older libraries lack it.
    [LibraryImport(Lib)] internal static partial nint cublasGetStatusString(CublasStatus status);

    /// <summary>
    /// Throws <see cref="CudaException"/> naming the call, the cublasStatus_t name and, where the library exports
    /// cublasGetStatusString, its message, unless success.
    /// </summary>
    /// <param name="status">The status a cuBLAS call returned.</param>
    /// <param name="call">Filled in by the compiler with the call expression.</param>
    public static void Check(CublasStatus status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CublasStatus.Success)
            throw new CudaException(NativeLibraryResolver.Cublas, CudaDriver.FunctionName(call), (int)status, StatusName(status), StatusDetail(status));
    }

    /// <summary>
    /// cublasGetStatusString's text for <paramref name="status"/> without a leading <c>NAME: </c>, or null where the library
    /// does not export the function or its text is only the status name.
    /// </summary>
    /// <param name="status">The status.</param>
    /// <returns>The detail, or null.</returns>
    public static string? StatusDetail(CublasStatus status)
    {
        string name = StatusName(status);
        string? text = null;
        try
        {
            nint s = cublasGetStatusString(status);
            if (s != 0) text = Marshal.PtrToStringUTF8(s);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        if (text is null) return null;
        if (text.StartsWith(name + ":", StringComparison.Ordinal)) text = text[(name.Length + 1)..].TrimStart();
        return string.IsNullOrWhiteSpace(text) || text == name ? null : text;
    }

    /// <summary>The cublasStatus_t enumerator name, e.g. <c>CUBLAS_STATUS_INVALID_VALUE</c>.</summary>
    /// <param name="status">The status.</param>
    /// <returns>The name as in cublas_api.h.</returns>
    public static string StatusName(CublasStatus status) => status switch
    {
        CublasStatus.Success => "CUBLAS_STATUS_SUCCESS",
        CublasStatus.NotInitialized => "CUBLAS_STATUS_NOT_INITIALIZED",
        CublasStatus.AllocFailed => "CUBLAS_STATUS_ALLOC_FAILED",
        CublasStatus.InvalidValue => "CUBLAS_STATUS_INVALID_VALUE",
        CublasStatus.ArchMismatch => "CUBLAS_STATUS_ARCH_MISMATCH",
        CublasStatus.MappingError => "CUBLAS_STATUS_MAPPING_ERROR",
        CublasStatus.ExecutionFailed => "CUBLAS_STATUS_EXECUTION_FAILED",
        CublasStatus.InternalError => "CUBLAS_STATUS_INTERNAL_ERROR",
        CublasStatus.NotSupported => "CUBLAS_STATUS_NOT_SUPPORTED",
        CublasStatus.LicenseError => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"CUBLAS_STATUS_{(int)status}",
    };
}
