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
            ForEachChunk(map.Planes, PlaneWorkers(map), p =>
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
            ForEachChunk(map.Planes, PlaneWorkers(map), p =>
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
}
