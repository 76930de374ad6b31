using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

/// <summary>
/// Row-major GEMM for the Simd backend: C = op(A)·op(B) + beta·C in single and double precision.
/// </summary>
/// <remarks>
/// <para>Goto/BLIS structure. Loops, outermost first: jc over NC columns of C, pc over KC steps of k (op(B) block
/// packed once per (jc, pc)), ic over MC rows (op(A) block packed), then jr over NR and ir over MR calling a register
/// micro-kernel on a full MR×NR tile. All four transpose cases differ only in the packing routines, so there is one
/// micro-kernel per vector width. Edge tiles run the same kernel on zero-padded panels into a scratch tile that is then
/// merged into C.</para>
/// <para>Micro-kernels: <see cref="Kernel512{T}"/> (8 rows × 2 zmm = 8×32 floats or 8×16 doubles, 16 accumulators:
/// FMA latency 4 × 2 pipes needs at least 8 in flight), <see cref="Kernel256{T}"/> (6×16 floats, 12 of the 16 ymm
/// registers) and <see cref="Kernel128{T}"/> (6×8), picked by which vector width the hardware accelerates.</para>
/// <para>Blocking from the cache sizes the machine reports (<see cref="CacheSizes"/>; fallback L1d 48 KiB, L2 1 MiB per
/// core, L3 32 MiB shared): see <see cref="Blocking"/>.</para>
/// <para>Threads (<see cref="WorkerPool"/>): C is cut into a grid of tile-aligned blocks, one per thread, whose shape
/// (rows × columns of the grid) minimises what the threads pack twice (each packs the op(A) rows and op(B) columns of
/// its own block); each thread packs into its own reusable buffers, so the threads never synchronise until the final
/// join. Products below <see cref="ParallelThreshold"/> stay on one thread.</para>
/// <para>Narrow products (n at most one vector, e.g. the 10 logits of a classifier) skip the register tile, which
/// would be two thirds padding, for <see cref="SimdGemmNarrow"/>.</para>
/// </remarks>
internal static class SimdGemm
{
    private static readonly int L1Bytes = CacheSizes.DataBytes(1, 48 * 1024);
    private static readonly int L2Bytes = CacheSizes.DataBytes(2, 1024 * 1024);
    private static readonly int L3Bytes = CacheSizes.DataBytes(3, 32 * 1024 * 1024);

    /// <summary>
    /// Below this many multiply-adds a second thread costs more than it saves. On the quiet 2-core machine two parts
    /// beat one from 48³ (1.47×; 64³ 1.78×), under load from about 80³ (`NativeNet.Bench grain`,
    /// bench/results/parallel.md): 64³ is between the two.
    /// </summary>
    internal const double ParallelThreshold = 64.0 * 64 * 64;

    /// <summary>
    /// C[m×n] = op(A)·op(B) + beta·C; op(A) is m×k, op(B) is k×n. A is read as A[i*lda + p] (or A[p*lda + i] when
    /// <paramref name="transA"/>), likewise B. beta = 0 overwrites C without reading it; k = 0 gives C = beta·C.
    /// </summary>
    // SAFETY: the caller guarantees a, b and c point to buffers covering the row-major views described above
    // (lda/ldb/ldc at least the row length of each stored matrix), and that c does not overlap a or b.
    internal static unsafe void Gemm(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, int threads)
        => GemmCore(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, threads);

    /// <inheritdoc cref="Gemm(bool, bool, int, int, int, float*, int, float*, int, float, float*, int, int)"/>
    // SAFETY: as for the single-precision overload.
    internal static unsafe void Gemm(bool transA, bool transB, int m, int n, int k, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc, int threads)
        => GemmCore(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, threads);

    // SAFETY: same contract as Gemm; every pointer handed further down stays inside the caller's views.
    private static unsafe void GemmCore<T>(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
        where T : unmanaged, INumber<T>
    {
        if (m <= 0 || n <= 0)
            return;
        if (k <= 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }

        threads = Math.Max(1, threads);
        if (SimdGemmNarrow.Handles<T>(m, n, k))
        {
            // its own threshold: no packed A, so a second thread pays off sooner
            SimdGemmNarrow.Gemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, threads);
            return;
        }
        if ((double)m * n * k < ParallelThreshold)
            threads = 1;
        if (Kernel512<T>.IsSupported)
            Partition<T, Kernel512<T>>(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, threads);
        else if (Kernel256<T>.IsSupported)
            Partition<T, Kernel256<T>>(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, threads);
        else
            Partition<T, Kernel128<T>>(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, threads);
    }

