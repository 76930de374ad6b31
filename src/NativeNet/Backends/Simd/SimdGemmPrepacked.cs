using System.Numerics;
using System.Runtime.InteropServices;

namespace NativeNet.Backends.Simd;

/// <summary>
/// <see cref="SimdGemm"/> with op(B) packed once for many products: a recurrent layer multiplies every time step's h by the
/// same W_hh, and re-packing the 1 MiB W_hh of a 256-unit LSTM per step costs about 8 % of the step's GEMM.
/// </summary>
/// <remarks>
/// The packed B is laid out as the plain GEMM packs it, for all of k and n at once: k is cut into the same KC blocks
/// (<see cref="SimdGemm.Blocking"/> depends on k alone), block pc holds ceil(n/NR) micro-panels of KC×NR values at
/// pc·NPad, zero past column n. A product then runs the plain loops without the jc/pc packing of B: per KC block, pack
/// the op(A) rows (MC at a time) and stream them past each B panel. Every sum runs in the plain GEMM's k order through the
/// same micro-kernel, so the result is the plain register-tiled GEMM's bit for bit (the plain GEMM sends n ≤ one vector
/// to <see cref="SimdGemmNarrow"/> instead; there the two agree to rounding). Threads split C into the plain GEMM's tile grid.
/// </remarks>
internal static unsafe class SimdGemmPrepacked
{
    /// <summary>Packs op(B) (k×n: b[p·ldb + j], or b[j·ldb + p] when <paramref name="transB"/>) for <see cref="Gemm{T}"/>.</summary>
    // SAFETY: the caller guarantees b covers op(B) with leading dimension ldb.
    public static PackedB<T> Pack<T>(bool transB, int k, int n, T* b, int ldb) where T : unmanaged, INumber<T> =>
        Pack(k, [new ColumnBlock<T>(b, ldb, transB, n)]);

    /// <summary>Packs op(B) = [op(B₀) | op(B₁) | …], the blocks' columns side by side, for <see cref="Gemm{T}"/>.</summary>
    // SAFETY: the caller guarantees each block's pointer covers its op(B) (k×N with its leading dimension).
    public static PackedB<T> Pack<T>(int k, ReadOnlySpan<ColumnBlock<T>> blocks) where T : unmanaged, INumber<T>
    {
        if (Kernel512<T>.IsSupported) return Pack<T, Kernel512<T>>(k, blocks);
        if (Kernel256<T>.IsSupported) return Pack<T, Kernel256<T>>(k, blocks);
        return Pack<T, Kernel128<T>>(k, blocks);
    }

