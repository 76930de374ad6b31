using System.Numerics;

namespace NativeNet.Backends.Naive;

// The reference recurrent cells: one scalar loop over batch and hidden unit per step, the formulas as written in Backend.
public partial class NaiveBackend
{
    /// <inheritdoc/>
    public override void LstmCellForward(Tensor gates, Tensor? bias, Tensor cPrev, Tensor c, Tensor h)
    {
        var (batch, hidden) = CheckCell("LstmCellForward", 4, [gates], [cPrev, c, h], bias);
        ByFloat(c.DType, "LstmCellForward", () => LstmForward<float>(gates, bias, cPrev, c, h, batch, hidden), () => LstmForward<double>(gates, bias, cPrev, c, h, batch, hidden));
    }

    private static T BiasAt<T>(T[]? data, Tensor? bias, int index) where T : unmanaged, IFloatingPointIeee754<T> =>
        data is null ? T.Zero : data[bias!.Offset + index];

    private static void LstmForward<T>(Tensor gates, Tensor? bias, Tensor cPrev, Tensor c, Tensor h, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gd = gates.HostData<T>(); var cpd = cPrev.HostData<T>(); var cd = c.HostData<T>(); var hd = h.HostData<T>();
        var bd = bias?.HostData<T>();
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g0 = gates.Offset + b * 4 * hidden + j, s = b * hidden + j;
                T i = Scalar.Sigmoid(gd[g0] + BiasAt(bd, bias, j)), f = Scalar.Sigmoid(gd[g0 + hidden] + BiasAt(bd, bias, hidden + j));
                T g = T.Tanh(gd[g0 + 2 * hidden] + BiasAt(bd, bias, 2 * hidden + j)), o = Scalar.Sigmoid(gd[g0 + 3 * hidden] + BiasAt(bd, bias, 3 * hidden + j));
                gd[g0] = i; gd[g0 + hidden] = f; gd[g0 + 2 * hidden] = g; gd[g0 + 3 * hidden] = o;
                T cv = f * cpd[cPrev.Offset + s] + i * g;
                cd[c.Offset + s] = cv;
                hd[h.Offset + s] = o * T.Tanh(cv);
            }
    }

    /// <inheritdoc/>
    public override void LstmCellBackward(Tensor act, Tensor cPrev, Tensor c, Tensor dh, Tensor dc, Tensor dGates)
    {
        var (batch, hidden) = CheckCell("LstmCellBackward", 4, [act, dGates], [cPrev, c, dh, dc]);
        ByFloat(c.DType, "LstmCellBackward", () => LstmBackward<float>(act, cPrev, c, dh, dc, dGates, batch, hidden), () => LstmBackward<double>(act, cPrev, c, dh, dc, dGates, batch, hidden));
    }

    private static void LstmBackward<T>(Tensor act, Tensor cPrev, Tensor c, Tensor dh, Tensor dc, Tensor dGates, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ad = act.HostData<T>(); var cpd = cPrev.HostData<T>(); var cd = c.HostData<T>();
        var dhd = dh.HostData<T>(); var dcd = dc.HostData<T>(); var dgd = dGates.HostData<T>();
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < hidden; j++)
            {
                int a0 = act.Offset + b * 4 * hidden + j, d0 = dGates.Offset + b * 4 * hidden + j, s = b * hidden + j;
                T i = ad[a0], f = ad[a0 + hidden], g = ad[a0 + 2 * hidden], o = ad[a0 + 3 * hidden];
                T tc = T.Tanh(cd[c.Offset + s]);
                T dhv = dhd[dh.Offset + s];
                T dcv = dcd[dc.Offset + s] + dhv * o * (T.One - tc * tc);
                dgd[d0] = dcv * g * i * (T.One - i);
                dgd[d0 + hidden] = dcv * cpd[cPrev.Offset + s] * f * (T.One - f);
                dgd[d0 + 2 * hidden] = dcv * i * (T.One - g * g);
                dgd[d0 + 3 * hidden] = dhv * tc * o * (T.One - o);
                dcd[dc.Offset + s] = dcv * f;
            }
    }

    /// <inheritdoc/>
    public override void GruCellForward(Tensor xGates, Tensor hGates, Tensor? biasIh, Tensor? biasHh, Tensor hPrev, Tensor h)
    {
        var (batch, hidden) = CheckCell("GruCellForward", 3, [xGates, hGates], [hPrev, h], biasIh, biasHh);
        ByFloat(h.DType, "GruCellForward", () => GruForward<float>(xGates, hGates, biasIh, biasHh, hPrev, h, batch, hidden),
            () => GruForward<double>(xGates, hGates, biasIh, biasHh, hPrev, h, batch, hidden));
    }

    private static void GruForward<T>(Tensor xGates, Tensor hGates, Tensor? biasIh, Tensor? biasHh, Tensor hPrev, Tensor h, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xd = xGates.HostData<T>(); var hgd = hGates.HostData<T>(); var hpd = hPrev.HostData<T>(); var hd = h.HostData<T>();
        var bi = biasIh?.HostData<T>();
        var bh = biasHh?.HostData<T>();
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < hidden; j++)
            {
                int x0 = xGates.Offset + b * 3 * hidden + j, h0 = hGates.Offset + b * 3 * hidden + j, s = b * hidden + j;
                T r = Scalar.Sigmoid(xd[x0] + BiasAt(bi, biasIh, j) + hgd[h0] + BiasAt(bh, biasHh, j));
                T z = Scalar.Sigmoid(xd[x0 + hidden] + BiasAt(bi, biasIh, hidden + j) + hgd[h0 + hidden] + BiasAt(bh, biasHh, hidden + j));
                T hn = hgd[h0 + 2 * hidden] + BiasAt(bh, biasHh, 2 * hidden + j);
                T n = T.Tanh(xd[x0 + 2 * hidden] + BiasAt(bi, biasIh, 2 * hidden + j) + r * hn);
                xd[x0] = r; xd[x0 + hidden] = z; xd[x0 + 2 * hidden] = n;
                hgd[h0 + 2 * hidden] = hn;
                hd[h.Offset + s] = n + z * (hpd[hPrev.Offset + s] - n);
            }
    }

    /// <inheritdoc/>
    public override void GruCellBackward(Tensor act, Tensor hGates, Tensor hPrev, Tensor dh, Tensor dhPrev, Tensor dXGates, Tensor dHGates)
    {
        var (batch, hidden) = CheckCell("GruCellBackward", 3, [act, hGates, dXGates, dHGates], [hPrev, dh, dhPrev]);
        ByFloat(dh.DType, "GruCellBackward", () => GruBackward<float>(act, hGates, hPrev, dh, dhPrev, dXGates, dHGates, batch, hidden),
            () => GruBackward<double>(act, hGates, hPrev, dh, dhPrev, dXGates, dHGates, batch, hidden));
    }

    private static void GruBackward<T>(Tensor act, Tensor hGates, Tensor hPrev, Tensor dh, Tensor dhPrev, Tensor dXGates, Tensor dHGates, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ad = act.HostData<T>(); var hgd = hGates.HostData<T>(); var hpd = hPrev.HostData<T>(); var dhd = dh.HostData<T>();
        var dhpd = dhPrev.HostData<T>(); var dxd = dXGates.HostData<T>(); var dhgd = dHGates.HostData<T>();
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < hidden; j++)
            {
                int a0 = act.Offset + b * 3 * hidden + j, g0 = hGates.Offset + b * 3 * hidden + j, s = b * hidden + j;
                int x0 = dXGates.Offset + b * 3 * hidden + j, y0 = dHGates.Offset + b * 3 * hidden + j;
                T r = ad[a0], z = ad[a0 + hidden], n = ad[a0 + 2 * hidden], hn = hgd[g0 + 2 * hidden];
                T dhv = dhd[dh.Offset + s], hp = hpd[hPrev.Offset + s];
                T dn = dhv * (T.One - z) * (T.One - n * n);
                T dz = dhv * (hp - n) * z * (T.One - z);
                T dr = dn * hn * r * (T.One - r);
                dxd[x0] = dr; dxd[x0 + hidden] = dz; dxd[x0 + 2 * hidden] = dn;
                dhgd[y0] = dr; dhgd[y0 + hidden] = dz; dhgd[y0 + 2 * hidden] = dn * r;
                dhpd[dhPrev.Offset + s] += dhv * z;
            }
    }
}