    // SAFETY: only touches C[i*ldc + j] for i < m, j < n, inside the caller's view of C.
    internal static unsafe void ScaleC<T>(int m, int n, T beta, T* c, int ldc)
        where T : unmanaged, INumber<T>
    {
        if (beta == T.One)
            return;
        for (int i = 0; i < m; i++)
        {
            Span<T> row = new(c + (long)i * ldc, n);
            if (T.IsZero(beta))
                row.Clear();
            else
            {
                for (int j = 0; j < row.Length; j++)
                    row[j] = beta * row[j];
            }
        }
    }

    // SAFETY: every block passed to Block is a sub-view of the caller's op(A), op(B) and C: rows [i0, i1) of op(A)/C
    // and columns [j0, j1) of op(B)/C, with the same leading dimensions. Blocks of C are disjoint, so the threads never
    // write the same element.
    private static unsafe void Partition<T, TK>(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        int mr = TK.MR, nr = TK.NR;
        int nTiles = (n + nr - 1) / nr, mTiles = (m + mr - 1) / mr;
        threads = Math.Min(threads, mTiles * nTiles);
        if (threads <= 1)
        {
            Block<T, TK>(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        Grid(m, n, mTiles, nTiles, mr, nr, threads, out int gridRows, out int gridCols);
        var job = new Job<T, TK>
        {
            TransA = transA, TransB = transB, M = m, N = n, K = k,
            A = a, Lda = lda, B = b, Ldb = ldb, Beta = beta, C = c, Ldc = ldc,
            MTiles = mTiles, NTiles = nTiles, GridRows = gridRows, GridCols = gridCols,
        };
        WorkerPool.Run(gridRows * gridCols, ref job);
    }

    /// <summary>
    /// The grid of <paramref name="threads"/> blocks (or fewer, when a grid with idle cells packs much less) whose
    /// largest block packs the fewest elements: a block of mb × nb tiles packs mb·MR rows of op(A) and nb·NR columns of op(B).
    /// </summary>
    internal static void Grid(int m, int n, int mTiles, int nTiles, int mr, int nr, int threads, out int gridRows, out int gridCols)
    {
        gridRows = 1;
        gridCols = threads;
        long best = long.MaxValue;
        for (int rows = 1; rows <= threads; rows++)
        {
            if (threads % rows != 0) continue;
            int cols = threads / rows;
            if (rows > mTiles || cols > nTiles) continue;
            long blockM = Math.Min(m, (long)((mTiles + rows - 1) / rows) * mr);
            long blockN = Math.Min(n, (long)((nTiles + cols - 1) / cols) * nr);
            long cost = blockM + blockN;
            if (cost < best)
            {
                best = cost;
                gridRows = rows;
                gridCols = cols;
            }
        }
        if (best == long.MaxValue)
        {
            // fewer tiles than threads along both axes' factorisations: split the longer axis only
            if (mTiles >= nTiles) { gridRows = Math.Min(threads, mTiles); gridCols = 1; }
            else { gridRows = 1; gridCols = Math.Min(threads, nTiles); }
        }
    }

    /// <summary>
    /// The block of C that grid cell <paramref name="part"/> (row-major in the <see cref="Grid"/> of gridRows × gridCols)
    /// computes: rows [i0, i1) and columns [j0, j1), whole tiles clamped to the matrix; false when the cell is empty.
    /// </summary>
    internal static bool GridCell(int part, int gridRows, int gridCols, int mTiles, int nTiles, int mr, int nr, int m, int n,
        out int i0, out int i1, out int j0, out int j1)
    {
        int gi = part / gridCols, gj = part % gridCols;
        i0 = (int)((long)mTiles * gi / gridRows) * mr;
        i1 = Math.Min((int)((long)mTiles * (gi + 1) / gridRows) * mr, m);
        j0 = (int)((long)nTiles * gj / gridCols) * nr;
        j1 = Math.Min((int)((long)nTiles * (gj + 1) / gridCols) * nr, n);
        return i1 > i0 && j1 > j0;
    }

    private unsafe struct Job<T, TK> : IParallelBody
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        public bool TransA, TransB;
        public int M, N, K, Lda, Ldb, Ldc, MTiles, NTiles, GridRows, GridCols;
        public T* A, B, C;
        public T Beta;

        // SAFETY: the block [i0, i1) x [j0, j1) is clamped to the matrix, and the pointer offsets follow the storage
        // order of each operand (op(A) row i0 is a + i0*lda, or a + i0 when transposed; likewise op(B) column j0).
        public readonly void Run(int part)
        {
            if (!GridCell(part, GridRows, GridCols, MTiles, NTiles, TK.MR, TK.NR, M, N, out int i0, out int i1, out int j0, out int j1))
                return;
            T* ai = TransA ? A + i0 : A + (long)i0 * Lda;
            T* bj = TransB ? B + (long)j0 * Ldb : B + j0;
            Block<T, TK>(TransA, TransB, i1 - i0, j1 - j0, K, ai, Lda, bj, Ldb, Beta, C + (long)i0 * Ldc + j0, Ldc);
        }
    }

    /// <summary>
    /// Cache block sizes for one kernel and element size. KC depends on k (and the kernel) alone, which the pre-packed
    /// product relies on.
    /// </summary>
    /// <remarks>
    /// KC: the B micro-panel (KC × NR) takes about 1.5 L1d. It does not fit L1 then, but L2 feeds the B loads fast
    /// enough, and the longer k loop halves what each micro-kernel call spends on loading and storing its C tile (on
    /// 2048³, 32 KiB L1: KC 168 ran at 89 GFLOP/s, 384 at 101). MC: the packed A block (MC × KC) takes half of L2.
    /// NC: the packed B block takes a quarter of L3; when all of m fits one MC block, a B block that fits half of L2
    /// instead, so that it is still in L2 when the micro-kernels read it back (and so is the C block across the KC
    /// steps): packing A again for every NC block costs little when A is one block.
    /// </remarks>
    internal static void Blocking(int elemSize, int mr, int nr, int m, int n, int k, out int kc, out int mc, out int nc)
    {
        int kcMax = Math.Clamp(L1Bytes * 3 / 2 / (nr * elemSize) / 8 * 8, 128, 1024);

        // Spread k, m and n evenly over the blocks instead of leaving a thin remainder block.
        int kb = (k + kcMax - 1) / kcMax;
        kc = (k + kb - 1) / kb;
        int mcMax = Math.Max(mr, L2Bytes / 2 / (kcMax * elemSize) / mr * mr);
        int ncMax = m <= mcMax
            ? Math.Max(nr, L2Bytes / 2 / (kc * elemSize) / nr * nr)
            : Math.Max(nr, L3Bytes / 4 / (kcMax * elemSize) / nr * nr);
        int mb = (m + mcMax - 1) / mcMax;
        mc = RoundUp((m + mb - 1) / mb, mr);
        int nb = (n + ncMax - 1) / ncMax;
        nc = RoundUp((n + nb - 1) / nb, nr);
    }

    private static int RoundUp(int x, int r) => (x + r - 1) / r * r;

    // SAFETY: packs only the op(A)/op(B) blocks inside [0,m)x[0,k) and [0,k)x[0,n); the pack buffers are sized for the
    // largest block (mc x kc and kc x nc, rounded up to whole panels); full tiles are written straight into C inside
    // [0,m)x[0,n), edge tiles go through the MR x NR scratch tile and only their valid part is merged.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Block<T, TK>(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        int mr = TK.MR, nr = TK.NR;
        Blocking(sizeof(T), mr, nr, m, n, k, out int kcB, out int mcB, out int ncB);
        PackBuffers buffers = PackBuffers.Current;
        T* pa = (T*)buffers.GetA((nuint)((long)mcB * kcB * sizeof(T)));
        T* pb = (T*)buffers.GetB((nuint)((long)ncB * kcB * sizeof(T)));
        T* tile = stackalloc T[mr * nr];
        int firstMode = T.IsZero(beta) ? 0 : beta == T.One ? 1 : 2;

        for (int jc = 0; jc < n; jc += ncB)
        {
            int nc = Math.Min(ncB, n - jc);
            for (int pc = 0; pc < k; pc += kcB)
            {
                int kc = Math.Min(kcB, k - pc);
                int mode = pc == 0 ? firstMode : 1;
                SimdGemmPack.PackB(transB, b, ldb, pc, kc, jc, nc, nr, pb);
                for (int ic = 0; ic < m; ic += mcB)
                {
                    int mc = Math.Min(mcB, m - ic);
                    SimdGemmPack.PackA(transA, a, lda, ic, mc, pc, kc, mr, pa);
                    MacroKernel<T, TK>(mc, nc, kc, pa, pb, c + (long)ic * ldc + jc, ldc, mode, beta, tile);
                }
            }
        }
    }

