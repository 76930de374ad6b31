using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

// The fused recurrent cells, vectorised along the hidden units of a batch row (Vector512, else Vector256, then a scalar
// tail with the same formulas; Float32 vectors use a float-only e^x, ExpF512/ExpF256): σ(x) = 1/(1 + e^−x) and, in Float32, tanh x = 2/(1 + e^−2x) − 1 (absolute error ~1e-7, which
// is what the cell's sums need), in Float64 the accurate VMath.TanhD (finite-difference gradient checks see its smoothness);
// all saturate without NaN for any finite x. Rows are split over threads only when the step is large enough to pay for the hand-off.
public sealed partial class SimdBackend
{
    /// <summary>
    /// Element count (batch × hidden) of a step below which the cell stays on the calling thread: the cell is a few percent of
    /// a step next to its GEMM, and at 64 × 256 a hand-off per step gains less than it risks on a busy machine.
    /// </summary>
    private const int RecurrentParallelThreshold = 1 << 15;

    /// <inheritdoc/>
    public override void LstmCellForward(Tensor gates, Tensor? bias, Tensor cPrev, Tensor c, Tensor h)
    {
        var (batch, hidden) = CheckCell("LstmCellForward", 4, [gates], [cPrev, c, h], bias);
        ByFloatType(c.DType, "LstmCellForward", () => LstmForward<float>(gates, bias, cPrev, c, h, batch, hidden), () => LstmForward<double>(gates, bias, cPrev, c, h, batch, hidden));
    }

    /// <inheritdoc/>
    public override void LstmCellBackward(Tensor act, Tensor cPrev, Tensor c, Tensor dh, Tensor dc, Tensor dGates)
    {
        var (batch, hidden) = CheckCell("LstmCellBackward", 4, [act, dGates], [cPrev, c, dh, dc]);
        ByFloatType(c.DType, "LstmCellBackward", () => LstmBackward<float>(act, cPrev, c, dh, dc, dGates, batch, hidden), () => LstmBackward<double>(act, cPrev, c, dh, dc, dGates, batch, hidden));
    }

    /// <inheritdoc/>
    public override void GruCellForward(Tensor xGates, Tensor hGates, Tensor? biasIh, Tensor? biasHh, Tensor hPrev, Tensor h)
    {
        var (batch, hidden) = CheckCell("GruCellForward", 3, [xGates, hGates], [hPrev, h], biasIh, biasHh);
        ByFloatType(h.DType, "GruCellForward", () => GruForward<float>(xGates, hGates, biasIh, biasHh, hPrev, h, batch, hidden),
            () => GruForward<double>(xGates, hGates, biasIh, biasHh, hPrev, h, batch, hidden));
    }

    /// <summary>The bias data and offset, or a zero vector of <paramref name="length"/> when there is none.</summary>
    private static (T[] Data, int Offset) BiasOrZeros<T>(Tensor? bias, int length) where T : unmanaged =>
        bias is null ? (new T[length], 0) : (bias.HostData<T>(), bias.Offset);

    /// <inheritdoc/>
    public override void GruCellBackward(Tensor act, Tensor hGates, Tensor hPrev, Tensor dh, Tensor dhPrev, Tensor dXGates, Tensor dHGates)
    {
        var (batch, hidden) = CheckCell("GruCellBackward", 3, [act, hGates, dXGates, dHGates], [hPrev, dh, dhPrev]);
        ByFloatType(dh.DType, "GruCellBackward", () => GruBackward<float>(act, hGates, hPrev, dh, dhPrev, dXGates, dHGates, batch, hidden),
            () => GruBackward<double>(act, hGates, hPrev, dh, dhPrev, dXGates, dHGates, batch, hidden));
    }

