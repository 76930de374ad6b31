using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// 2-D cross-correlation on NCHW input x [N,C,H,W] with filters w [K,C/groups,R,S] and bias b [K] (or null).
    /// Output [N,K,OH,OW], OH = (H + 2·pad − dilation·(R − 1) − 1)/stride + 1; a stride that leaves input outside every window is an error
    /// unless <paramref name="floor"/> (PyTorch's behaviour: the leftover rows and columns are dropped).
    /// <paramref name="groups"/> splits channels and filters into that many independent convolutions (groups = C: depthwise).
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, int stride = 1, int padding = 0, bool floor = false, int dilation = 1, int groups = 1) =>
        Conv2d(x, w, b, (stride, stride), (padding, padding), (dilation, dilation), groups, floor);

    /// <summary>
    /// 2-D cross-correlation with stride, padding and dilation given per axis (height, width); otherwise as
    /// <see cref="Conv2d(Tensor, Tensor, Tensor?, int, int, bool, int, int)"/>, including the CS231n stride rule unless <paramref name="floor"/>.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1, bool floor = false)
    {
        var gate = new Conv2dGate(stride, padding, dilation, groups, floor);
        return b is null ? Apply(gate, () => gate.Forward(x, w, null), x, w) : Apply(gate, () => gate.Forward(x, w, b), x, w, b);
    }

    /// <summary>
    /// 2-D cross-correlation with PyTorch's string padding: "valid" (no padding, leftover rows dropped as PyTorch does) or
    /// "same" (stride 1, output as large as the input). "same" needs the same padding on both sides, i.e. dilation·(k − 1) even
    /// on each axis; PyTorch's extra column on the right for even kernels is refused rather than approximated.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, string padding, (int H, int W)? dilation = null, int groups = 1)
    {
        var d = dilation ?? (1, 1);
        if (w.Rank != 4) throw new ShapeMismatchException($"Conv2d: filters must be [K, C/groups, R, S] (rank 4), got {ShapeUtil.Format(w.Shape)}");
        var pad = SamePadding("Conv2d", padding, (w.Shape[2], w.Shape[3]), d);
        return Conv2d(x, w, b, (1, 1), pad, d, groups, floor: true);
    }

    internal static (int H, int W) SamePadding(string op, string padding, (int H, int W) kernel, (int H, int W) dilation)
    {
        switch (padding)
        {
            case "valid": return (0, 0);
            case "same":
                int th = dilation.H * (kernel.H - 1), tw = dilation.W * (kernel.W - 1);
                if (th % 2 != 0 || tw % 2 != 0)
                    throw new ArgumentException($"{op}: padding 'same' with kernel ({kernel.H}, {kernel.W}) and dilation ({dilation.H}, {dilation.W}) needs uneven padding "
                        + $"(total ({th}, {tw})), which is not supported; use an odd kernel or pad the input explicitly");
                return (th / 2, tw / 2);
            default: throw new ArgumentException($"{op}: padding must be 'same' or 'valid', got '{padding}'");
        }
    }

    /// <summary>
    /// 1-D cross-correlation on x [N,C,L] with filters w [K,C/groups,R] and bias b [K] (or null): output [N,K,OL],
    /// OL = (L + 2·pad − dilation·(R − 1) − 1)/stride + 1, the CS231n stride rule applying unless <paramref name="floor"/>.
    /// It is the 2-D convolution of a one-row image (same gate, same kernels).
    /// </summary>
    public static Tensor Conv1d(Tensor x, Tensor w, Tensor? b, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool floor = false)
    {
        if (x.Rank != 3) throw new ShapeMismatchException($"Conv1d: input must be [N, C, L] (rank 3), got {ShapeUtil.Format(x.Shape)}");
        if (w.Rank != 3) throw new ShapeMismatchException($"Conv1d: filters must be [K, C/groups, R] (rank 3), got {ShapeUtil.Format(w.Shape)}");
        var y = Conv2d(Reshape(x, x.Shape[0], x.Shape[1], 1, x.Shape[2]), Reshape(w, w.Shape[0], w.Shape[1], 1, w.Shape[2]), b,
            (1, stride), (0, padding), (1, dilation), groups, floor);
        return Reshape(y, y.Shape[0], y.Shape[1], y.Shape[3]);
    }

    /// <summary>1-D cross-correlation with "same" or "valid" padding (see <see cref="Conv2d(Tensor, Tensor, Tensor?, string, ValueTuple{int, int}?, int)"/>).</summary>
    public static Tensor Conv1d(Tensor x, Tensor w, Tensor? b, string padding, int dilation = 1, int groups = 1)
    {
        if (w.Rank != 3) throw new ShapeMismatchException($"Conv1d: filters must be [K, C/groups, R] (rank 3), got {ShapeUtil.Format(w.Shape)}");
        var pad = SamePadding("Conv1d", padding, (1, w.Shape[2]), (1, dilation));
        return Conv1d(x, w, b, 1, pad.W, dilation, groups, floor: true);
    }

    /// <summary>
    /// 2-D transposed convolution (the adjoint of <see cref="Conv2d(Tensor, Tensor, Tensor?, ValueTuple{int, int}, ValueTuple{int, int}, ValueTuple{int, int}, int, bool)"/>,
    /// PyTorch's <c>conv_transpose2d</c>): x [N,Cin,H,W], w [Cin,Cout/groups,R,S], b [Cout] (or null); output [N,Cout,OH,OW] with
    /// OH = (H − 1)·stride − 2·pad + dilation·(R − 1) + outputPadding + 1. <paramref name="outputPadding"/> (less than the stride or the
    /// dilation, as PyTorch requires) picks among the output sizes a strided convolution maps to the same input size; the
    /// CS231n stride rule does not apply, the output being built to fit.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor w, Tensor? b, (int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding,
        (int H, int W) dilation, int groups = 1)
    {
        var gate = new ConvTranspose2dGate(stride, padding, outputPadding, dilation, groups);
        var y = Apply(gate, () => gate.Forward(x, w), x, w);
        if (b is null) return y;
        if (b.Rank != 1 || b.Shape[0] != y.Shape[1])
            throw new ShapeMismatchException($"ConvTranspose2d: bias {ShapeUtil.Format(b.Shape)} must be [{y.Shape[1]}] for filters {ShapeUtil.Format(w.Shape)} in {groups} groups");
        return Add(y, Reshape(b, 1, b.Shape[0], 1, 1));
    }

    /// <summary>2-D transposed convolution with the same stride, padding, output padding and dilation on both axes.</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor w, Tensor? b, int stride = 1, int padding = 0, int outputPadding = 0, int dilation = 1, int groups = 1) =>
        ConvTranspose2d(x, w, b, (stride, stride), (padding, padding), (outputPadding, outputPadding), (dilation, dilation), groups);
}

