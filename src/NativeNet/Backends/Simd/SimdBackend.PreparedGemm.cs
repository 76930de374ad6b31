namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    /// <inheritdoc/>
    /// <remarks>Packs op(B) once into the register-tile panels of <see cref="SimdGemmPrepacked"/>.</remarks>
    public override unsafe PreparedGemmB PrepareGemmB(DType dtype, int k, int n, MatrixOperand b)
    {
        CheckPrepared("PrepareGemmB", dtype, k, n, b.Storage.DType);
        switch (b.Storage)
        {
            case CpuStorage<float> f:
                // SAFETY: pinned for the packing; the caller's operand covers op(B) (k×n with leading dimension b.Ld).
                fixed (float* pb = f.Data)
                    return new SimdPreparedGemmB<float>(dtype, k, n, b, SimdGemmPrepacked.Pack(b.Trans, k, n, pb + b.Offset, b.Ld));
            case CpuStorage<double> d:
                // SAFETY: as above.
                fixed (double* pb = d.Data)
                    return new SimdPreparedGemmB<double>(dtype, k, n, b, SimdGemmPrepacked.Pack(b.Trans, k, n, pb + b.Offset, b.Ld));
            default:
                return base.PrepareGemmB(dtype, k, n, b);
        }
    }

    /// <inheritdoc/>
    public override unsafe void GemmPrepared(DType dtype, int m, MatrixOperand a, PreparedGemmB b, Storage c, int cOffset, int ldc, double beta)
    {
        CheckPrepared(dtype, b);
        if (b is not SimdPreparedGemmB || ReferenceEquals(a.Storage, c))
        {
            base.GemmPrepared(dtype, m, a, b, c, cOffset, ldc, beta); // C must lie apart from A, and only Simd-packed panels run here
            return;
        }
        switch (b, a.Storage, c)
        {
            case (SimdPreparedGemmB<float> f, CpuStorage<float> sa, CpuStorage<float> sc):
                // SAFETY: the arrays are pinned for the call; the caller's views of op(A) (m×k) and C (m×n, ldc) lie inside them.
                fixed (float* pa = sa.Data)
                fixed (float* pc = sc.Data)
                    SimdGemmPrepacked.Gemm(a.Trans, m, pa + a.Offset, a.Ld, f.Panels, (float)beta, pc + cOffset, ldc, Threads);
                break;
            case (SimdPreparedGemmB<double> d, CpuStorage<double> sa, CpuStorage<double> sc):
                // SAFETY: as above.
                fixed (double* pa = sa.Data)
                fixed (double* pc = sc.Data)
                    SimdGemmPrepacked.Gemm(a.Trans, m, pa + a.Offset, a.Ld, d.Panels, beta, pc + cOffset, ldc, Threads);
                break;
            default:
                throw new DTypeMismatchException($"GemmPrepared: operands A {a.Storage.DType} and C {c.DType} must be CPU {dtype}, as B");
        }
    }
}

/// <summary>The non-generic face of a Simd-packed operand.</summary>
internal abstract class SimdPreparedGemmB(DType dtype, int k, int n, MatrixOperand source) : PreparedGemmB(dtype, k, n, source);

/// <summary>A <see cref="PreparedGemmB"/> whose op(B) the Simd backend packed into its micro-kernel panels.</summary>
internal sealed class SimdPreparedGemmB<T>(DType dtype, int k, int n, MatrixOperand source, PackedB<T> panels)
    : SimdPreparedGemmB(dtype, k, n, source) where T : unmanaged
{
    /// <summary>The packed panels.</summary>
    public PackedB<T> Panels { get; } = panels;

    /// <inheritdoc/>
    protected override void Release() => Panels.Dispose();
}
