namespace NativeNet.Backends;

/// <summary>
/// Shape of a plane-wise gather: <see cref="Planes"/> planes (N·C), each read with <see cref="InPlane"/> elements and written
/// with <see cref="OutPlane"/>; output element o of a plane combines <see cref="Taps"/> input elements. The index table holds
/// OutPlane·Taps positions shared by every plane, or Planes·OutPlane·Taps when <see cref="IndexPerPlane"/>.
/// </summary>
public sealed record PlaneMap(int Planes, int InPlane, int OutPlane, int Taps, bool IndexPerPlane)
{
    /// <summary>Entries of the index table.</summary>
    public long IndexCount => (IndexPerPlane ? (long)Planes : 1) * OutPlane * Taps;
}

// Upsampling and max-unpooling are a gather along a table of positions and its adjoint, a scatter: one pair of primitives,
// so each op's backward is the other primitive with the same table.
public abstract partial class Backend
{
    /// <summary>
    /// y[p, o] = Σₜ weight[o·Taps + t] · x[p, index[base + o·Taps + t]], base = p·OutPlane·Taps when the index is per plane, else 0;
    /// weight null means 1. x [Planes, InPlane], y [Planes, OutPlane] contiguous; index Int32 with positions in [0, InPlane)
    /// (checked by the caller); weight of x's dtype with OutPlane·Taps entries.
    /// </summary>
    public abstract void PlaneGather(Tensor x, Tensor index, Tensor? weight, Tensor y, PlaneMap map);

    /// <summary>
    /// The adjoint of <see cref="PlaneGather"/>: dx (overwritten, first zeroed) [Planes, InPlane] receives weight·dy[p, o] at
    /// x[p, index[…]], added when <paramref name="accumulate"/>, else stored (for tables whose repeated positions carry equal values).
    /// </summary>
    public abstract void PlaneScatter(Tensor dy, Tensor index, Tensor? weight, Tensor dx, PlaneMap map, bool accumulate);

    /// <summary>
    /// indices [N,C,OH,OW] (Int32, contiguous) = the in-plane position h·W + w of each max-pooling window's maximum in x
    /// [N,C,H,W]: the first one row-major, a NaN winning over numbers (the element <see cref="Pool2dBackward"/> routes the gradient to).
    /// </summary>
    public abstract void MaxPool2dIndices(Tensor x, Tensor indices, Pool2dGeometry g);
}
