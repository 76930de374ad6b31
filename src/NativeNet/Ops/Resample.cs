using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

/// <summary>Interpolation of <see cref="Ops.Upsample"/>.</summary>
public enum UpsampleMode
{
    /// <summary>PyTorch's "nearest": source index ⌊o·scale⌋ (scale = in/out, or 1/scale factor when one is given).</summary>
    Nearest,
    /// <summary>PyTorch's "bilinear", with or without align_corners.</summary>
    Bilinear,
}

public static partial class Ops
{
    /// <summary>
    /// Upsamples (or resizes) NCHW input to <paramref name="size"/> or by <paramref name="scaleFactor"/> (exactly one of them),
    /// as PyTorch's <c>F.interpolate</c> (1.13) with mode "nearest" or "bilinear": the output size is ⌊in·scale⌋, and a given
    /// scale factor (not the size ratio) maps output to input coordinates. <paramref name="alignCorners"/> (bilinear only)
    /// maps the corner pixels onto each other; otherwise pixel centres are aligned and sources clamped at the border.
    /// </summary>
    public static Tensor Upsample(Tensor x, (int H, int W)? size = null, (double H, double W)? scaleFactor = null, UpsampleMode mode = UpsampleMode.Nearest,
        bool alignCorners = false)
    {
        const string op = "Upsample";
        if (x.Rank != 4) throw new ShapeMismatchException($"{op}: input must be NCHW (rank 4), got {ShapeUtil.Format(x.Shape)}");
        if (size.HasValue == scaleFactor.HasValue) throw new ArgumentException($"{op}: give exactly one of size and scale factor");
        if (alignCorners && mode != UpsampleMode.Bilinear) throw new ArgumentException($"{op}: align corners applies to bilinear interpolation only");
        int h = x.Shape[2], w = x.Shape[3];
        if (h == 0 || w == 0) throw new ShapeMismatchException($"{op}: input {ShapeUtil.Format(x.Shape)} has an empty plane");
        int oh, ow;
        double? sh = null, sw = null;
        if (size is { } s) (oh, ow) = s;
        else
        {
            var f = scaleFactor!.Value;
            if (!(f.H > 0) || !(f.W > 0) || double.IsInfinity(f.H) || double.IsInfinity(f.W))
                throw new ArgumentException($"{op}: scale factor ({f.H}, {f.W}) must be positive and finite");
            (oh, ow, sh, sw) = ((int)Math.Floor(h * f.H), (int)Math.Floor(w * f.W), 1 / f.H, 1 / f.W);
        }
        if (oh < 1 || ow < 1) throw new ArgumentException($"{op}: output size ({oh}, {ow}) for input {ShapeUtil.Format(x.Shape)} must be positive");
        var gate = new ResampleGate(op, ResampleTables(mode, alignCorners, h, w, oh, ow, sh ?? (double)h / oh, sw ?? (double)w / ow), oh, ow);
        return Apply(gate, () => gate.Forward(x), x);
    }

    /// <summary>(positions, weights, taps) of every output element of an H×W plane resampled to OH×OW, in PyTorch's coordinates.</summary>
    private static (int[] Index, double[]? Weight, int Taps) ResampleTables(UpsampleMode mode, bool alignCorners, int h, int w, int oh, int ow, double scaleH, double scaleW)
    {
        if (mode == UpsampleMode.Nearest)
        {
            var index = new int[oh * ow];
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                index[i * ow + j] = Math.Min((int)Math.Floor(i * (float)scaleH), h - 1) * w + Math.Min((int)Math.Floor(j * (float)scaleW), w - 1);
            return (index, null, 1);
        }
        var (rows, rowWeights) = Linear(h, oh, scaleH, alignCorners);
        var (cols, colWeights) = Linear(w, ow, scaleW, alignCorners);
        var idx = new int[oh * ow * 4];
        var wt = new double[oh * ow * 4];
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
        {
            int t = ((i * ow + j) * 2 + a) * 2 + b;
            idx[t] = rows[2 * i + a] * w + cols[2 * j + b];
            wt[t] = rowWeights[2 * i + a] * colWeights[2 * j + b];
        }
        return (idx, wt, 4);
    }

    /// <summary>The two source positions and weights of each output position along one axis (PyTorch's area_pixel_compute_source_index).</summary>
    private static (int[] Source, double[] Weight) Linear(int n, int outN, double scale, bool alignCorners)
    {
        var src = new int[2 * outN];
        var wt = new double[2 * outN];
        double ratio = alignCorners ? (outN > 1 ? (double)(n - 1) / (outN - 1) : 0) : scale;
        for (int o = 0; o < outN; o++)
        {
            double real = alignCorners ? o * ratio : Math.Max(0, (o + 0.5) * ratio - 0.5);
            int i0 = Math.Min((int)Math.Floor(real), n - 1);
            int i1 = Math.Min(i0 + 1, n - 1);
            double lambda = real - i0;
            (src[2 * o], src[2 * o + 1], wt[2 * o], wt[2 * o + 1]) = (i0, i1, 1 - lambda, lambda);
        }
        return (src, wt);
    }

