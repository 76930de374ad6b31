using System.Numerics;
using System.Runtime.CompilerServices;

namespace NativeNet.Backends.Simd;

/// <summary>
/// The convolution forward product Y[K, cols] = W[K, C·R·S] · col[C·R·S, cols] of one chunk of images, with im2col
/// written straight into the GEMM's packed-B panels (kc steps of NR contiguous columns, see <see cref="SimdGemmPack"/>):
/// the column matrix is never formed, so the chunk's input is read once and the panels written once, where im2col +
/// <see cref="SimdGemm"/> wrote the column matrix and then read it again to pack it.
/// </summary>
/// <remarks>One tap's row of the column matrix (all the chunk's columns, a few KiB) is lowered into a buffer that
/// stays in L1 and is then cut into the panels. Single-threaded: it serves chunks that run one per thread.</remarks>
internal static class SimdConvPack
{
    /// <summary>Whether <see cref="Forward{T, TLower}"/> takes a chunk product of this shape (else the caller lowers and calls the GEMM).</summary>
    /// <remarks>The packed block holds every column of the chunk at once, so very wide chunks (one large image) keep the
    /// column matrix and the GEMM's own column blocking.</remarks>
    public static bool Handles<T>(int k, int cols, int crs) where T : unmanaged =>
        cols <= MaxColumns && !SimdGemmNarrow.Handles<T>(k, cols, crs) && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    /// <summary>Most columns of one product: a KC × 4096 float block (2 MiB at KC = 128) still sits in L2 and L3.</summary>
    private const int MaxColumns = 4096;

    /// <summary>y[K, cols] (rows <paramref name="ldy"/> apart) = w[K, crs] · col, where <paramref name="lowerRow"/>
    /// writes each row of col (one tap, all cols columns) as the panels are packed.</summary>
    // SAFETY: w holds K·crs elements (row-major), y K rows of cols elements ldy apart; lowerRow writes cols elements.
    public static unsafe void Forward<T, TLower>(int k, int cols, int crs, T* w, ref TLower lowerRow, T* y, int ldy)
        where T : unmanaged, INumber<T>
        where TLower : struct, ITapRowLowering<T>
    {
        if (Kernel512<T>.IsSupported) Run<T, Kernel512<T>, TLower>(k, cols, crs, w, ref lowerRow, y, ldy);
        else if (Kernel256<T>.IsSupported) Run<T, Kernel256<T>, TLower>(k, cols, crs, w, ref lowerRow, y, ldy);
        else Run<T, Kernel128<T>, TLower>(k, cols, crs, w, ref lowerRow, y, ldy);
    }

    // SAFETY: as Forward; the scratch (this thread's first array, pinned) holds the packed A block, the packed B block
    // and the row buffer, each sized below; every tile written lies inside y's K × cols (edge tiles go through a scratch tile).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<T, TK, TLower>(int m, int n, int k, T* w, ref TLower lowerRow, T* y, int ldy)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
        where TLower : struct, ITapRowLowering<T>
    {
        int mr = TK.MR, nr = TK.NR;
        SimdGemm.Blocking(sizeof(T), mr, nr, m, n, k, out int kcB, out int mcB, out int ncB);
        int panels = (n + nr - 1) / nr;
        long aSize = (long)((mcB + mr - 1) / mr) * mr * kcB, bSize = (long)panels * nr * kcB;
        // 64 elements of slack so that every block can start on a cache line
        T[] scratch = ThreadScratch<T>.First(checked((int)(aSize + bSize + panels * nr + 3 * 64)));
        T* baseP = (T*)Unsafe.AsPointer(ref scratch[0]);
        T* pa = Align(baseP), pb = Align(pa + aSize), row = Align(pb + bSize);
        T* tile = stackalloc T[mr * nr];
        for (int pc = 0; pc < k; pc += kcB)
        {
            int kc = Math.Min(kcB, k - pc), mode = pc == 0 ? 0 : 1;
            // every column of the chunk at once: its packed B is the block; the columns past n stay zero
            for (int p = 0; p < kc; p++)
            {
                lowerRow.Lower(pc + p, row);
                new Span<T>(row + n, panels * nr - n).Clear();
                T* dst = pb + (long)p * nr;
                for (int jr = 0; jr < panels; jr++)
                    new ReadOnlySpan<T>(row + (long)jr * nr, nr).CopyTo(new Span<T>(dst + (long)jr * nr * kc, nr));
            }
            for (int ic = 0; ic < m; ic += mcB)
            {
                int mc = Math.Min(mcB, m - ic);
                SimdGemmPack.PackA(false, w, k, ic, mc, pc, kc, mr, pa);
                SimdGemm.MacroKernel<T, TK>(mc, n, kc, pa, pb, y + (long)ic * ldy, ldy, mode, T.Zero, tile);
            }
        }
        GC.KeepAlive(scratch);
    }

    // SAFETY: rounds up within the 64 elements of slack the caller reserved per block.
    private static unsafe T* Align<T>(T* p) where T : unmanaged => (T*)(((nint)p + 63) & ~(nint)63);
}

/// <summary>Lowers one row of a chunk's column matrix (one filter tap, every column) into a buffer.</summary>
internal unsafe interface ITapRowLowering<T> where T : unmanaged
{
    /// <summary>Writes row <paramref name="tap"/> of the column matrix (all its columns) to <paramref name="dst"/>.</summary>
    void Lower(int tap, T* dst);
}
