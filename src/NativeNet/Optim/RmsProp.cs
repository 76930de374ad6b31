using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>
/// RMSProp: <c>s = d·s + (1−d)·g²; p -= lr·g/(√s + eps)</c> (PyTorch's RMSprop, alpha = d, not centred, no momentum).
/// State slot: "square_avg".
/// </summary>
public sealed class RmsProp : Optimizer
{
    /// <summary>Creates RMSProp over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="decay">d in [0, 1), typically 0.9–0.99 (PyTorch's alpha).</param>
    /// <param name="eps">Added to the root of the mean square.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public RmsProp(IEnumerable<Tensor> parameters, double learningRate = 0.01, double decay = 0.99, double eps = 1e-8, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "square_avg") => (Decay, Eps) = (CheckDecay(decay), AdaGrad.CheckEps(eps));

    /// <summary>Creates RMSProp over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="decay">d in [0, 1), typically 0.9–0.99 (PyTorch's alpha).</param>
    /// <param name="eps">Added to the root of the mean square.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public RmsProp(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate = 0.01, double decay = 0.99, double eps = 1e-8, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "square_avg") => (Decay, Eps) = (CheckDecay(decay), AdaGrad.CheckEps(eps));

    private static double CheckDecay(double d) =>
        d >= 0 && d < 1 ? d : throw new ArgumentOutOfRangeException(nameof(d), $"RmsProp: decay must be in [0, 1), got {d}");

    /// <summary>The decay rate d of the mean square.</summary>
    public double Decay { get; }

    /// <summary>The denominator guard.</summary>
    public double Eps { get; }

    private protected override void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c) =>
        Run(p, g, s0, s1, new Kernel<T>(Splat<T>(c.LearningRate), Splat<T>(c.WeightDecay), Splat<T>(Decay), Splat<T>(1 - Decay), Splat<T>(Eps)));

    private readonly struct Kernel<T>(Vector<T> lr, Vector<T> wd, Vector<T> d, Vector<T> oneMinusD, Vector<T> eps) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> sq, ref Vector<T> unused)
        {
            var gd = g + wd * p;
            sq = d * sq + oneMinusD * (gd * gd);
            p -= lr * gd / (Vector.SquareRoot(sq) + eps);
        }
    }

    private protected override bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c) =>
        p.Backend.TryFusedUpdate(FusedUpdateRule.RmsProp, p, g, state[0], null, [c.LearningRate, c.WeightDecay, Decay, 1 - Decay, Eps]);

    private protected override void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c)
    {
        var sq = state[0];
        var b = p.Backend;
        Scale(sq, Decay);
        b.Binary(BinaryOp.Mul, grad, grad, scratch, 0);
        AddScaled(sq, scratch, 1 - Decay, scratch);
        RatioToRootPlusEps(grad, sq, 1, Eps, scratch);
        AddScaled(p, scratch, -c.LearningRate, scratch);
    }
}
