using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

public sealed partial class CudaBackend
{
    private CublasMath _cublasMath = CublasMath.Default;

    /// <inheritdoc/>
    /// <remarks>
    /// cuBLAS is column-major: the row-major C (m×n, row stride ldc) is the column-major Cᵀ (n×m, ld ldc),
    /// and Cᵀ = op(B)ᵀ·op(A)ᵀ, where a stored row-major operand read column-major already is its transpose.
    /// So the call passes B first and A second, each with its own transpose flag, and m and n swapped.
    /// </remarks>
    public override void Gemm(DType dtype, int batch, int m, int n, int k, MatrixOperand a, MatrixOperand b,
        Storage c, int cOffset, int ldc, int cBatchStride, double beta)
    {
        FloatSfx("Gemm", dtype);
        if (a.Storage.DType != dtype || b.Storage.DType != dtype || c.DType != dtype)
            throw new DTypeMismatchException($"Gemm: operands {a.Storage.DType}, {b.Storage.DType}, {c.DType} differ from {dtype}");
        if (batch <= 0 || m == 0 || n == 0) return;
        if (k == 0)
        {
            ScaleMatrices(c, cOffset, batch, m, n, ldc, cBatchStride, beta);
            return;
        }
        // Stored shapes (row-major): A is m×k, or k×m when transposed; B is k×n, or n×k.
        int lda = LaunchShape.BlasLd("Gemm", a.Ld, a.Trans ? k : m, a.Trans ? m : k);
        int ldb = LaunchShape.BlasLd("Gemm", b.Ld, b.Trans ? n : k, b.Trans ? k : n);
        int ldcEff = LaunchShape.BlasLd("Gemm", ldc, m, n);
        var opB = b.Trans ? CublasOperation.T : CublasOperation.N;
        var opA = a.Trans ? CublasOperation.T : CublasOperation.N;
        nint pa = (nint)Ptr(a.Storage, a.Offset, "Gemm A"), pb = (nint)Ptr(b.Storage, b.Offset, "Gemm B"), pc = (nint)Ptr(c, cOffset, "Gemm C");
        lock (_sync)
        {
            MakeCurrent();
            CublasMath math = AllowTf32 && dtype == DType.Float32 ? CublasMath.Tf32TensorOp : CublasMath.Default;
            if (math != _cublasMath)
            {
                Cublas.Check(Cublas.cublasSetMathMode(_cublas, math));
                _cublasMath = math;
            }
            // SAFETY: alpha/beta are locals that outlive the synchronous cuBLAS calls (cuBLAS reads host scalars
            // before returning); the matrices are device addresses of storages checked to live on this device.
            unsafe
            {
                if (dtype == DType.Float32)
                {
                    float alpha = 1, betaF = (float)beta;
                    if (batch == 1)
                        Cublas.Check(Cublas.cublasSgemm_v2(_cublas, opB, opA, n, m, k, &alpha, pb, ldb, pa, lda, &betaF, pc, ldcEff));
                    else
                        Cublas.Check(Cublas.cublasSgemmStridedBatched(_cublas, opB, opA, n, m, k, &alpha, pb, ldb, b.BatchStride,
                            pa, lda, a.BatchStride, &betaF, pc, ldcEff, cBatchStride, batch));
                }
                else
                {
                    double alpha = 1, betaD = beta;
                    if (batch == 1)
                        Cublas.Check(Cublas.cublasDgemm_v2(_cublas, opB, opA, n, m, k, &alpha, pb, ldb, pa, lda, &betaD, pc, ldcEff));
                    else
                        Cublas.Check(Cublas.cublasDgemmStridedBatched(_cublas, opB, opA, n, m, k, &alpha, pb, ldb, b.BatchStride,
                            pa, lda, a.BatchStride, &betaD, pc, ldcEff, cBatchStride, batch));
                }
            }
        }
    }

    /// <summary>C = beta·C over the batch of m×n matrices (an empty inner dimension k), zero when beta is 0 even over NaN.</summary>
    private void ScaleMatrices(Storage c, int cOffset, int batch, int m, int n, int ldc, int cBatchStride, double beta)
    {
        using var view = new Tensor(c, [batch, m, n], [cBatchStride, ldc, 1], cOffset);
        if (beta == 0)
        {
            Fill(view, 0);
            return;
        }
        using var scaled = NewContiguous(c.DType, [batch, m, n]);
        Unary(UnaryOp.MulScalar, view, scaled, beta, 0);
        Copy(scaled, view);
    }
}
