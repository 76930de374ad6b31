using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// 2-D cross-correlation on NCHW input x [N,C,H,W] with filters w [K,C,R,S] and bias b [K] (or null).
    /// Output [N,K,OH,OW], OH = (H + 2·pad − R)/stride + 1; a stride that leaves input outside every window is an error
    /// unless <paramref name="floor"/> (PyTorch's behaviour: the leftover rows and columns are dropped).
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, int stride = 1, int padding = 0, bool floor = false)
    {
        var gate = new Conv2dGate(stride, padding, floor);
        return b is null ? Apply(gate, () => gate.Forward(x, w, null), x, w) : Apply(gate, () => gate.Forward(x, w, b), x, w, b);
    }
}

/// <summary>
/// The convolution gate, usable by hand as CS231n's <c>conv_forward</c>/<c>conv_backward</c> through <see cref="Conv"/>.
/// </summary>
public sealed class Conv2dGate(int stride, int padding, bool floor = false) : Gate
{
    private Tensor? _x, _w;
    private Conv2dGeometry? _g;
    private bool _hasBias;

    /// <inheritdoc/>
    public override string Name => "Conv2d";

    /// <summary>conv(x, w) + b.</summary>
    public Tensor Forward(Tensor x, Tensor w, Tensor? b)
    {
        Raw.CheckFloat(Name, x);
        Raw.CheckSameKind(Name, x, w);
        var g = Conv2dGeometry.Create(Name, x.Shape, w.Shape, stride, stride, padding, padding, floor);
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
