namespace NativeNet.Backends.Simd;

public sealed partial class SimdBackend
{
    /// <inheritdoc/>
    /// <remarks>Packs op(B) once into the register-tile panels of <see cref="SimdGemmPrepacked"/>.</remarks>
    public override PreparedGemmB PrepareGemmB(DType dtype, int k, MatrixOperand[] blocks, int[] widths)
    {
        CheckPrepared("PrepareGemmB", dtype, k, blocks, widths);
        if (blocks.Any(b => b.Storage is not (CpuStorage<float> or CpuStorage<double>))) return base.PrepareGemmB(dtype, k, blocks, widths);
        return dtype == DType.Float32
            ? new SimdPreparedGemmB<float>(dtype, k, blocks, widths, Pack<float>(k, blocks, widths))
            : new SimdPreparedGemmB<double>(dtype, k, blocks, widths, Pack<double>(k, blocks, widths));
    }

    // SAFETY: every block's array is pinned while it is packed; the caller's operands cover op(Bᵢ) (k×widths[i], leading dimension Ld).
    private static unsafe PackedB<T> Pack<T>(int k, MatrixOperand[] blocks, int[] widths) where T : unmanaged, System.Numerics.INumber<T>
    {
        var pins = new System.Buffers.MemoryHandle[blocks.Length];
        try
        {
            var columns = new ColumnBlock<T>[blocks.Length];
            for (int i = 0; i < blocks.Length; i++)
            {
                pins[i] = ((CpuStorage<T>)blocks[i].Storage).Data.AsMemory().Pin();
                columns[i] = new ColumnBlock<T>((T*)pins[i].Pointer + blocks[i].Offset, blocks[i].Ld, blocks[i].Trans, widths[i]);
            }
            return SimdGemmPrepacked.Pack<T>(k, columns);
        }
        finally
        {
            foreach (var pin in pins) pin.Dispose();
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
internal abstract class SimdPreparedGemmB(DType dtype, int k, MatrixOperand[] blocks, int[] widths) : PreparedGemmB(dtype, k, blocks, widths);

/// <summary>A <see cref="PreparedGemmB"/> whose op(B) the Simd backend packed into its micro-kernel panels.</summary>
internal sealed class SimdPreparedGemmB<T>(DType dtype, int k, MatrixOperand[] blocks, int[] widths, PackedB<T> panels)
    : SimdPreparedGemmB(dtype, k, blocks, widths) where T : unmanaged
{
    /// <summary>The packed panels.</summary>
    public PackedB<T> Panels { get; } = panels;

    /// <inheritdoc/>
    protected override void Release() => Panels.Dispose();
}
