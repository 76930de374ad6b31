using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

// The fused recurrent cells, vectorised along the hidden units of a batch row (Vector512, else Vector256, then a scalar
// tail with the same formulas; Float32 vectors use a float-only e^x, RecurrentWidth512/256.ExpF; the row kernels are
// written once in RecurrentRows over the width): σ(x) = 1/(1 + e^−x) and, in Float32, tanh x = 2/(1 + e^−2x) − 1 (absolute error ~1e-7, which
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
                    int j = Vector512.IsHardwareAccelerated ? RecurrentRows<T, Vector512<T>, RecurrentWidth512<T>>.LstmForward(gr, br, cpr, cr, hr, hidden) : Vector256.IsHardwareAccelerated ? RecurrentRows<T, Vector256<T>, RecurrentWidth256<T>>.LstmForward(gr, br, cpr, cr, hr, hidden) : 0;
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
                    int j = Vector512.IsHardwareAccelerated ? RecurrentRows<T, Vector512<T>, RecurrentWidth512<T>>.LstmBackward(ar, cpr, cr, dhr, dcr, dgr, hidden) : Vector256.IsHardwareAccelerated ? RecurrentRows<T, Vector256<T>, RecurrentWidth256<T>>.LstmBackward(ar, cpr, cr, dhr, dcr, dgr, hidden) : 0;
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
                    int j = Vector512.IsHardwareAccelerated ? RecurrentRows<T, Vector512<T>, RecurrentWidth512<T>>.GruForward(xr, hgr, bi, bh, hpr, hr, hidden) : Vector256.IsHardwareAccelerated ? RecurrentRows<T, Vector256<T>, RecurrentWidth256<T>>.GruForward(xr, hgr, bi, bh, hpr, hr, hidden) : 0;
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
                    int j = Vector512.IsHardwareAccelerated ? RecurrentRows<T, Vector512<T>, RecurrentWidth512<T>>.GruBackward(ar, hgr, hpr, dhr, dhpr, dxr, dhgr, hidden) : Vector256.IsHardwareAccelerated ? RecurrentRows<T, Vector256<T>, RecurrentWidth256<T>>.GruBackward(ar, hgr, hpr, dhr, dhpr, dxr, dhgr, hidden) : 0;
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
}

/// <summary>
/// The row kernels of the fused LSTM and GRU cells, written once for every vector width; each returns the first column
/// it left for the scalar tail.
/// </summary>
internal static unsafe class RecurrentRows<T, TVec, TW> where T : unmanaged, IFloatingPointIeee754<T>
    where TVec : struct
    where TW : struct, IRecurrentWidth<T, TVec>
{
    // SAFETY (all row kernels): the pointers address rows of pinned contiguous operands checked by CheckCell, and j + TW.Count <= hidden.
    // The arithmetic goes through TW (Vector256/512 expose no generic-math operator interfaces) in the left-to-right
    // order of the scalar formulas, so every width rounds the same way.
    public static int LstmForward(T* g, T* bias, T* cp, T* c, T* h, int hidden)
    {
        int j = 0;
        for (; j + TW.Count <= hidden; j += TW.Count)
        {
            var i = TW.Sigmoid(TW.Add(TW.Load(g + j), TW.Load(bias + j)));
            var f = TW.Sigmoid(TW.Add(TW.Load(g + hidden + j), TW.Load(bias + hidden + j)));
            var gg = TW.Tanh(TW.Add(TW.Load(g + 2 * hidden + j), TW.Load(bias + 2 * hidden + j)));
            var o = TW.Sigmoid(TW.Add(TW.Load(g + 3 * hidden + j), TW.Load(bias + 3 * hidden + j)));
            TW.Store(i, g + j); TW.Store(f, g + hidden + j); TW.Store(gg, g + 2 * hidden + j); TW.Store(o, g + 3 * hidden + j);
            var cv = TW.Add(TW.Mul(f, TW.Load(cp + j)), TW.Mul(i, gg));
            TW.Store(cv, c + j);
            TW.Store(TW.Mul(o, TW.Tanh(cv)), h + j);
        }
        return j;
    }

    public static int LstmBackward(T* a, T* cp, T* c, T* dh, T* dc, T* dg, int hidden)
    {
        int j = 0;
        var one = TW.One;
        for (; j + TW.Count <= hidden; j += TW.Count)
        {
            var i = TW.Load(a + j);
            var f = TW.Load(a + hidden + j);
            var g = TW.Load(a + 2 * hidden + j);
            var o = TW.Load(a + 3 * hidden + j);
            var tc = TW.Tanh(TW.Load(c + j));
            var dhv = TW.Load(dh + j);
            var dcv = TW.Add(TW.Load(dc + j), TW.Mul(TW.Mul(dhv, o), TW.Sub(one, TW.Mul(tc, tc))));
            TW.Store(TW.Mul(TW.Mul(TW.Mul(dcv, g), i), TW.Sub(one, i)), dg + j);
            TW.Store(TW.Mul(TW.Mul(TW.Mul(dcv, TW.Load(cp + j)), f), TW.Sub(one, f)), dg + hidden + j);
            TW.Store(TW.Mul(TW.Mul(dcv, i), TW.Sub(one, TW.Mul(g, g))), dg + 2 * hidden + j);
            TW.Store(TW.Mul(TW.Mul(TW.Mul(dhv, tc), o), TW.Sub(one, o)), dg + 3 * hidden + j);
            TW.Store(TW.Mul(dcv, f), dc + j);
        }
        return j;
    }

    public static int GruForward(T* x, T* hg, T* bi, T* bh, T* hp, T* h, int hidden)
    {
        int j = 0;
        for (; j + TW.Count <= hidden; j += TW.Count)
        {
            var r = TW.Sigmoid(TW.Add(TW.Add(TW.Add(TW.Load(x + j), TW.Load(bi + j)), TW.Load(hg + j)), TW.Load(bh + j)));
            var z = TW.Sigmoid(TW.Add(TW.Add(TW.Add(TW.Load(x + hidden + j), TW.Load(bi + hidden + j)), TW.Load(hg + hidden + j)), TW.Load(bh + hidden + j)));
            var hn = TW.Add(TW.Load(hg + 2 * hidden + j), TW.Load(bh + 2 * hidden + j));
            var n = TW.Tanh(TW.Add(TW.Add(TW.Load(x + 2 * hidden + j), TW.Load(bi + 2 * hidden + j)), TW.Mul(r, hn)));
            TW.Store(r, x + j); TW.Store(z, x + hidden + j); TW.Store(n, x + 2 * hidden + j);
            TW.Store(hn, hg + 2 * hidden + j);
            TW.Store(TW.Add(n, TW.Mul(z, TW.Sub(TW.Load(hp + j), n))), h + j);
        }
        return j;
    }

    public static int GruBackward(T* a, T* hg, T* hp, T* dh, T* dhp, T* dx, T* dhg, int hidden)
    {
        int j = 0;
        var one = TW.One;
        for (; j + TW.Count <= hidden; j += TW.Count)
        {
            var r = TW.Load(a + j);
            var z = TW.Load(a + hidden + j);
            var n = TW.Load(a + 2 * hidden + j);
            var hn = TW.Load(hg + 2 * hidden + j);
            var dhv = TW.Load(dh + j);
            var dn = TW.Mul(TW.Mul(dhv, TW.Sub(one, z)), TW.Sub(one, TW.Mul(n, n)));
            var dz = TW.Mul(TW.Mul(TW.Mul(dhv, TW.Sub(TW.Load(hp + j), n)), z), TW.Sub(one, z));
            var dr = TW.Mul(TW.Mul(TW.Mul(dn, hn), r), TW.Sub(one, r));
            TW.Store(dr, dx + j); TW.Store(dz, dx + hidden + j); TW.Store(dn, dx + 2 * hidden + j);
            TW.Store(dr, dhg + j); TW.Store(dz, dhg + hidden + j); TW.Store(TW.Mul(dn, r), dhg + 2 * hidden + j);
            TW.Store(TW.Add(TW.Load(dhp + j), TW.Mul(dhv, z)), dhp + j);
        }
        return j;
    }
}

