using NativeNet.Autodiff;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>Matrix product of rank-2 or batched rank-3 tensors, with optional transposes.</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        var gate = new MatMulGate(transA, transB);
        return Apply(gate, () => gate.Forward(a, b), a, b);
    }

    /// <summary>CS231n's affine layer: x [N, d1, ...] flattened to [N, D], times w [D, M], plus b [M].</summary>
    public static Tensor Affine(Tensor x, Tensor w, Tensor b)
    {
        var gate = new AffineGate(weightIsOutByIn: false);
        return Apply(gate, () => gate.Forward(x, w, b), x, w, b);
    }

    /// <summary>PyTorch's linear layer: x [N, in] times wᵀ for w [out, in], plus b [out] (b may be null).</summary>
    public static Tensor Linear(Tensor x, Tensor w, Tensor? b)
    {
        var gate = new AffineGate(weightIsOutByIn: true);
        return b is null ? Apply(gate, () => gate.Forward(x, w, null), x, w) : Apply(gate, () => gate.Forward(x, w, b), x, w, b);
    }
}

/// <summary>Gate of <see cref="Ops.MatMul"/>: dA = dC·op(B)ᵀ, dB = op(A)ᵀ·dC, summed over a shared (rank-2) operand's batch.</summary>
public sealed class MatMulGate(bool transA, bool transB) : Gate
{
    private Tensor? _a, _b;

    /// <summary>op(a)·op(b).</summary>
    public Tensor Forward(Tensor a, Tensor b)
    {
        var c = Raw.MatMul(a, b, transA, transB);
        _a = Save(a);
        _b = Save(b);
        return c;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        Tensor? ga = null, gb = null;
        // With C = A·B: dA = dC·Bᵀ and dB = Aᵀ·dC; transposed operands swap the factors' roles.
        if (NeedsGrad(0))
            ga = transA ? Raw.MatMul(_b!, g, transB, true) : Raw.MatMul(g, _b!, false, !transB);
        if (NeedsGrad(1))
            gb = transB ? Raw.MatMul(g, _a!, true, transA) : Raw.MatMul(_a!, g, !transA, false);
        return [SumBatch(ga, _a!), SumBatch(gb, _b!)];
    }

    private static Tensor? SumBatch(Tensor? grad, Tensor input)
    {
        if (grad is null || grad.Rank == input.Rank) return grad;
        using (grad) return Raw.Sum(grad, [0]);
    }
}

/// <summary>
/// The affine (fully connected) gate, usable by hand as in CS231n:
/// <c>var (out, cache) = Affine.Forward(x, w, b); var (dx, dw, db) = Affine.Backward(dout, cache);</c>
/// </summary>
public sealed class AffineGate(bool weightIsOutByIn) : Gate
{
    private Tensor? _x2d, _w;
    private int[] _xShape = [];
    private bool _hasBias;

    /// <inheritdoc/>
    public override string Name => weightIsOutByIn ? "Linear" : "Affine";

    /// <summary>x·w + b (or x·wᵀ + b for the out-by-in layout).</summary>
    public Tensor Forward(Tensor x, Tensor w, Tensor? b)
    {
        if (x.Rank < 1 || w.Rank != 2) throw new ShapeMismatchException($"{Name}: expected x [N, ...] and a rank-2 weight, got {ShapeUtil.Format(x.Shape)} and {ShapeUtil.Format(w.Shape)}");
        int n = x.Rank == 1 ? 1 : x.Shape[0];
        int d = x.Rank == 1 ? x.Shape[0] : x.Numel / Math.Max(n, 1);
        int inFeatures = weightIsOutByIn ? w.Shape[1] : w.Shape[0], outFeatures = weightIsOutByIn ? w.Shape[0] : w.Shape[1];
        if (d != inFeatures) throw new ShapeMismatchException($"{Name}: input {ShapeUtil.Format(x.Shape)} has {d} features per example but the weight {ShapeUtil.Format(w.Shape)} expects {inFeatures}");
        if (b is not null && (b.Rank != 1 || b.Shape[0] != outFeatures))
            throw new ShapeMismatchException($"{Name}: bias {ShapeUtil.Format(b.Shape)} must be [{outFeatures}] for weight {ShapeUtil.Format(w.Shape)}");
        _xShape = x.ShapeArray;
        _hasBias = b is not null;
        using var x2d = Raw.Reshape(x, [n, d]);
        _x2d = Save(x2d);
        _w = Save(w);
        return Raw.MatMul(x2d, w, false, weightIsOutByIn, Name, bias: b);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor g)
    {
        Tensor? dx = null, dw = null, db = null;
        if (NeedsGrad(0))
        {
            using var dx2d = Raw.MatMul(g, _w!, false, !weightIsOutByIn);
            dx = Raw.Reshape(dx2d, _xShape);
        }
        if (NeedsGrad(1)) dw = weightIsOutByIn ? Raw.MatMul(g, _x2d!, true, false) : Raw.MatMul(_x2d!, g, true, false);
        if (_hasBias && NeedsGrad(2)) db = Raw.Sum(g, [0]);
        return _hasBias ? [dx, dw, db] : [dx, dw];
    }
}

/// <summary>CS231n's <c>affine_forward</c>/<c>affine_backward</c> pair on top of <see cref="AffineGate"/>.</summary>
public static class Affine
{
    /// <summary>out = x·w + b, with the cache for <see cref="Backward"/>.</summary>
    public static (Tensor Out, AffineGate Cache) Forward(Tensor x, Tensor w, Tensor b)
    {
        var gate = new AffineGate(weightIsOutByIn: false);
        using var noGrad = GradMode.Disable();
        return (gate.Forward(x, w, b), gate);
    }

    /// <summary>(dx, dw, db) from the upstream gradient and the cache.</summary>
    public static (Tensor Dx, Tensor Dw, Tensor Db) Backward(Tensor dout, AffineGate cache)
    {
        var grads = cache.Backward(dout);
        return (grads[0]!, grads[1]!, grads[2]!);
    }
}

/// <summary>CS231n's <c>relu_forward</c>/<c>relu_backward</c> pair on top of <see cref="UnaryGate"/>.</summary>
public static class Relu
{
    /// <summary>out = max(0, x), with the cache.</summary>
    public static (Tensor Out, UnaryGate Cache) Forward(Tensor x)
    {
        var gate = new UnaryGate(Backends.UnaryOp.Relu);
        using var noGrad = GradMode.Disable();
        return (gate.Forward(x), gate);
    }

    /// <summary>dx from the upstream gradient and the cache.</summary>
    public static Tensor Backward(Tensor dout, UnaryGate cache) => cache.Backward(dout)[0]!;
}
