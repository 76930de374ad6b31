// Emulated cuBLAS (libcublas.so.12), test-only: the calls src/NativeNet/Interop/Cublas.cs binds, with
// cuBLAS's documented column-major semantics and argument checks, computed on the host by CBLAS
// (OpenBLAS). Device pointers are the emulated driver's host-backed allocations; every extent is
// checked against them (nnemu_check_device_range) before anything is read or written.
#include <cublas_v2.h>
#include <cuda.h>
#include <cblas.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "../include/nnemu.h"
#include "../include/nnemu_status.h"

struct cublasContext
{
    cudaStream_t stream = nullptr;
    cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace
{
std::mutex g_handlesLock;
std::set<cublasContext*> g_handles;

const char* StatusName(cublasStatus_t s)
{
    switch (s)
    {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

// The status and message of the calling thread's last failed call, for cublasGetStatusString.
using Log = nnemu::StatusLog<cublasStatus_t, CUBLAS_STATUS_SUCCESS, StatusName>;
constexpr auto Fail = Log::Fail;

cublasStatus_t FailRange(const char* call, const char* operand)
{
    return Log::FailRange(CUBLAS_STATUS_EXECUTION_FAILED, call, operand);
}

bool Live(cublasHandle_t handle)
{
    std::lock_guard<std::mutex> lock(g_handlesLock);
    return handle != nullptr && g_handles.count(handle) != 0;
}

const char* OpName(cublasOperation_t op)
{
    switch (op)
    {
    case CUBLAS_OP_N: return "N";
    case CUBLAS_OP_T: return "T";
    case CUBLAS_OP_C: return "C";
    default: return "invalid";
    }
}

bool ValidOp(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// Bytes spanned by a column-major rows×cols matrix with leading dimension ld (0 when empty).
size_t MatrixBytes(int rows, int cols, int ld, size_t element)
{
    if (rows == 0 || cols == 0) return 0;
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * element;
}

// Checks the span covering every batch's matrix: [base + min(0, last·stride), base + max(0, last·stride) + bytes).
bool CheckBatched(uint64_t base, size_t bytes, long long stride, int batch, size_t element, const char* call)
{
    if (bytes == 0 || batch == 0) return true;
    long long last = (long long)(batch - 1) * stride * (long long)element;
    uint64_t start = last < 0 ? base + (uint64_t)last : base;
    size_t span = bytes + (size_t)(last < 0 ? -last : last);
    return nnemu_check_device_range(start, span, call) == 0;
}

template <typename T> struct Blas;
template <> struct Blas<float>
{
    static void Gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
        const float* b, int ldb, float beta, float* c, int ldc)
    {
        cblas_sgemm(CblasColMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
};
template <> struct Blas<double>
{
    static void Gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
        const double* b, int ldb, double beta, double* c, int ldc)
    {
        cblas_dgemm(CblasColMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
};

// C = alpha·op(A)·op(B) + beta·C for each of batchCount matrices (the plain call is batchCount 1, strides 0).
template <typename T>
cublasStatus_t Gemm(const char* call, cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
    int m, int n, int k, const T* alpha, const T* A, int lda, long long strideA, const T* B, int ldb, long long strideB,
    const T* beta, T* C, int ldc, long long strideC, int batchCount)
{
    if (!Live(handle))
        return Fail(CUBLAS_STATUS_NOT_INITIALIZED, "%s: handle %p was not created by cublasCreate_v2 or was destroyed", call, (void*)handle);
    if (!ValidOp(transa))
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: transa = %d is not a cublasOperation_t", call, (int)transa);
    if (!ValidOp(transb))
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: transb = %d is not a cublasOperation_t", call, (int)transb);
    if (m < 0 || n < 0 || k < 0)
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: m = %d, n = %d, k = %d must not be negative", call, m, n, k);
    int rowsA = transa == CUBLAS_OP_N ? m : k, colsA = transa == CUBLAS_OP_N ? k : m;
    int rowsB = transb == CUBLAS_OP_N ? k : n, colsB = transb == CUBLAS_OP_N ? n : k;
    if (lda < (rowsA > 1 ? rowsA : 1))
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: lda = %d < max(1, %d), the rows of A as stored (transa = %s, m = %d, k = %d)",
            call, lda, rowsA, OpName(transa), m, k);
    if (ldb < (rowsB > 1 ? rowsB : 1))
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: ldb = %d < max(1, %d), the rows of B as stored (transb = %s, k = %d, n = %d)",
            call, ldb, rowsB, OpName(transb), k, n);
    if (ldc < (m > 1 ? m : 1))
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: ldc = %d < max(1, m = %d)", call, ldc, m);
    if (batchCount < 0)
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: batchCount = %d must not be negative", call, batchCount);
    if (alpha == nullptr || beta == nullptr)
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "%s: alpha (%p) and beta (%p) must point to host scalars", call, (const void*)alpha, (const void*)beta);
    if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS;

    T a = *alpha, b = *beta;
    bool readsInputs = k > 0 && a != T(0);
    size_t bytesA = MatrixBytes(rowsA, colsA, lda, sizeof(T));
    size_t bytesB = MatrixBytes(rowsB, colsB, ldb, sizeof(T));
    size_t bytesC = MatrixBytes(m, n, ldc, sizeof(T));
    if (readsInputs && !CheckBatched((uint64_t)A, bytesA, strideA, batchCount, sizeof(T), call))
        return FailRange(call, "A");
    if (readsInputs && !CheckBatched((uint64_t)B, bytesB, strideB, batchCount, sizeof(T), call))
        return FailRange(call, "B");
    if (!CheckBatched((uint64_t)C, bytesC, strideC, batchCount, sizeof(T), call))
        return FailRange(call, "C");

    // Work already queued on the handle's stream (kernels writing A, B or C) comes first.
    cuStreamSynchronize((CUstream)handle->stream);
    CBLAS_TRANSPOSE ta = transa == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
    CBLAS_TRANSPOSE tb = transb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
    for (int i = 0; i < batchCount; i++)
    {
        T* c = C + (long long)i * strideC;
        // cuBLAS does not read C when beta is 0, so NaN or garbage there must not survive.
        if (b == T(0))
            for (int col = 0; col < n; col++)
                std::memset(c + (size_t)col * ldc, 0, sizeof(T) * (size_t)m);
        if (readsInputs)
            Blas<T>::Gemm(ta, tb, m, n, k, a, A + (long long)i * strideA, lda, B + (long long)i * strideB, ldb, b, c, ldc);
        else if (b != T(0) && b != T(1))
            for (int col = 0; col < n; col++)
                for (int row = 0; row < m; row++)
                    c[(size_t)col * ldc + row] *= b;
    }
    return CUBLAS_STATUS_SUCCESS;
}
} // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle)
{
    if (handle == nullptr) return Fail(CUBLAS_STATUS_INVALID_VALUE, "cublasCreate_v2: handle is NULL");
    auto* context = new cublasContext();
    std::lock_guard<std::mutex> lock(g_handlesLock);
    g_handles.insert(context);
    *handle = context;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    {
        std::lock_guard<std::mutex> lock(g_handlesLock);
        if (handle != nullptr && g_handles.erase(handle) == 1)
        {
            delete handle;
            return CUBLAS_STATUS_SUCCESS;
        }
    }
    return Fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasDestroy_v2: handle %p is not live (never created or already destroyed)", (void*)handle);
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version)
{
    if (!Live(handle)) return Fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasGetVersion_v2: handle %p is not live", (void*)handle);
    if (version == nullptr) return Fail(CUBLAS_STATUS_INVALID_VALUE, "cublasGetVersion_v2: version is NULL");
    *version = 120000;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream)
{
    if (!Live(handle)) return Fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetStream_v2: handle %p is not live", (void*)handle);
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    if (!Live(handle)) return Fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetMathMode: handle %p is not live", (void*)handle);
    int base = (int)mode & ~(int)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH && base != CUBLAS_PEDANTIC_MATH && base != CUBLAS_TF32_TENSOR_OP_MATH)
        return Fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetMathMode: mode = %d is not a cublasMath_t", (int)mode);
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusString(cublasStatus_t status)
{
    return Log::Describe(status);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
    const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc)
{
    return Gemm<float>("cublasSgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
    const double* alpha, const double* A, int lda, const double* B, int ldb, const double* beta, double* C, int ldc)
{
    return Gemm<double>("cublasDgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
    int m, int n, int k, const float* alpha, const float* A, int lda, long long int strideA, const float* B, int ldb,
    long long int strideB, const float* beta, float* C, int ldc, long long int strideC, int batchCount)
{
    return Gemm<float>("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB,
        beta, C, ldc, strideC, batchCount);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
    int m, int n, int k, const double* alpha, const double* A, int lda, long long int strideA, const double* B, int ldb,
    long long int strideB, const double* beta, double* C, int ldc, long long int strideC, int batchCount)
{
    return Gemm<double>("cublasDgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB,
        beta, C, ldc, strideC, batchCount);
}

} // extern "C"