    /// <summary>
    /// The partial inverse of max pooling (PyTorch's <c>max_unpool2d</c>): x [N,C,H,W] holds pooled maxima, indices (Int32, same shape)
    /// their flat positions in each OH×OW output plane; the output [N,C,OH,OW] is zero except there. OH×OW is
    /// <paramref name="outputSize"/>, else (H − 1)·stride − 2·padding + kernel. Positions are checked (an error names the first
    /// bad one); a position given twice must carry equal values (as an overlapping max pool produces), as in PyTorch.
    /// </summary>
    public static Tensor MaxUnpool2d(Tensor x, Tensor indices, int kernel, int? stride = null, int padding = 0, (int H, int W)? outputSize = null)
    {
        const string op = "MaxUnpool2d";
        if (x.Rank != 4) throw new ShapeMismatchException($"{op}: input must be NCHW (rank 4), got {ShapeUtil.Format(x.Shape)}");
        if (indices.DType != DType.Int32 || !ShapeUtil.SameShape(indices.Shape, x.Shape))
            throw new ShapeMismatchException($"{op}: indices {indices.Describe()} must be Int32 of the input's shape {ShapeUtil.Format(x.Shape)}");
        int s = stride ?? kernel;
        if (kernel < 1 || s < 1 || padding < 0) throw new ArgumentException($"{op}: kernel {kernel} and stride {s} must be positive, padding {padding} non-negative");
        var (oh, ow) = outputSize ?? ((x.Shape[2] - 1) * s - 2 * padding + kernel, (x.Shape[3] - 1) * s - 2 * padding + kernel);
        if (oh < 1 || ow < 1) throw new ArgumentException($"{op}: output size ({oh}, {ow}) must be positive");
        int plane = oh * ow;
        var host = indices.ToArray<int>();
        for (int i = 0; i < host.Length; i++)
            if ((uint)host[i] >= (uint)plane)
                throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: index {host[i]} at flat position {i} of indices {ShapeUtil.Format(indices.Shape)} is outside the {oh}x{ow} output plane [0, {plane})");
        var gate = new UnpoolGate(op, host, oh, ow);
        return Apply(gate, () => gate.Forward(x), x);
    }
}

/// <summary>Upsampling: a gather of each plane along a fixed table; its backward is the scatter-add of the same table.</summary>
public sealed class ResampleGate : Gate
{
    private readonly string _name;
    private readonly (int[] Index, double[]? Weight, int Taps) _table;
    private readonly int _oh, _ow;
    private Tensor? _index, _weight;
    private PlaneMap? _map;
    private int[]? _inShape;

    internal ResampleGate(string name, (int[] Index, double[]? Weight, int Taps) table, int oh, int ow) => (_name, _table, _oh, _ow) = (name, table, oh, ow);

    /// <inheritdoc/>
    public override string Name => _name;

    /// <summary>The resampled x.</summary>
    public Tensor Forward(Tensor x)
    {
        Raw.CheckFloat(Name, x);
        _inShape = x.ShapeArray;
        _map = new PlaneMap(x.Shape[0] * x.Shape[1], x.Shape[2] * x.Shape[3], _oh * _ow, _table.Taps, IndexPerPlane: false);
        _index = SaveOn(Tensor.FromArray(_table.Index), x);
        if (_table.Weight is { } w)
        {
            using var w64 = Tensor.FromArray(w);
            _weight = SaveOn(Raw.CastTo(w64, x.DType), x);
        }
        using var xc = Raw.Contiguous(x);
        var y = Tensor.Empty([x.Shape[0], x.Shape[1], _oh, _ow], x.DType, x.Device);
        x.Backend.PlaneGather(xc, _index, _weight, y, _map);
        return y;
    }

    /// <summary>Saves a host table on x's device (the host copy and the upload released once saved).</summary>
    private Tensor SaveOn(Tensor host, Tensor x)
    {
        using (host)
        {
            using var onDevice = host.To(x.Device);
            return Save(onDevice);
        }
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor gOut)
    {
        using var dy = Raw.Contiguous(gOut);
        var dx = Tensor.Empty(_inShape!, dy.DType, dy.Device);
        dy.Backend.PlaneScatter(dy, _index!, _weight, dx, _map!, accumulate: true);
        return [dx];
    }
}

/// <summary>Max-unpooling: a scatter of each plane to its indices; its backward is the gather at the same indices.</summary>
public sealed class UnpoolGate : Gate
{
    private readonly string _name;
    private readonly int[] _indices;
    private readonly int _oh, _ow;
    private Tensor? _index;
    private PlaneMap? _map;
    private int[]? _inShape;

    internal UnpoolGate(string name, int[] indices, int oh, int ow) => (_name, _indices, _oh, _ow) = (name, indices, oh, ow);

    /// <inheritdoc/>
    public override string Name => _name;

    /// <summary>The unpooled x.</summary>
    public Tensor Forward(Tensor x)
    {
        Raw.CheckFloat(Name, x);
        _inShape = x.ShapeArray;
        // the gather direction reads the unpooled plane at each pooled element's index: InPlane = OH·OW, OutPlane = H·W
        _map = new PlaneMap(x.Shape[0] * x.Shape[1], _oh * _ow, x.Shape[2] * x.Shape[3], 1, IndexPerPlane: true);
        using (var host = Tensor.FromArray(_indices))
        {
            using var onDevice = host.To(x.Device);
            _index = Save(onDevice);
        }
        using var xc = Raw.Contiguous(x);
        var y = Tensor.Empty([x.Shape[0], x.Shape[1], _oh, _ow], x.DType, x.Device);
        x.Backend.PlaneScatter(xc, _index, null, y, _map, accumulate: false);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor gOut)
    {
        using var dy = Raw.Contiguous(gOut);
        var dx = Tensor.Empty(_inShape!, dy.DType, dy.Device);
        dy.Backend.PlaneGather(dy, _index!, null, dx, _map!);
        return [dx];
    }
}