/// <summary>One vector width of the recurrent row kernels: its loads and stores and the cell nonlinearities σ and tanh.</summary>
internal unsafe interface IRecurrentWidth<T, TVec> where T : unmanaged, IFloatingPointIeee754<T>
{
    static abstract int Count { get; }
    static abstract TVec One { get; }
    static abstract TVec Load(T* p);
    static abstract void Store(TVec v, T* p);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Sub(TVec a, TVec b);
    static abstract TVec Mul(TVec a, TVec b);
    static abstract TVec Sigmoid(TVec x);
    static abstract TVec Tanh(TVec x);
}

/// <summary>The recurrent row kernels at 512 bits.</summary>
internal unsafe struct RecurrentWidth512<T> : IRecurrentWidth<T, Vector512<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;
    public static Vector512<T> One => Vector512<T>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Load(T* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<T> v, T* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Sub(Vector512<T> a, Vector512<T> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Mul(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sigmoid(Vector512<T> x) => Vector512<T>.One / (Vector512<T>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Tanh(Vector512<T> x) =>
        typeof(T) == typeof(double)
            ? VMath.TanhD(x.As<T, double>()).As<double, T>()
            : Vector512.Create(T.One + T.One) / (Vector512<T>.One + Exp(-(x + x))) - Vector512<T>.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Exp(Vector512<T> x) =>
        typeof(T) == typeof(float) ? ExpF(x.As<T, float>()).As<float, T>() : VMath.Exp(x);

    // e^x in float without widening to double: x clamped to [−87, 88] (the cells only need saturation there), x = n·ln 2 + r
    // with |r| ≤ ln 2 / 2 (ln 2 split in two for an exact product), Cephes' degree-6 polynomial for e^r (about 2e-7
    // relative), then 2^n through the exponent bits. NaN propagates through Min/Max and the polynomial.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpF(Vector512<float> x)
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
}

/// <summary>The recurrent row kernels at 256 bits.</summary>
internal unsafe struct RecurrentWidth256<T> : IRecurrentWidth<T, Vector256<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;
    public static Vector256<T> One => Vector256<T>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Load(T* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<T> v, T* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Sub(Vector256<T> a, Vector256<T> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Mul(Vector256<T> a, Vector256<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sigmoid(Vector256<T> x) => Vector256<T>.One / (Vector256<T>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Tanh(Vector256<T> x) =>
        typeof(T) == typeof(double)
            ? VMath.TanhD(x.As<T, double>()).As<double, T>()
            : Vector256.Create(T.One + T.One) / (Vector256<T>.One + Exp(-(x + x))) - Vector256<T>.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Exp(Vector256<T> x) =>
        typeof(T) == typeof(float) ? ExpF(x.As<T, float>()).As<float, T>() : VMath.Exp(x);

    // The same e^x as RecurrentWidth512.ExpF.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpF(Vector256<float> x)
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
}
