using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>
/// Adam (PyTorch's formula): <c>m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
/// p -= (lr/(1−β1^t))·m/(√v/√(1−β2^t) + eps)</c>, with <c>t</c> the parameter's step number and
/// <c>g</c> including L2 weight decay <c>wd·p</c> where it applies. State slots: "exp_avg", "exp_avg_sq".
/// </summary>
public class Adam : Optimizer
{
    /// <summary>Creates Adam over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size (1e-3 or 5e-4 are typical).</param>
    /// <param name="beta1">Decay of the first moment.</param>
    /// <param name="beta2">Decay of the second moment.</param>
    /// <param name="eps">Added to the root of the corrected second moment.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public Adam(IEnumerable<Tensor> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "exp_avg", "exp_avg_sq") => (Beta1, Beta2, Eps) = Check(beta1, beta2, eps);

    /// <summary>Creates Adam over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size (1e-3 or 5e-4 are typical).</param>
    /// <param name="beta1">Decay of the first moment.</param>
    /// <param name="beta2">Decay of the second moment.</param>
    /// <param name="eps">Added to the root of the corrected second moment.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public Adam(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "exp_avg", "exp_avg_sq") => (Beta1, Beta2, Eps) = Check(beta1, beta2, eps);

    private static (double, double, double) Check(double beta1, double beta2, double eps)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), $"Adam: beta1 must be in [0, 1), got {beta1}");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), $"Adam: beta2 must be in [0, 1), got {beta2}");
        return (beta1, beta2, AdaGrad.CheckEps(eps));
    }

    /// <summary>Decay of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>The denominator guard.</summary>
    public double Eps { get; }

    private protected override void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c)
    {
        var (stepSize, invRootBc2) = Corrections(c);
        var (coupled, decayed) = Decay(c);
        if (coupled == 0 && decayed == 1)
        {
            // no weight decay (the default): two of the kernel's multiply-adds per lane do nothing, and the update is
            // memory- and divider-bound enough for them to show
            Run(p, g, s0, s1, new PlainKernel<T>(Splat<T>(Beta1), Splat<T>(1 - Beta1), Splat<T>(Beta2), Splat<T>(1 - Beta2),
                Splat<T>(invRootBc2), Splat<T>(Eps), Splat<T>(stepSize)));
            return;
        }
        Run(p, g, s0, s1, new Kernel<T>(Splat<T>(coupled), Splat<T>(decayed), Splat<T>(Beta1), Splat<T>(1 - Beta1), Splat<T>(Beta2), Splat<T>(1 - Beta2),
            Splat<T>(invRootBc2), Splat<T>(Eps), Splat<T>(stepSize)));
    }

    /// <summary>Decoupled decay (AdamW) multiplies p by (1 − lr·wd) before the step; coupled decay adds wd·p to g.</summary>
    private (double Coupled, double Decayed) Decay(StepContext c) =>
        DecoupledWeightDecay ? (0, 1 - c.LearningRate * c.WeightDecay) : (c.WeightDecay, 1);

    private protected override bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c)
    {
        var (stepSize, invRootBc2) = Corrections(c);
        var (coupled, decayed) = Decay(c);
        return p.Backend.TryFusedUpdate(FusedUpdateRule.Adam, p, g, state[0], state[1],
            [coupled, decayed, Beta1, 1 - Beta1, Beta2, 1 - Beta2, invRootBc2, Eps, stepSize]);
    }

    private (double StepSize, double InvRootBc2) Corrections(StepContext c)
    {
        double bc1 = 1 - Math.Pow(Beta1, c.Step);
        double bc2 = 1 - Math.Pow(Beta2, c.Step);
        return (c.LearningRate / bc1, 1 / Math.Sqrt(bc2));
    }

    private readonly struct Kernel<T>(Vector<T> wd, Vector<T> decayed, Vector<T> b1, Vector<T> oneMinusB1, Vector<T> b2, Vector<T> oneMinusB2,
        Vector<T> invRootBc2, Vector<T> eps, Vector<T> stepSize) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> m, ref Vector<T> v)
        {
            var gd = g + wd * p;
            p *= decayed;
            m = b1 * m + oneMinusB1 * gd;
            v = b2 * v + oneMinusB2 * (gd * gd);
            p -= stepSize * m / (Vector.SquareRoot(v) * invRootBc2 + eps);
        }
    }

    private readonly struct PlainKernel<T>(Vector<T> b1, Vector<T> oneMinusB1, Vector<T> b2, Vector<T> oneMinusB2,
        Vector<T> invRootBc2, Vector<T> eps, Vector<T> stepSize) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> m, ref Vector<T> v)
        {
            m = b1 * m + oneMinusB1 * g;
            v = b2 * v + oneMinusB2 * (g * g);
            p -= stepSize * m / (Vector.SquareRoot(v) * invRootBc2 + eps);
        }
    }

    private protected override void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c)
    {
        var (stepSize, invRootBc2) = Corrections(c);
        var (m, v) = (state[0], state[1]);
        var b = p.Backend;
        Scale(m, Beta1);
        AddScaled(m, grad, 1 - Beta1, scratch);
        Scale(v, Beta2);
        b.Binary(BinaryOp.Mul, grad, grad, scratch, 0);
        AddScaled(v, scratch, 1 - Beta2, scratch);
        RatioToRootPlusEps(m, v, invRootBc2, Eps, scratch);
        AddScaled(p, scratch, -stepSize, scratch);
    }
}

/// <summary>
/// AdamW (PyTorch's formula): decoupled weight decay <c>p *= 1 − lr·wd</c> on the selected parameters, then the
/// <see cref="Adam"/> step on the raw gradient. PyTorch's default weight decay 0.01 is the default here.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="beta1">Decay of the first moment.</param>
    /// <param name="beta2">Decay of the second moment.</param>
    /// <param name="eps">Added to the root of the corrected second moment.</param>
    /// <param name="weightDecay">Decoupled decay coefficient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all); e.g. <see cref="Optimizer.WeightsOnly"/>.</param>
    public AdamW(IEnumerable<Tensor> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0.01, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, beta1, beta2, eps, weightDecay, decayWhere) { }

    /// <summary>Creates AdamW over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="beta1">Decay of the first moment.</param>
    /// <param name="beta2">Decay of the second moment.</param>
    /// <param name="eps">Added to the root of the corrected second moment.</param>
    /// <param name="weightDecay">Decoupled decay coefficient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all); e.g. <see cref="Optimizer.WeightsOnly"/>.</param>
    public AdamW(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0.01, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, beta1, beta2, eps, weightDecay, decayWhere) { }

    private protected override bool DecoupledWeightDecay => true;
}