    /// <summary>
    /// The macro-kernel of every packed product (plain, pre-packed B, convolution): C[mc × nc] at <paramref name="c"/> gets
    /// the packed op(A) block (mc × kc in MR-row panels) times the packed op(B) block (kc × nc in NR-column panels), stored
    /// (mode 0), added (1) or added to beta·C (2). Full tiles go straight into C, edge tiles through the MR × NR
    /// <paramref name="tile"/>.
    /// </summary>
    // SAFETY: reads mc × kc of pa and kc × (nc rounded up to NR) of pb; writes only rows [0, mc) × columns [0, nc) of C.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void MacroKernel<T, TK>(int mc, int nc, int kc, T* pa, T* pb, T* c, int ldc, int mode, T beta, T* tile)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        int mr = TK.MR, nr = TK.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int ncols = Math.Min(nr, nc - jr);
            T* bp = pb + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int nrows = Math.Min(mr, mc - ir);
                T* ap = pa + (long)ir * kc;
                T* cp = c + (long)ir * ldc + jr;
                if (nrows == mr && ncols == nr)
                {
                    TK.Run(kc, ap, bp, cp, ldc, mode, beta);
                }
                else
                {
                    TK.Run(kc, ap, bp, tile, nr, 0, T.Zero);
                    MergeTile(tile, nr, nrows, ncols, cp, ldc, mode, beta);
                }
            }
        }
    }

    // SAFETY: reads rows x cols of the scratch tile and writes the same rows x cols of C, which the caller has bounded
    // by the matrix edge.
    internal static unsafe void MergeTile<T>(T* tile, int ldt, int rows, int cols, T* c, int ldc, int mode, T beta)
        where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < rows; i++)
        {
            T* t = tile + i * ldt;
            T* cr = c + (long)i * ldc;
            for (int j = 0; j < cols; j++)
                cr[j] = mode == 0 ? t[j] : mode == 1 ? cr[j] + t[j] : beta * cr[j] + t[j];
        }
    }

    /// <summary>Per-thread, 64-byte aligned pack buffers that grow on demand and are freed with their thread.</summary>
    internal sealed unsafe class PackBuffers
    {
        [ThreadStatic]
        private static PackBuffers? t_current;

        private void* _a, _b;
        private nuint _aBytes, _bBytes;

        public static PackBuffers Current => t_current ??= new PackBuffers();

        public void* GetA(nuint bytes) => Grow(ref _a, ref _aBytes, bytes);

        public void* GetB(nuint bytes) => Grow(ref _b, ref _bBytes, bytes);

        // SAFETY: the old buffer is owned by this object alone and no pointer into it survives a GEMM call (the
        // buffers are only used by the thread that owns this object, one call at a time).
        private static void* Grow(ref void* p, ref nuint size, nuint bytes)
        {
            if (bytes > size)
            {
                NativeMemory.AlignedFree(p);
                p = null;
                size = 0;
                p = NativeMemory.AlignedAlloc(bytes, 64);
                size = bytes;
            }

            return p;
        }

        // SAFETY: runs once the owning thread is gone and nothing else references this object or its buffers.
        ~PackBuffers()
        {
            NativeMemory.AlignedFree(_a);
            NativeMemory.AlignedFree(_b);
        }
    }
}
