using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Backends.Simd;

/// <summary>
/// Packs blocks of op(A) and op(B) into the micro-panel layouts the GEMM micro-kernels stream through.
/// A block (mc x kc) becomes ceil(mc/MR) panels, each kc steps of MR contiguous values; a B block (kc x nc) becomes
/// ceil(nc/NR) panels, each kc steps of NR contiguous values. Rows/columns past the matrix edge are zero, so the
/// kernel always runs full tiles.
/// </summary>
internal static class SimdGemmPack
{
    /// <summary>Packs op(A)[i0..i0+mc, p0..p0+kc] into <paramref name="dst"/>.</summary>
    // SAFETY: the caller guarantees a covers op(A) with leading dimension lda for the requested block and that dst
    // holds ceil(mc/mr)*mr*kc elements; every read below stays in rows i < i0+mc and columns p < p0+kc.
    public static unsafe void PackA<T>(bool transA, T* a, int lda, int i0, int mc, int p0, int kc, int mr, T* dst)
        where T : unmanaged, INumber<T>
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            T* d = dst + (long)ir * kc;
            if (transA)
            {
                // op(A)(i,p) = a[p*lda + i]: each k step is a contiguous run of rows.
                T* s = a + (long)p0 * lda + i0 + ir;
                CopyRuns(s, lda, rows, kc, mr, d);
            }
            else
            {
                // op(A)(i,p) = a[i*lda + p]: a transpose of the rows x kc block.
                T* s = a + (long)(i0 + ir) * lda + p0;
                Transpose(s, lda, rows, kc, mr, d);
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+nc] into <paramref name="dst"/>.</summary>
    // SAFETY: as for PackA, with op(B) of leading dimension ldb and dst holding ceil(nc/nr)*nr*kc elements.
    public static unsafe void PackB<T>(bool transB, T* b, int ldb, int p0, int kc, int j0, int nc, int nr, T* dst)
        where T : unmanaged, INumber<T>
    {
        int jr = 0;
        if (!transB && nr % Vector256<T>.Count == 0 && Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            // Row by row across every full panel: each row of op(B) is read as one contiguous run, which the hardware
            // prefetcher follows; panel by panel would jump a whole row of B every NR values.
            int full = nc / nr;
            T* s = b + (long)p0 * ldb + j0;
            for (int p = 0; p < kc; p++, s += ldb)
            {
                T* d = dst + (long)p * nr;
                for (int panel = 0; panel < full; panel++)
                    CopyPanelRow(s + (long)panel * nr, d + (long)panel * nr * kc, nr);
            }
            jr = full * nr;
        }
        for (; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            T* d = dst + (long)jr * kc;
            if (transB)
            {
                // op(B)(p,j) = b[j*ldb + p]: a transpose of the cols x kc block.
                T* s = b + (long)(j0 + jr) * ldb + p0;
                Transpose(s, ldb, cols, kc, nr, d);
            }
            else
            {
                T* s = b + (long)p0 * ldb + j0 + jr;
                CopyRuns(s, ldb, cols, kc, nr, d);
            }
        }
    }

    /// <summary>d[0..width) = s[0..width), width a multiple of the 256-bit vector.</summary>
    // SAFETY: the caller checked that width values are readable at s and writable at d.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyPanelRow<T>(T* s, T* d, int width)
        where T : unmanaged, INumber<T>
    {
        if (Vector512.IsHardwareAccelerated && width % Vector512<T>.Count == 0)
        {
            for (int r = 0; r < width; r += Vector512<T>.Count)
                Vector512.Store(Vector512.Load(s + r), d + r);
            return;
        }
        for (int r = 0; r < width; r += Vector256<T>.Count)
            Vector256.Store(Vector256.Load(s + r), d + r);
    }

    /// <summary>d[p*width + r] = s[p*ld + r] for r &lt; len, zero for len &lt;= r &lt; width.</summary>
    // SAFETY: reads s[p*ld + r] for p < kc, r < len, which the callers derive from the block bounds; writes kc*width
    // elements of d.
    private static unsafe void CopyRuns<T>(T* s, int ld, int len, int kc, int width, T* d)
        where T : unmanaged, INumber<T>
    {
        if (len == width && Vector256<T>.IsSupported && Vector256.IsHardwareAccelerated && width % Vector256<T>.Count == 0)
        {
            int w = Vector256<T>.Count;
            for (int p = 0; p < kc; p++, s += ld, d += width)
            {
                for (int r = 0; r < width; r += w)
                    Vector256.Store(Vector256.Load(s + r), d + r);
            }
            return;
        }

        for (int p = 0; p < kc; p++, s += ld, d += width)
        {
            int r = 0;
            for (; r < len; r++)
                d[r] = s[r];
            for (; r < width; r++)
                d[r] = T.Zero;
        }
    }

    /// <summary>d[p*width + r] = s[r*ld + p] for r &lt; len, zero for len &lt;= r &lt; width.</summary>
    // SAFETY: reads s[r*ld + p] for r < len, p < kc (inside the block the callers own); writes kc*width elements of d.
    private static unsafe void Transpose<T>(T* s, int ld, int len, int kc, int width, T* d)
        where T : unmanaged, INumber<T>
    {
        int p = 0;
        if (typeof(T) == typeof(float) && Avx.IsSupported && len == width && width % 8 == 0)
        {
            // 8x8 register transposes: 8 source rows x 8 k steps at a time.
            for (; p + 8 <= kc; p += 8)
            {
                for (int r = 0; r < width; r += 8)
                    Transpose8x8((float*)(s + (long)r * ld + p), ld, (float*)(d + (long)p * width + r), width);
            }
        }

        for (; p < kc; p++)
        {
            T* dp = d + (long)p * width;
            int r = 0;
            for (; r < len; r++)
                dp[r] = s[(long)r * ld + p];
            for (; r < width; r++)
                dp[r] = T.Zero;
        }
    }

    // SAFETY: reads 8 floats from each of 8 rows s + i*ld, writes 8 floats to each of 8 rows d + i*ldd; callers
    // check both 8x8 blocks are in bounds.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose8x8(float* s, int ld, float* d, int ldd)
    {
        Vector256<float> r0 = Avx.LoadVector256(s);
        Vector256<float> r1 = Avx.LoadVector256(s + ld);
        Vector256<float> r2 = Avx.LoadVector256(s + 2L * ld);
        Vector256<float> r3 = Avx.LoadVector256(s + 3L * ld);
        Vector256<float> r4 = Avx.LoadVector256(s + 4L * ld);
        Vector256<float> r5 = Avx.LoadVector256(s + 5L * ld);
        Vector256<float> r6 = Avx.LoadVector256(s + 6L * ld);
        Vector256<float> r7 = Avx.LoadVector256(s + 7L * ld);

        Vector256<float> t0 = Avx.UnpackLow(r0, r1);
        Vector256<float> t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3);
        Vector256<float> t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5);
        Vector256<float> t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7);
        Vector256<float> t7 = Avx.UnpackHigh(r6, r7);

        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44);
        Vector256<float> u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44);
        Vector256<float> u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44);
        Vector256<float> u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44);
        Vector256<float> u7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2L * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3L * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4L * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5L * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6L * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7L * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
