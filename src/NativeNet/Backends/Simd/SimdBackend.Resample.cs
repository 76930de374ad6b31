using System.Numerics;

namespace NativeNet.Backends.Simd;

// The plane gather and scatter are memory-bound table walks; the fast path runs planes in parallel over pinned arrays
// (each plane's output is written by one thread only, so the scatter needs no atomics) and skips the weight multiply
// for one-tap tables.
public sealed partial class SimdBackend
{
    private static int PlaneWorkers(PlaneMap map) => (long)map.Planes * map.OutPlane * map.Taps < 1 << 15 ? 1 : Math.Min(Threads, map.Planes);

    /// <inheritdoc/>
    public override void PlaneGather(Tensor x, Tensor index, Tensor? weight, Tensor y, PlaneMap map) =>
        ByFloatType(x.DType, "PlaneGather", () => Gather<float>(x, index, weight, y, map), () => Gather<double>(x, index, weight, y, map));

    private static unsafe void Gather<T>(Tensor x, Tensor index, Tensor? weight, Tensor y, PlaneMap map) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (map.Planes == 0 || map.OutPlane == 0) return;
        int taps = map.Taps;
        // SAFETY: arrays pinned for the call; every index lies in [0, InPlane) (checked by the gate); plane p reads
        // x[p·InPlane …) and writes y[p·OutPlane …) inside the contiguous tensors.
        fixed (T* px0 = x.HostData<T>()) fixed (T* py0 = y.HostData<T>()) fixed (int* pi0 = index.HostData<int>()) fixed (T* pw0 = weight?.HostData<T>())
        {
            nint ix = (nint)(px0 + x.Offset), iy = (nint)(py0 + y.Offset), ii = (nint)(pi0 + index.Offset), iw = weight is null ? 0 : (nint)(pw0 + weight.Offset);
            ForEachIndex(map.Planes, PlaneWorkers(map), p =>
            {
                T* xp = (T*)ix + (long)p * map.InPlane, yp = (T*)iy + (long)p * map.OutPlane, w = (T*)iw;
                int* idx = (int*)ii + (map.IndexPerPlane ? (long)p * map.OutPlane * taps : 0);
                if (w is null && taps == 1)
                    for (int o = 0; o < map.OutPlane; o++) yp[o] = xp[idx[o]];
                else
                    for (int o = 0; o < map.OutPlane; o++)
                    {
                        T acc = T.Zero;
                        int* io = idx + (long)o * taps;
                        T* wo = w + (long)o * taps;
                        for (int t = 0; t < taps; t++) acc += w is null ? xp[io[t]] : wo[t] * xp[io[t]];
                        yp[o] = acc;
                    }
            });
        }
    }

    /// <inheritdoc/>
    public override void PlaneScatter(Tensor dy, Tensor index, Tensor? weight, Tensor dx, PlaneMap map, bool accumulate) =>
        ByFloatType(dy.DType, "PlaneScatter", () => Scatter<float>(dy, index, weight, dx, map, accumulate), () => Scatter<double>(dy, index, weight, dx, map, accumulate));

    private static unsafe void Scatter<T>(Tensor dy, Tensor index, Tensor? weight, Tensor dx, PlaneMap map, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        new Span<T>(dx.HostData<T>(), dx.Offset, map.Planes * map.InPlane).Clear();
        if (map.Planes == 0 || map.OutPlane == 0) return;
        int taps = map.Taps;
        // SAFETY: as Gather, with plane p of dx written by the one thread that runs p.
        fixed (T* pg0 = dy.HostData<T>()) fixed (T* px0 = dx.HostData<T>()) fixed (int* pi0 = index.HostData<int>()) fixed (T* pw0 = weight?.HostData<T>())
        {
            nint ig = (nint)(pg0 + dy.Offset), ix = (nint)(px0 + dx.Offset), ii = (nint)(pi0 + index.Offset), iw = weight is null ? 0 : (nint)(pw0 + weight.Offset);
            ForEachIndex(map.Planes, PlaneWorkers(map), p =>
            {
                T* gp = (T*)ig + (long)p * map.OutPlane, xp = (T*)ix + (long)p * map.InPlane, w = (T*)iw;
                int* idx = (int*)ii + (map.IndexPerPlane ? (long)p * map.OutPlane * taps : 0);
                for (int o = 0; o < map.OutPlane; o++)
                {
                    int* io = idx + (long)o * taps;
                    for (int t = 0; t < taps; t++)
                    {
                        T v = w is null ? gp[o] : w[(long)o * taps + t] * gp[o];
                        if (accumulate) xp[io[t]] += v;
                        else xp[io[t]] = v;
                    }
                }
            });
        }
    }

    /// <inheritdoc/>
    public override void MaxPool2dIndices(Tensor x, Tensor indices, Pool2dGeometry g) =>
        ByFloatType(x.DType, "MaxPool2dIndices", () => PoolIndices<float>(x, indices, g), () => PoolIndices<double>(x, indices, g));

    private static unsafe void PoolIndices<T>(Tensor x, Tensor indices, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int planes = g.N * g.C, oh = g.OH, ow = g.OW, hw = g.H * g.W;
        if (planes == 0 || oh * ow == 0) return;
        int workers = (long)planes * oh * ow * g.KernelH * g.KernelW < 1 << 15 ? 1 : Math.Min(Threads, planes);
        // SAFETY: arrays pinned for the call; plane p reads x[p·H·W …) and writes indices[p·OH·OW …); the window loop
        // clips every row and column to the plane.
        fixed (T* px0 = x.HostData<T>()) fixed (int* pi0 = indices.HostData<int>())
        {
            nint ix = (nint)(px0 + x.Offset), ii = (nint)(pi0 + indices.Offset);
            ForEachIndex(planes, workers, p =>
            {
                T* xp = (T*)ix + (long)p * hw;
                int* ip = (int*)ii + (long)p * oh * ow;
                for (int i = 0; i < oh; i++)
                {
                    int h0 = Math.Max(0, i * g.StrideH - g.PadH), h1 = Math.Min(g.H, i * g.StrideH - g.PadH + g.KernelH);
                    for (int j = 0; j < ow; j++)
                    {
                        int w0 = Math.Max(0, j * g.StrideW - g.PadW), w1 = Math.Min(g.W, j * g.StrideW - g.PadW + g.KernelW);
                        int best = -1;
                        T bestValue = T.NegativeInfinity;
                        for (int h = h0; h < h1; h++)
                        for (int w = w0; w < w1; w++)
                        {
                            T v = xp[h * g.W + w];
                            if (best < 0 || v > bestValue || (T.IsNaN(v) && !T.IsNaN(bestValue))) { best = h * g.W + w; bestValue = v; }
                        }
                        ip[i * ow + j] = best;
                    }
                }
            });
        }
    }
}
