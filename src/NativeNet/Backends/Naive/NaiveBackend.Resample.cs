using System.Numerics;

namespace NativeNet.Backends.Naive;

public partial class NaiveBackend
{
    /// <inheritdoc/>
    public override void PlaneGather(Tensor x, Tensor index, Tensor? weight, Tensor y, PlaneMap map) =>
        ByFloat(x.DType, "PlaneGather", () => PlaneGather<float>(x, index, weight, y, map), () => PlaneGather<double>(x, index, weight, y, map));

    private static void PlaneGather<T>(Tensor x, Tensor index, Tensor? weight, Tensor y, PlaneMap map) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] xs = x.HostData<T>(), ys = y.HostData<T>();
        int[] idx = index.HostData<int>();
        T[]? ws = weight?.HostData<T>();
        for (int p = 0; p < map.Planes; p++)
        for (int o = 0; o < map.OutPlane; o++)
        {
            T acc = T.Zero;
            long row = (map.IndexPerPlane ? (long)p * map.OutPlane : 0) + o;
            for (int t = 0; t < map.Taps; t++)
            {
                T v = xs[x.Offset + (long)p * map.InPlane + idx[index.Offset + row * map.Taps + t]];
                acc += ws is null ? v : ws[weight!.Offset + o * map.Taps + t] * v;
            }
            ys[y.Offset + (long)p * map.OutPlane + o] = acc;
        }
    }

    /// <inheritdoc/>
    public override void PlaneScatter(Tensor dy, Tensor index, Tensor? weight, Tensor dx, PlaneMap map, bool accumulate) =>
        ByFloat(dy.DType, "PlaneScatter", () => PlaneScatter<float>(dy, index, weight, dx, map, accumulate), () => PlaneScatter<double>(dy, index, weight, dx, map, accumulate));

    private static void PlaneScatter<T>(Tensor dy, Tensor index, Tensor? weight, Tensor dx, PlaneMap map, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] gs = dy.HostData<T>(), xs = dx.HostData<T>();
        int[] idx = index.HostData<int>();
        T[]? ws = weight?.HostData<T>();
        Array.Clear(xs, dx.Offset, map.Planes * map.InPlane);
        for (int p = 0; p < map.Planes; p++)
        for (int o = 0; o < map.OutPlane; o++)
        {
            T g = gs[dy.Offset + (long)p * map.OutPlane + o];
            long row = (map.IndexPerPlane ? (long)p * map.OutPlane : 0) + o;
            for (int t = 0; t < map.Taps; t++)
            {
                ref T target = ref xs[dx.Offset + (long)p * map.InPlane + idx[index.Offset + row * map.Taps + t]];
                T v = ws is null ? g : ws[weight!.Offset + o * map.Taps + t] * g;
                target = accumulate ? target + v : v;
            }
        }
    }

    /// <inheritdoc/>
    public override void MaxPool2dIndices(Tensor x, Tensor indices, Pool2dGeometry g) =>
        ByFloat(x.DType, "MaxPool2dIndices", () => MaxPool2dIndices<float>(x, indices, g), () => MaxPool2dIndices<double>(x, indices, g));

    private static void MaxPool2dIndices<T>(Tensor x, Tensor indices, Pool2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>();
        var ids = indices.HostData<int>();
        int oh = g.OH, ow = g.OW;
        for (int plane = 0; plane < g.N * g.C; plane++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            int best = -1;
            T bestValue = T.NegativeInfinity;
            foreach (int idx in Window(g, i, j))
            {
                T v = xs[x.Offset + plane * g.H * g.W + idx];
                if (best < 0 || v > bestValue || (T.IsNaN(v) && !T.IsNaN(bestValue))) { best = idx; bestValue = v; }
            }
            ids[indices.Offset + (plane * oh + i) * ow + j] = best;
        }
    }
}