    /// <summary>Runs rows(first, end) over the batch, split into contiguous row ranges when the step is large enough.</summary>
    private static void ForBatchRows(int batch, int hidden, Action<int, int> rows)
    {
        int parts = Threads > 1 && (long)batch * hidden >= RecurrentParallelThreshold ? Math.Min(Threads, batch) : 1;
        if (parts <= 1) { rows(0, batch); return; }
        SimdParallel.For(parts, p => rows(p * batch / parts, (p + 1) * batch / parts));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T SigmoidS<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T TanhS<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(double)) return (T.One + T.One) / (T.One + T.Exp(-(x + x))) - T.One;
        // VMath.TanhD per element: 1 − 2/(e^{2|x|} + 1) with x's sign, x itself below 1e-4.
        T ax = T.Abs(x);
        T t = T.One - (T.One + T.One) / (T.Exp(ax + ax) + T.One);
        if (x < T.Zero) t = -t;
        return ax < T.CreateTruncating(1e-4) ? x : t;
    }


    private static unsafe void LstmForward<T>(Tensor gates, Tensor? bias, Tensor cPrev, Tensor c, Tensor h, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (biasData, biasOffset) = BiasOrZeros<T>(bias, 4 * hidden);
        // SAFETY: CheckCell verified every operand is contiguous [batch, ·] and the bias [4·hidden]; the row kernels stay inside their rows.
        fixed (T* g0 = gates.HostData<T>(), b0 = biasData, cp0 = cPrev.HostData<T>(), c0 = c.HostData<T>(), h0 = h.HostData<T>())
        {
            nint g = (nint)(g0 + gates.Offset), bb = (nint)(b0 + biasOffset), cp = (nint)(cp0 + cPrev.Offset), cc = (nint)(c0 + c.Offset), hh = (nint)(h0 + h.Offset);
            ForBatchRows(batch, hidden, (first, end) =>
            {
                T* br = (T*)bb;
                for (int b = first; b < end; b++)
                {
                    T* gr = (T*)g + (nint)b * 4 * hidden, cpr = (T*)cp + (nint)b * hidden, cr = (T*)cc + (nint)b * hidden, hr = (T*)hh + (nint)b * hidden;
                    int j = Vector512.IsHardwareAccelerated ? LstmForwardRow512(gr, br, cpr, cr, hr, hidden) : Vector256.IsHardwareAccelerated ? LstmForwardRow256(gr, br, cpr, cr, hr, hidden) : 0;
                    for (; j < hidden; j++)
                    {
                        T i = SigmoidS(gr[j] + br[j]), f = SigmoidS(gr[hidden + j] + br[hidden + j]), gg = TanhS(gr[2 * hidden + j] + br[2 * hidden + j]), o = SigmoidS(gr[3 * hidden + j] + br[3 * hidden + j]);
                        gr[j] = i; gr[hidden + j] = f; gr[2 * hidden + j] = gg; gr[3 * hidden + j] = o;
                        T cv = f * cpr[j] + i * gg;
                        cr[j] = cv;
                        hr[j] = o * TanhS(cv);
                    }
                }
            });
        }
    }

    private static unsafe void LstmBackward<T>(Tensor act, Tensor cPrev, Tensor c, Tensor dh, Tensor dc, Tensor dGates, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // SAFETY: as in LstmForward.
        fixed (T* a0 = act.HostData<T>(), cp0 = cPrev.HostData<T>(), c0 = c.HostData<T>(), dh0 = dh.HostData<T>(), dc0 = dc.HostData<T>(), dg0 = dGates.HostData<T>())
        {
            nint a = (nint)(a0 + act.Offset), cp = (nint)(cp0 + cPrev.Offset), cc = (nint)(c0 + c.Offset), dhh = (nint)(dh0 + dh.Offset), dcc = (nint)(dc0 + dc.Offset), dgg = (nint)(dg0 + dGates.Offset);
            ForBatchRows(batch, hidden, (first, end) =>
            {
                for (int b = first; b < end; b++)
                {
                    nint row = (nint)b * hidden, wide = row * 4;
                    T* ar = (T*)a + wide, cpr = (T*)cp + row, cr = (T*)cc + row, dhr = (T*)dhh + row, dcr = (T*)dcc + row, dgr = (T*)dgg + wide;
                    int j = Vector512.IsHardwareAccelerated ? LstmBackwardRow512(ar, cpr, cr, dhr, dcr, dgr, hidden) : Vector256.IsHardwareAccelerated ? LstmBackwardRow256(ar, cpr, cr, dhr, dcr, dgr, hidden) : 0;
                    for (; j < hidden; j++)
                    {
                        T i = ar[j], f = ar[hidden + j], g = ar[2 * hidden + j], o = ar[3 * hidden + j];
                        T tc = TanhS(cr[j]);
                        T dhv = dhr[j];
                        T dcv = dcr[j] + dhv * o * (T.One - tc * tc);
                        dgr[j] = dcv * g * i * (T.One - i);
                        dgr[hidden + j] = dcv * cpr[j] * f * (T.One - f);
                        dgr[2 * hidden + j] = dcv * i * (T.One - g * g);
                        dgr[3 * hidden + j] = dhv * tc * o * (T.One - o);
                        dcr[j] = dcv * f;
                    }
                }
            });
        }
    }

    private static unsafe void GruForward<T>(Tensor xGates, Tensor hGates, Tensor? biasIh, Tensor? biasHh, Tensor hPrev, Tensor h, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (biData, biOffset) = BiasOrZeros<T>(biasIh, 3 * hidden);
        var (bhData, bhOffset) = BiasOrZeros<T>(biasHh, 3 * hidden);
        // SAFETY: as in LstmForward; each bias is [3·hidden] from its offset.
        fixed (T* x0 = xGates.HostData<T>(), hg0 = hGates.HostData<T>(), bi0 = biData, bh0 = bhData, hp0 = hPrev.HostData<T>(), h0 = h.HostData<T>())
        {
            nint x = (nint)(x0 + xGates.Offset), hg = (nint)(hg0 + hGates.Offset), bip = (nint)(bi0 + biOffset), bhp = (nint)(bh0 + bhOffset);
            nint hp = (nint)(hp0 + hPrev.Offset), hh = (nint)(h0 + h.Offset);
            ForBatchRows(batch, hidden, (first, end) =>
            {
                T* bi = (T*)bip, bh = (T*)bhp;
                for (int b = first; b < end; b++)
                {
                    nint row = (nint)b * hidden, wide = row * 3;
                    T* xr = (T*)x + wide, hgr = (T*)hg + wide, hpr = (T*)hp + row, hr = (T*)hh + row;
                    int j = Vector512.IsHardwareAccelerated ? GruForwardRow512(xr, hgr, bi, bh, hpr, hr, hidden) : Vector256.IsHardwareAccelerated ? GruForwardRow256(xr, hgr, bi, bh, hpr, hr, hidden) : 0;
                    for (; j < hidden; j++)
                    {
                        T r = SigmoidS(xr[j] + bi[j] + hgr[j] + bh[j]);
                        T z = SigmoidS(xr[hidden + j] + bi[hidden + j] + hgr[hidden + j] + bh[hidden + j]);
                        T hn = hgr[2 * hidden + j] + bh[2 * hidden + j];
                        T n = TanhS(xr[2 * hidden + j] + bi[2 * hidden + j] + r * hn);
                        xr[j] = r; xr[hidden + j] = z; xr[2 * hidden + j] = n;
                        hgr[2 * hidden + j] = hn;
                        hr[j] = n + z * (hpr[j] - n);
                    }
                }
            });
        }
    }

    private static unsafe void GruBackward<T>(Tensor act, Tensor hGates, Tensor hPrev, Tensor dh, Tensor dhPrev, Tensor dXGates, Tensor dHGates, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // SAFETY: as in LstmForward.
        fixed (T* a0 = act.HostData<T>(), hg0 = hGates.HostData<T>(), hp0 = hPrev.HostData<T>(), dh0 = dh.HostData<T>(), dhp0 = dhPrev.HostData<T>(), dx0 = dXGates.HostData<T>(), dhg0 = dHGates.HostData<T>())
        {
            nint a = (nint)(a0 + act.Offset), hg = (nint)(hg0 + hGates.Offset), hp = (nint)(hp0 + hPrev.Offset), dhh = (nint)(dh0 + dh.Offset);
            nint dhp = (nint)(dhp0 + dhPrev.Offset), dx = (nint)(dx0 + dXGates.Offset), dhg = (nint)(dhg0 + dHGates.Offset);
            ForBatchRows(batch, hidden, (first, end) =>
            {
                for (int b = first; b < end; b++)
                {
                    nint row = (nint)b * hidden, wide = row * 3;
                    T* ar = (T*)a + wide, hgr = (T*)hg + wide, hpr = (T*)hp + row, dhr = (T*)dhh + row, dhpr = (T*)dhp + row, dxr = (T*)dx + wide, dhgr = (T*)dhg + wide;
                    int j = Vector512.IsHardwareAccelerated ? GruBackwardRow512(ar, hgr, hpr, dhr, dhpr, dxr, dhgr, hidden) : Vector256.IsHardwareAccelerated ? GruBackwardRow256(ar, hgr, hpr, dhr, dhpr, dxr, dhgr, hidden) : 0;
                    for (; j < hidden; j++)
                    {
                        T r = ar[j], z = ar[hidden + j], n = ar[2 * hidden + j], hn = hgr[2 * hidden + j];
                        T dhv = dhr[j];
                        T dn = dhv * (T.One - z) * (T.One - n * n);
                        T dz = dhv * (hpr[j] - n) * z * (T.One - z);
                        T dr = dn * hn * r * (T.One - r);
                        dxr[j] = dr; dxr[hidden + j] = dz; dxr[2 * hidden + j] = dn;
                        dhgr[j] = dr; dhgr[hidden + j] = dz; dhgr[2 * hidden + j] = dn * r;
                        dhpr[j] += dhv * z;
                    }
                }
            });
        }
    }

    // ---- 512-bit rows ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Exp512<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? ExpF512(x.As<T, float>()).As<float, T>() : VMath.Exp(x);

    // e^x in float without widening to double: x clamped to [−87, 88] (the cells only need saturation there), x = n·ln 2 + r
    // with |r| ≤ ln 2 / 2 (ln 2 split in two for an exact product), Cephes' degree-6 polynomial for e^r (about 2e-7
    // relative), then 2^n through the exponent bits. NaN propagates through Min/Max and the polynomial.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpF512(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87f)), Vector512.Create(88f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1.9875691500e-4f), r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return y * scale.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Sigmoid512<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector512<T>.One / (Vector512<T>.One + Exp512(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Tanh512<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double)
            ? VMath.TanhD(x.As<T, double>()).As<double, T>()
            : Vector512.Create(T.One + T.One) / (Vector512<T>.One + Exp512(-(x + x))) - Vector512<T>.One;

    // SAFETY (all row kernels): the pointers address rows of pinned contiguous operands checked by CheckCell, and j + Vector512<T>.Count <= hidden.
    private static unsafe int LstmForwardRow512<T>(T* g, T* bias, T* cp, T* c, T* h, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        for (; j + Vector512<T>.Count <= hidden; j += Vector512<T>.Count)
        {
            var i = Sigmoid512(Vector512.Load(g + j) + Vector512.Load(bias + j));
            var f = Sigmoid512(Vector512.Load(g + hidden + j) + Vector512.Load(bias + hidden + j));
            var gg = Tanh512(Vector512.Load(g + 2 * hidden + j) + Vector512.Load(bias + 2 * hidden + j));
            var o = Sigmoid512(Vector512.Load(g + 3 * hidden + j) + Vector512.Load(bias + 3 * hidden + j));
            i.Store(g + j); f.Store(g + hidden + j); gg.Store(g + 2 * hidden + j); o.Store(g + 3 * hidden + j);
            var cv = f * Vector512.Load(cp + j) + i * gg;
            cv.Store(c + j);
            (o * Tanh512(cv)).Store(h + j);
        }
        return j;
    }

    private static unsafe int LstmBackwardRow512<T>(T* a, T* cp, T* c, T* dh, T* dc, T* dg, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        var one = Vector512<T>.One;
        for (; j + Vector512<T>.Count <= hidden; j += Vector512<T>.Count)
        {
            var i = Vector512.Load(a + j);
            var f = Vector512.Load(a + hidden + j);
            var g = Vector512.Load(a + 2 * hidden + j);
            var o = Vector512.Load(a + 3 * hidden + j);
            var tc = Tanh512(Vector512.Load(c + j));
            var dhv = Vector512.Load(dh + j);
            var dcv = Vector512.Load(dc + j) + dhv * o * (one - tc * tc);
            (dcv * g * i * (one - i)).Store(dg + j);
            (dcv * Vector512.Load(cp + j) * f * (one - f)).Store(dg + hidden + j);
            (dcv * i * (one - g * g)).Store(dg + 2 * hidden + j);
            (dhv * tc * o * (one - o)).Store(dg + 3 * hidden + j);
            (dcv * f).Store(dc + j);
        }
        return j;
    }

    private static unsafe int GruForwardRow512<T>(T* x, T* hg, T* bi, T* bh, T* hp, T* h, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        for (; j + Vector512<T>.Count <= hidden; j += Vector512<T>.Count)
        {
            var r = Sigmoid512(Vector512.Load(x + j) + Vector512.Load(bi + j) + Vector512.Load(hg + j) + Vector512.Load(bh + j));
            var z = Sigmoid512(Vector512.Load(x + hidden + j) + Vector512.Load(bi + hidden + j) + Vector512.Load(hg + hidden + j) + Vector512.Load(bh + hidden + j));
            var hn = Vector512.Load(hg + 2 * hidden + j) + Vector512.Load(bh + 2 * hidden + j);
            var n = Tanh512(Vector512.Load(x + 2 * hidden + j) + Vector512.Load(bi + 2 * hidden + j) + r * hn);
            r.Store(x + j); z.Store(x + hidden + j); n.Store(x + 2 * hidden + j);
            hn.Store(hg + 2 * hidden + j);
            (n + z * (Vector512.Load(hp + j) - n)).Store(h + j);
        }
        return j;
    }

    private static unsafe int GruBackwardRow512<T>(T* a, T* hg, T* hp, T* dh, T* dhp, T* dx, T* dhg, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        var one = Vector512<T>.One;
        for (; j + Vector512<T>.Count <= hidden; j += Vector512<T>.Count)
        {
            var r = Vector512.Load(a + j);
            var z = Vector512.Load(a + hidden + j);
            var n = Vector512.Load(a + 2 * hidden + j);
            var hn = Vector512.Load(hg + 2 * hidden + j);
            var dhv = Vector512.Load(dh + j);
            var dn = dhv * (one - z) * (one - n * n);
            var dz = dhv * (Vector512.Load(hp + j) - n) * z * (one - z);
            var dr = dn * hn * r * (one - r);
            dr.Store(dx + j); dz.Store(dx + hidden + j); dn.Store(dx + 2 * hidden + j);
            dr.Store(dhg + j); dz.Store(dhg + hidden + j); (dn * r).Store(dhg + 2 * hidden + j);
            (Vector512.Load(dhp + j) + dhv * z).Store(dhp + j);
        }
        return j;
    }
    // ---- 256-bit rows ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Exp256<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? ExpF256(x.As<T, float>()).As<float, T>() : VMath.Exp(x);

    // e^x in float without widening to double: x clamped to [−87, 88] (the cells only need saturation there), x = n·ln 2 + r
    // with |r| ≤ ln 2 / 2 (ln 2 split in two for an exact product), Cephes' degree-6 polynomial for e^r (about 2e-7
    // relative), then 2^n through the exponent bits. NaN propagates through Min/Max and the polynomial.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpF256(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87f)), Vector256.Create(88f));
        var n = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1.9875691500e-4f), r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        var y = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return y * scale.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Sigmoid256<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector256<T>.One / (Vector256<T>.One + Exp256(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Tanh256<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double)
            ? VMath.TanhD(x.As<T, double>()).As<double, T>()
            : Vector256.Create(T.One + T.One) / (Vector256<T>.One + Exp256(-(x + x))) - Vector256<T>.One;

    // SAFETY (all row kernels): the pointers address rows of pinned contiguous operands checked by CheckCell, and j + Vector256<T>.Count <= hidden.
    private static unsafe int LstmForwardRow256<T>(T* g, T* bias, T* cp, T* c, T* h, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        for (; j + Vector256<T>.Count <= hidden; j += Vector256<T>.Count)
        {
            var i = Sigmoid256(Vector256.Load(g + j) + Vector256.Load(bias + j));
            var f = Sigmoid256(Vector256.Load(g + hidden + j) + Vector256.Load(bias + hidden + j));
            var gg = Tanh256(Vector256.Load(g + 2 * hidden + j) + Vector256.Load(bias + 2 * hidden + j));
            var o = Sigmoid256(Vector256.Load(g + 3 * hidden + j) + Vector256.Load(bias + 3 * hidden + j));
            i.Store(g + j); f.Store(g + hidden + j); gg.Store(g + 2 * hidden + j); o.Store(g + 3 * hidden + j);
            var cv = f * Vector256.Load(cp + j) + i * gg;
            cv.Store(c + j);
            (o * Tanh256(cv)).Store(h + j);
        }
        return j;
    }

    private static unsafe int LstmBackwardRow256<T>(T* a, T* cp, T* c, T* dh, T* dc, T* dg, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        var one = Vector256<T>.One;
        for (; j + Vector256<T>.Count <= hidden; j += Vector256<T>.Count)
        {
            var i = Vector256.Load(a + j);
            var f = Vector256.Load(a + hidden + j);
            var g = Vector256.Load(a + 2 * hidden + j);
            var o = Vector256.Load(a + 3 * hidden + j);
            var tc = Tanh256(Vector256.Load(c + j));
            var dhv = Vector256.Load(dh + j);
            var dcv = Vector256.Load(dc + j) + dhv * o * (one - tc * tc);
            (dcv * g * i * (one - i)).Store(dg + j);
            (dcv * Vector256.Load(cp + j) * f * (one - f)).Store(dg + hidden + j);
            (dcv * i * (one - g * g)).Store(dg + 2 * hidden + j);
            (dhv * tc * o * (one - o)).Store(dg + 3 * hidden + j);
            (dcv * f).Store(dc + j);
        }
        return j;
    }

    private static unsafe int GruForwardRow256<T>(T* x, T* hg, T* bi, T* bh, T* hp, T* h, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        for (; j + Vector256<T>.Count <= hidden; j += Vector256<T>.Count)
        {
            var r = Sigmoid256(Vector256.Load(x + j) + Vector256.Load(bi + j) + Vector256.Load(hg + j) + Vector256.Load(bh + j));
            var z = Sigmoid256(Vector256.Load(x + hidden + j) + Vector256.Load(bi + hidden + j) + Vector256.Load(hg + hidden + j) + Vector256.Load(bh + hidden + j));
            var hn = Vector256.Load(hg + 2 * hidden + j) + Vector256.Load(bh + 2 * hidden + j);
            var n = Tanh256(Vector256.Load(x + 2 * hidden + j) + Vector256.Load(bi + 2 * hidden + j) + r * hn);
            r.Store(x + j); z.Store(x + hidden + j); n.Store(x + 2 * hidden + j);
            hn.Store(hg + 2 * hidden + j);
            (n + z * (Vector256.Load(hp + j) - n)).Store(h + j);
        }
        return j;
    }

    private static unsafe int GruBackwardRow256<T>(T* a, T* hg, T* hp, T* dh, T* dhp, T* dx, T* dhg, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        var one = Vector256<T>.One;
        for (; j + Vector256<T>.Count <= hidden; j += Vector256<T>.Count)
        {
            var r = Vector256.Load(a + j);
            var z = Vector256.Load(a + hidden + j);
            var n = Vector256.Load(a + 2 * hidden + j);
            var hn = Vector256.Load(hg + 2 * hidden + j);
            var dhv = Vector256.Load(dh + j);
            var dn = dhv * (one - z) * (one - n * n);
            var dz = dhv * (Vector256.Load(hp + j) - n) * z * (one - z);
            var dr = dn * hn * r * (one - r);
            dr.Store(dx + j); dz.Store(dx + hidden + j); dn.Store(dx + 2 * hidden + j);
            dr.Store(dhg + j); dz.Store(dhg + hidden + j); (dn * r).Store(dhg + 2 * hidden + j);
            (Vector256.Load(dhp + j) + dhv * z).Store(dhp + j);
        }
        return j;
    }
}