    // SAFETY: every block handed to PackB lies inside its op(B); the panels of KC block pc take ceil(n/NR)·NR·kc elements
    // from pc·NPad, which ends at or before (pc + kc)·NPad ≤ k·NPad, the buffer's length. A block that starts inside a panel
    // is packed element by element into the same layout (PackB has zero-filled that panel's tail, which it now overwrites).
    private static PackedB<T> Pack<T, TK>(int k, ReadOnlySpan<ColumnBlock<T>> blocks)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        int n = 0, nr = TK.NR;
        foreach (var block in blocks) n += block.N;
        SimdGemm.Blocking(sizeof(T), TK.MR, nr, TK.MR, Math.Max(n, 1), Math.Max(k, 1), out int kcB, out _, out _);
        int nPad = (n + nr - 1) / nr * nr;
        var packed = new PackedB<T>(k, n, kcB, TK.MR, nr, nPad);
        if (n == 0) return packed;
        for (int pc = 0; pc < k; pc += kcB)
        {
            int kc = Math.Min(kcB, k - pc);
            T* dst = packed.Data + (long)pc * nPad;
            int j0 = 0;
            foreach (var block in blocks)
            {
                if (j0 % nr == 0)
                    SimdGemmPack.PackB(block.Trans, block.B, block.Ld, pc, kc, 0, block.N, nr, dst + (long)j0 * kc);
                else
                {
                    for (int j = 0; j < block.N; j++)
                    {
                        int column = j0 + j;
                        T* d = dst + (long)(column / nr) * nr * kc + column % nr;
                        for (int p = 0; p < kc; p++)
                            d[(long)p * nr] = block.Trans ? block.B[(long)j * block.Ld + pc + p] : block.B[(long)(pc + p) * block.Ld + j];
                    }
                }
                j0 += block.N;
            }
            // The last panel's columns past n are zero (PackB zero-fills only a panel it started).
            for (int column = n; column < nPad; column++)
            {
                T* d = dst + (long)(column / nr) * nr * kc + column % nr;
                for (int p = 0; p < kc; p++) d[(long)p * nr] = T.Zero;
            }
        }
        return packed;
    }

    /// <summary>
    /// C[m×n] = op(A)·op(B) + beta·C with op(B) from <see cref="Pack{T}(int, ReadOnlySpan{ColumnBlock{T}})"/>; op(A) is m×k, read as A[i·lda + p] (or
    /// A[p·lda + i] when <paramref name="transA"/>). beta = 0 overwrites C without reading it.
    /// </summary>
    // SAFETY: the caller guarantees a covers op(A), c covers m rows of n values with stride ldc, and c overlaps neither a
    // nor the packed B (which lives in its own native buffer).
    public static void Gemm<T>(bool transA, int m, T* a, int lda, PackedB<T> b, T beta, T* c, int ldc, int threads)
        where T : unmanaged, INumber<T>
    {
        ObjectDisposedException.ThrowIf(b.Data == null && b.K > 0 && b.N > 0, b);
        int n = b.N, k = b.K;
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            SimdGemm.ScaleC(m, n, beta, c, ldc);
            return;
        }
        threads = (double)m * n * k < SimdGemm.ParallelThreshold ? 1 : Math.Max(1, threads);
        if (Kernel512<T>.IsSupported) Partition<T, Kernel512<T>>(transA, m, a, lda, b, beta, c, ldc, threads);
        else if (Kernel256<T>.IsSupported) Partition<T, Kernel256<T>>(transA, m, a, lda, b, beta, c, ldc, threads);
        else Partition<T, Kernel128<T>>(transA, m, a, lda, b, beta, c, ldc, threads);
    }

    // SAFETY: the blocks of the grid are disjoint tile-aligned sub-views of C (rows [i0, i1), columns [j0, j1)), with
    // the matching rows of op(A) and columns of the packed B.
    private static void Partition<T, TK>(bool transA, int m, T* a, int lda, PackedB<T> b, T beta, T* c, int ldc, int threads)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        if (b.Mr != TK.MR || b.Nr != TK.NR)
            throw new InvalidOperationException($"GemmPrepared: B was packed for a {b.Mr}×{b.Nr} tile, this machine runs {TK.MR}×{TK.NR}");
        int mTiles = (m + TK.MR - 1) / TK.MR, nTiles = (b.N + TK.NR - 1) / TK.NR;
        threads = Math.Min(threads, mTiles * nTiles);
        if (threads <= 1)
        {
            Block<T, TK>(transA, m, 0, b.N, a, lda, b, beta, c, ldc);
            return;
        }
        SimdGemm.Grid(m, b.N, mTiles, nTiles, TK.MR, TK.NR, threads, out int gridRows, out int gridCols);
        var job = new Job<T, TK>
        {
            TransA = transA, M = m, A = a, Lda = lda, Packed = b, Beta = beta, C = c, Ldc = ldc,
            MTiles = mTiles, NTiles = nTiles, GridRows = gridRows, GridCols = gridCols,
        };
        WorkerPool.Run(gridRows * gridCols, ref job);
        GC.KeepAlive(b);
    }

    private struct Job<T, TK> : IParallelBody
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        public bool TransA;
        public int M, Lda, Ldc, MTiles, NTiles, GridRows, GridCols;
        public T* A, C;
        public PackedB<T> Packed;
        public T Beta;

        // SAFETY: the block is clamped to C; op(A) row i0 starts at A + i0·lda (A + i0 when transposed).
        public readonly void Run(int part)
        {
            if (!SimdGemm.GridCell(part, GridRows, GridCols, MTiles, NTiles, TK.MR, TK.NR, M, Packed.N, out int i0, out int i1, out int j0, out int j1))
                return;
            T* ai = TransA ? A + i0 : A + (long)i0 * Lda;
            Block<T, TK>(TransA, i1 - i0, j0, j1, ai, Lda, Packed, Beta, C + (long)i0 * Ldc, Ldc);
        }
    }

    // SAFETY: columns [j0, j1) of C (c addresses column 0 of the block's first row) against the packed B panels from
    // column j0 (a multiple of NR); op(A) rows [0, m) are packed per (pc, ic) into this thread's buffer of mc×kc
    // (rounded up to whole panels); edge tiles go through the MR×NR scratch tile, and only their valid part is merged.
    private static void Block<T, TK>(bool transA, int m, int j0, int j1, T* a, int lda, PackedB<T> b, T beta, T* c, int ldc)
        where T : unmanaged, INumber<T>
        where TK : struct, IGemmKernel<T>
    {
        int mr = TK.MR, nr = TK.NR, k = b.K, kcB = b.Kc, n = j1 - j0;
        SimdGemm.Blocking(sizeof(T), mr, nr, m, n, k, out _, out int mcB, out _);
        T* pa = (T*)SimdGemm.PackBuffers.Current.GetA((nuint)((long)mcB * kcB * sizeof(T)));
        T* tile = stackalloc T[mr * nr];
        int firstMode = T.IsZero(beta) ? 0 : beta == T.One ? 1 : 2;
        for (int pc = 0; pc < k; pc += kcB)
        {
            int kc = Math.Min(kcB, k - pc);
            int mode = pc == 0 ? firstMode : 1;
            T* pbBlock = b.Data + (long)pc * b.NPad + (long)j0 * kc;
            for (int ic = 0; ic < m; ic += mcB)
            {
                int mc = Math.Min(mcB, m - ic);
                SimdGemmPack.PackA(transA, a, lda, ic, mc, pc, kc, mr, pa);
                SimdGemm.MacroKernel<T, TK>(mc, n, kc, pa, pbBlock, c + (long)ic * ldc + j0, ldc, mode, beta, tile);
            }
        }
    }
}

