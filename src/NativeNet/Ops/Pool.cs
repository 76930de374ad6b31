using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>Max pooling on NCHW input; stride defaults to the kernel size; <paramref name="floor"/> drops uncovered edges as PyTorch does.</summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool floor = false)
    {
        var gate = new Pool2dGate(PoolMode.Max, kernel, stride ?? kernel, padding, floor);
        return Apply(gate, () => gate.Forward(x), x);
    }

    /// <summary>
    /// Max pooling that also returns, as PyTorch's <c>return_indices=True</c>, the in-plane position h·W + w (Int32, not
    /// differentiable) of each window's maximum, for <see cref="MaxUnpool2d"/>. Ties go to the first maximum row-major.
    /// </summary>
    public static (Tensor Output, Tensor Indices) MaxPool2dWithIndices(Tensor x, int kernel, int? stride = null, int padding = 0, bool floor = false)
    {
        var y = MaxPool2d(x, kernel, stride, padding, floor);
        var g = Pool2dGeometry.Create("MaxPool2d", x.Shape, kernel, kernel, stride ?? kernel, stride ?? kernel, padding, padding, floor: true);
        using var xc = Raw.Contiguous(x);
        var indices = Tensor.Empty([g.N, g.C, g.OH, g.OW], DType.Int32, x.Device);
        x.Backend.MaxPool2dIndices(xc, indices, g);
        return (y, indices);
    }

    /// <summary>Average pooling on NCHW input (padding counts as zeros); stride defaults to the kernel size; <paramref name="floor"/> as for max pooling.</summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool floor = false)
    {
        var gate = new Pool2dGate(PoolMode.Average, kernel, stride ?? kernel, padding, floor);
        return Apply(gate, () => gate.Forward(x), x);
    }

    /// <summary>Global average pooling: [N,C,H,W] to [N,C].</summary>
    public static Tensor GlobalAvgPool2d(Tensor x)
    {
        if (x.Rank != 4) throw new ShapeMismatchException($"GlobalAvgPool2d: input must be NCHW (rank 4), got {ShapeUtil.Format(x.Shape)}");
        return Mean(x, [2, 3]);
    }
}

/// <summary>Gate of max and average pooling, usable by hand through <see cref="MaxPool"/>.</summary>
public sealed class Pool2dGate(PoolMode mode, int kernel, int stride, int padding, bool floor = false) : Gate
{
    private Tensor? _x, _y;
    private Pool2dGeometry? _g;

    /// <inheritdoc/>
    public override string Name => mode == PoolMode.Max ? "MaxPool2d" : "AvgPool2d";

    /// <summary>Pools x.</summary>
    public Tensor Forward(Tensor x)
    {
        Raw.CheckFloat(Name, x);
        var g = Pool2dGeometry.Create(Name, x.Shape, kernel, kernel, stride, stride, padding, padding, floor);
        _g = g;
        using var xc = Raw.Contiguous(x);
        var y = Tensor.Empty([g.N, g.C, g.OH, g.OW], x.DType, x.Device);
        x.Backend.Pool2dForward(mode, xc, y, g);
        _x = Save(xc);
        _y = Save(y);
        return y;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor gOut)
    {
        using var dy = Raw.Contiguous(gOut);
        var dx = Tensor.EmptyLike(_x!);
        dy.Backend.Pool2dBackward(mode, _x!, _y!, dy, dx, _g!);
        return [dx];
    }
}

/// <summary>CS231n's <c>max_pool_forward</c>/<c>max_pool_backward</c> pair.</summary>
public static class MaxPool
{
    /// <summary>Max-pooled x with the cache.</summary>
    public static (Tensor Out, Pool2dGate Cache) Forward(Tensor x, int kernel = 2, int stride = 2)
    {
        var gate = new Pool2dGate(PoolMode.Max, kernel, stride, 0);
        using var noGrad = GradMode.Disable();
        return (gate.Forward(x), gate);
    }

    /// <summary>dx from the upstream gradient and the cache.</summary>
    public static Tensor Backward(Tensor dout, Pool2dGate cache) => cache.Backward(dout)[0]!;
}
