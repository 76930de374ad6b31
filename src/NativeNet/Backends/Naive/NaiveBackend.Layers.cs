using System.Numerics;

namespace NativeNet.Backends.Naive;

public partial class NaiveBackend
{
    /// <inheritdoc/>
    public override void Gemm(DType dtype, int batch, int m, int n, int k, MatrixOperand a, MatrixOperand b,
        Storage c, int cOffset, int ldc, int cBatchStride, double beta) =>
        ByFloat(dtype, "Gemm",
            () => Gemm<float>(batch, m, n, k, a, b, ((CpuStorage<float>)c).Data, cOffset, ldc, cBatchStride, (float)beta),
            () => Gemm<double>(batch, m, n, k, a, b, ((CpuStorage<double>)c).Data, cOffset, ldc, cBatchStride, beta));

    private static void Gemm<T>(int batch, int m, int n, int k, MatrixOperand a, MatrixOperand b, T[] c, int cOffset, int ldc, int cBatchStride, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ad = ((CpuStorage<T>)a.Storage).Data;
        var bd = ((CpuStorage<T>)b.Storage).Data;
        // The product's row is summed on its own and only then added to beta·C, as the fast kernels do: a bias placed in C
        // beforehand (Linear) then enters after the dot product, not as its first term.
        var row = new T[n];
        for (int bi = 0; bi < batch; bi++)
        {
            int ao = a.Offset + bi * a.BatchStride, bo = b.Offset + bi * b.BatchStride, co = cOffset + bi * cBatchStride;
            for (int i = 0; i < m; i++)
            {
                Array.Clear(row);
                // i-p-j order streams rows of B and C, which keeps the reference usable for the first training runs.
                for (int p = 0; p < k; p++)
                {
                    T aip = ad[ao + (a.Trans ? p * a.Ld + i : i * a.Ld + p)];
                    if (b.Trans)
                        for (int j = 0; j < n; j++) row[j] += aip * bd[bo + j * b.Ld + p];
                    else
                        for (int j = 0; j < n; j++) row[j] += aip * bd[bo + p * b.Ld + j];
                }
                for (int j = 0; j < n; j++)
                {
                    ref T cij = ref c[co + i * ldc + j];
                    cij = beta == T.Zero ? row[j] : row[j] + beta * cij;
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g) =>
        ByFloat(x.DType, "Conv2dForward", () => Conv2dForward<float>(x, w, bias, y, g), () => Conv2dForward<double>(x, w, bias, y, g));

    // The three reference loops share one index rule: output (n, k, i, j) meets input (n, g·Cg + c, i·sh − ph + r·dh,
    // j·sw − pw + s·dw) through filter (k, c, r, s), where g = k / Kg is the filter's group.
    private static void Conv2dForward<T>(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>(); var ws = w.HostData<T>(); var ys = y.HostData<T>();
        var bs = bias?.HostData<T>();
        int oh = g.OH, ow = g.OW, cg = g.GroupChannels, kg = g.GroupFilters;
        for (int n = 0; n < g.N; n++)
        for (int kf = 0; kf < g.K; kf++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T acc = bs is null ? T.Zero : bs[bias!.Offset + kf];
            int c0 = kf / kg * cg;
            for (int c = 0; c < cg; c++)
            for (int r = 0; r < g.R; r++)
            {
                int h = i * g.StrideH - g.PadH + r * g.DilationH;
                if (h < 0 || h >= g.H) continue;
                for (int s = 0; s < g.S; s++)
                {
                    int wi = j * g.StrideW - g.PadW + s * g.DilationW;
                    if (wi < 0 || wi >= g.W) continue;
                    acc += xs[x.Offset + ((n * g.C + c0 + c) * g.H + h) * g.W + wi] * ws[w.Offset + ((kf * cg + c) * g.R + r) * g.S + s];
                }
            }
            ys[y.Offset + ((n * g.K + kf) * oh + i) * ow + j] = acc;
        }
    }

    /// <inheritdoc/>
    public override void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g) =>
        ByFloat(dy.DType, "Conv2dBackwardData", () => Conv2dBackwardData<float>(dy, w, dx, g), () => Conv2dBackwardData<double>(dy, w, dx, g));

    private static void Conv2dBackwardData<T>(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gs = dy.HostData<T>(); var ws = w.HostData<T>(); var xs = dx.HostData<T>();
        Array.Clear(xs, dx.Offset, dx.Numel);
        int oh = g.OH, ow = g.OW, cg = g.GroupChannels, kg = g.GroupFilters;
        for (int n = 0; n < g.N; n++)
        for (int kf = 0; kf < g.K; kf++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T grad = gs[dy.Offset + ((n * g.K + kf) * oh + i) * ow + j];
            int c0 = kf / kg * cg;
            for (int c = 0; c < cg; c++)
            for (int r = 0; r < g.R; r++)
            {
                int h = i * g.StrideH - g.PadH + r * g.DilationH;
                if (h < 0 || h >= g.H) continue;
                for (int s = 0; s < g.S; s++)
                {
                    int wi = j * g.StrideW - g.PadW + s * g.DilationW;
                    if (wi < 0 || wi >= g.W) continue;
                    xs[dx.Offset + ((n * g.C + c0 + c) * g.H + h) * g.W + wi] += grad * ws[w.Offset + ((kf * cg + c) * g.R + r) * g.S + s];
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g) =>
        ByFloat(x.DType, "Conv2dBackwardFilter", () => Conv2dBackwardFilter<float>(x, dy, dw, db, g), () => Conv2dBackwardFilter<double>(x, dy, dw, db, g));

    private static void Conv2dBackwardFilter<T>(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>(); var gs = dy.HostData<T>(); var ws = dw.HostData<T>();
        Array.Clear(ws, dw.Offset, dw.Numel);
        var bs = db?.HostData<T>();
        if (bs is not null) Array.Clear(bs, db!.Offset, db.Numel);
        int oh = g.OH, ow = g.OW, cg = g.GroupChannels, kg = g.GroupFilters;
        for (int n = 0; n < g.N; n++)
        for (int kf = 0; kf < g.K; kf++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T grad = gs[dy.Offset + ((n * g.K + kf) * oh + i) * ow + j];
            if (bs is not null) bs[db!.Offset + kf] += grad;
            int c0 = kf / kg * cg;
            for (int c = 0; c < cg; c++)
            for (int r = 0; r < g.R; r++)
            {
                int h = i * g.StrideH - g.PadH + r * g.DilationH;
                if (h < 0 || h >= g.H) continue;
                for (int s = 0; s < g.S; s++)
                {
                    int wi = j * g.StrideW - g.PadW + s * g.DilationW;
                    if (wi < 0 || wi >= g.W) continue;
                    ws[dw.Offset + ((kf * cg + c) * g.R + r) * g.S + s] += grad * xs[x.Offset + ((n * g.C + c0 + c) * g.H + h) * g.W + wi];
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Pool2dForward(PoolMode mode, Tensor x, Tensor y, Pool2dGeometry g) =>
        ByFloat(x.DType, "Pool2dForward", () => Pool2dForward<float>(mode, x, y, g), () => Pool2dForward<double>(mode, x, y, g));

    private static void Pool2dForward<T>(PoolMode mode, Tensor x, Tensor y, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>(); var ys = y.HostData<T>();
        int oh = g.OH, ow = g.OW;
        T area = T.CreateTruncating(g.KernelH * g.KernelW);
        for (int plane = 0; plane < g.N * g.C; plane++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T acc = mode == PoolMode.Max ? T.NegativeInfinity : T.Zero;
            foreach (int idx in Window(g, i, j))
            {
                T v = xs[x.Offset + plane * g.H * g.W + idx];
                acc = mode == PoolMode.Max ? (v > acc || T.IsNaN(v) ? v : acc) : acc + v;
            }
            ys[y.Offset + (plane * oh + i) * ow + j] = mode == PoolMode.Max ? acc : acc / area;
        }
    }

    /// <inheritdoc/>
    public override void Pool2dBackward(PoolMode mode, Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dGeometry g) =>
        ByFloat(x.DType, "Pool2dBackward", () => Pool2dBackward<float>(mode, x, dy, dx, g), () => Pool2dBackward<double>(mode, x, dy, dx, g));

    private static void Pool2dBackward<T>(PoolMode mode, Tensor x, Tensor dy, Tensor dx, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>(); var gs = dy.HostData<T>(); var ds = dx.HostData<T>();
        Array.Clear(ds, dx.Offset, dx.Numel);
        int oh = g.OH, ow = g.OW;
        T area = T.CreateTruncating(g.KernelH * g.KernelW);
        for (int plane = 0; plane < g.N * g.C; plane++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            T grad = gs[dy.Offset + (plane * oh + i) * ow + j];
            int planeBase = plane * g.H * g.W;
            if (mode == PoolMode.Average)
            {
                foreach (int idx in Window(g, i, j)) ds[dx.Offset + planeBase + idx] += grad / area;
                continue;
            }
            int best = -1;
            T bestValue = T.NegativeInfinity;
            foreach (int idx in Window(g, i, j))
            {
                T v = xs[x.Offset + planeBase + idx];
                if (best < 0 || v > bestValue || (T.IsNaN(v) && !T.IsNaN(bestValue))) { best = idx; bestValue = v; }
            }
            if (best >= 0) ds[dx.Offset + planeBase + best] += grad;
        }
    }

    /// <summary>In-plane indices (h·W + w) of the in-bounds elements of output (i, j)'s window, row-major.</summary>
    private static IEnumerable<int> Window(Pool2dGeometry g, int i, int j)
    {
        for (int r = 0; r < g.KernelH; r++)
        {
            int h = i * g.StrideH - g.PadH + r;
            if (h < 0 || h >= g.H) continue;
            for (int s = 0; s < g.KernelW; s++)
            {
                int w = j * g.StrideW - g.PadW + s;
                if (w >= 0 && w < g.W) yield return h * g.W + w;
            }
        }
    }
}