/// <summary>One stored matrix of a side-by-side op(B): op(Bᵢ) is k×N, B[p·Ld + j] (B[j·Ld + p] when transposed).</summary>
internal readonly unsafe struct ColumnBlock<T>(T* b, int ld, bool trans, int n) where T : unmanaged
{
    /// <summary>The stored matrix.</summary>
    public T* B { get; } = b;

    /// <summary>Its leading dimension.</summary>
    public int Ld { get; } = ld;

    /// <summary>Whether op(Bᵢ) is the stored matrix transposed.</summary>
    public bool Trans { get; } = trans;

    /// <summary>Columns of op(Bᵢ).</summary>
    public int N { get; } = n;
}

/// <summary>op(B) packed by <see cref="SimdGemmPrepacked.Pack{T}(int, ReadOnlySpan{ColumnBlock{T}})"/>: k·NPad values in a 64-byte aligned native buffer.</summary>
internal sealed unsafe class PackedB<T> : IDisposable where T : unmanaged
{
    /// <summary>Allocates the buffer of a k×n operand packed for an MR×NR tile in KC blocks.</summary>
    public PackedB(int k, int n, int kc, int mr, int nr, int nPad)
    {
        K = k;
        N = n;
        Kc = kc;
        Mr = mr;
        Nr = nr;
        NPad = nPad;
        long count = (long)k * nPad;
        if (count > 0) Data = (T*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(T)), 64);
    }

    /// <summary>Rows of op(B).</summary>
    public int K { get; }

    /// <summary>Columns of op(B).</summary>
    public int N { get; }

    /// <summary>Depth of one packed block (the plain GEMM's KC for this k).</summary>
    public int Kc { get; }

    /// <summary>Rows of the register tile the panels were packed for.</summary>
    public int Mr { get; }

    /// <summary>Columns of one micro-panel (the register tile's NR).</summary>
    public int Nr { get; }

    /// <summary>n rounded up to whole panels: the length of one packed k step across all panels.</summary>
    public int NPad { get; }

    /// <summary>The packed values, or null once disposed (or when there are none).</summary>
    public T* Data { get; private set; }

    /// <summary>Frees the buffer.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    // SAFETY: the buffer belongs to this object alone; products hold the object alive (GC.KeepAlive) while they read it.
    private void Free()
    {
        NativeMemory.AlignedFree(Data);
        Data = null;
    }

    /// <summary>Frees the buffer of an operand that was never disposed.</summary>
    ~PackedB() => Free();
}