/// <summary>
/// The convolution gate, usable by hand as CS231n's <c>conv_forward</c>/<c>conv_backward</c> through <see cref="Conv"/>.
/// </summary>
public sealed class Conv2dGate((int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1, bool floor = false) : Gate
{
    private Tensor? _x, _w;
    private Conv2dGeometry? _g;
    private bool _hasBias;

    /// <summary>The classic gate: square stride and padding, no dilation, one group.</summary>
    public Conv2dGate(int stride, int padding, bool floor = false) : this((stride, stride), (padding, padding), (1, 1), 1, floor) { }

    /// <inheritdoc/>
    public override string Name => "Conv2d";

    /// <summary>conv(x, w) + b.</summary>
    public Tensor Forward(Tensor x, Tensor w, Tensor? b)
    {
        Raw.CheckFloat(Name, x);
        Raw.CheckSameKind(Name, x, w);
        var g = Conv2dGeometry.Create(Name, x.Shape, w.Shape, stride.H, stride.W, padding.H, padding.W, floor, dilation.H, dilation.W, groups);
        if (b is not null)
        {
            Raw.CheckSameKind(Name, x, b);
            if (b.Rank != 1 || b.Shape[0] != g.K) throw new ShapeMismatchException($"{Name}: bias {ShapeUtil.Format(b.Shape)} must be [{g.K}] for filters {ShapeUtil.Format(w.Shape)}");
        }
        _g = g;
        _hasBias = b is not null;
        using var xc = Raw.Contiguous(x);
        using var wc = Raw.Contiguous(w);
        using var bc = b is null ? null : Raw.Contiguous(b);
        _x = Save(xc);
        _w = Save(wc);
        var y = Tensor.Empty([g.N, g.K, g.OH, g.OW], x.DType, x.Device);
        x.Backend.Conv2dForward(xc, wc, bc, y, g);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor gOut)
    {
        using var dy = Raw.Contiguous(gOut);
        Tensor? dx = null, dw = null, db = null;
        var backend = dy.Backend;
        if (NeedsGrad(0))
        {
            dx = Tensor.EmptyLike(_x!);
            backend.Conv2dBackwardData(dy, _w!, dx, _g!);
        }
        if (NeedsGrad(1) || (_hasBias && NeedsGrad(2)))
        {
            dw = Tensor.EmptyLike(_w!);
            if (_hasBias) db = Tensor.Empty([_g!.K], dy.DType, dy.Device);
            backend.Conv2dBackwardFilter(_x!, dy, dw, db, _g!);
        }
        return _hasBias ? [dx, dw, db] : [dx, dw];
    }
}

/// <summary>
/// The transposed-convolution gate. Its forward is the convolution's data gradient and its data gradient the
/// convolution's forward, with the geometry of the convolution that maps the output back onto the input.
/// </summary>
public sealed class ConvTranspose2dGate((int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding, (int H, int W) dilation, int groups = 1) : Gate
{
    private Tensor? _x, _w;
    private Conv2dGeometry? _g;

    /// <inheritdoc/>
    public override string Name => "ConvTranspose2d";

    /// <summary>convᵀ(x, w).</summary>
    public Tensor Forward(Tensor x, Tensor w)
    {
        Raw.CheckFloat(Name, x);
        Raw.CheckSameKind(Name, x, w);
        if (x.Rank != 4) throw new ShapeMismatchException($"{Name}: input must be NCHW (rank 4), got {ShapeUtil.Format(x.Shape)}");
        if (w.Rank != 4) throw new ShapeMismatchException($"{Name}: filters must be [Cin, Cout/groups, R, S] (rank 4), got {ShapeUtil.Format(w.Shape)}");
        if (groups < 1 || w.Shape[0] % groups != 0)
            throw new ShapeMismatchException($"{Name}: groups {groups} must divide the {w.Shape[0]} input channels of filters {ShapeUtil.Format(w.Shape)}");
        if (x.Shape[1] != w.Shape[0])
            throw new ShapeMismatchException($"{Name}: input {ShapeUtil.Format(x.Shape)} has {x.Shape[1]} channels but filters {ShapeUtil.Format(w.Shape)} expect {w.Shape[0]}");
        if (stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1 || padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"{Name}: stride ({stride.H}, {stride.W}) and dilation ({dilation.H}, {dilation.W}) must be positive, padding ({padding.H}, {padding.W}) non-negative");
        if (outputPadding.H < 0 || outputPadding.W < 0
            || (outputPadding.H >= stride.H && outputPadding.H >= dilation.H) || (outputPadding.W >= stride.W && outputPadding.W >= dilation.W))
            throw new ArgumentException($"{Name}: output padding ({outputPadding.H}, {outputPadding.W}) must be non-negative and smaller than the stride ({stride.H}, {stride.W}) or the dilation ({dilation.H}, {dilation.W})");
        int cout = w.Shape[1] * groups;
        int oh = (x.Shape[2] - 1) * stride.H - 2 * padding.H + dilation.H * (w.Shape[2] - 1) + outputPadding.H + 1;
        int ow = (x.Shape[3] - 1) * stride.W - 2 * padding.W + dilation.W * (w.Shape[3] - 1) + outputPadding.W + 1;
        if (oh < 1 || ow < 1)
            throw new ShapeMismatchException($"{Name}: input {ShapeUtil.Format(x.Shape)} with filters {ShapeUtil.Format(w.Shape)}, stride ({stride.H}, {stride.W}), padding ({padding.H}, {padding.W}) gives an empty output ({oh}, {ow})");
        // the convolution from the output [N, Cout, OH, OW] back to x: filters [K = Cin, Cout/groups, R, S] are w as stored
        var g = Conv2dGeometry.Create(Name, [x.Shape[0], cout, oh, ow], w.Shape, stride.H, stride.W, padding.H, padding.W, floor: true, dilation.H, dilation.W, groups);
        if (g.OH != x.Shape[2] || g.OW != x.Shape[3])
            throw new ShapeMismatchException($"{Name}: output padding ({outputPadding.H}, {outputPadding.W}) is too large for input {ShapeUtil.Format(x.Shape)} and stride ({stride.H}, {stride.W})");
        _g = g;
        using var xc = Raw.Contiguous(x);
        using var wc = Raw.Contiguous(w);
        _x = Save(xc);
        _w = Save(wc);
        var y = Tensor.Empty([g.N, g.C, g.H, g.W], x.DType, x.Device);
        x.Backend.Conv2dBackwardData(xc, wc, y, g);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor gOut)
    {
        using var dy = Raw.Contiguous(gOut);
        Tensor? dx = null, dw = null;
        var backend = dy.Backend;
        if (NeedsGrad(0))
        {
            dx = Tensor.EmptyLike(_x!);
            backend.Conv2dForward(dy, _w!, null, dx, _g!);
        }
        if (NeedsGrad(1))
        {
            dw = Tensor.EmptyLike(_w!);
            backend.Conv2dBackwardFilter(dy, _x!, dw, null, _g!);
        }
        return [dx, dw];
    }
}

/// <summary>CS231n's <c>conv_forward</c>/<c>conv_backward</c> pair.</summary>
public static class Conv
{
    /// <summary>out = conv(x, w) + b with the cache.</summary>
    public static (Tensor Out, Conv2dGate Cache) Forward(Tensor x, Tensor w, Tensor b, int stride = 1, int padding = 0)
    {
        var gate = new Conv2dGate(stride, padding);
        using var noGrad = GradMode.Disable();
        return (gate.Forward(x, w, b), gate);
    }

    /// <summary>(dx, dw, db) from the upstream gradient and the cache.</summary>
    public static (Tensor Dx, Tensor Dw, Tensor Db) Backward(Tensor dout, Conv2dGate cache)
    {
        var grads = cache.Backward(dout);
        return (grads[0]!, grads[1]!, grads[2]!);
    }
}
