using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>
/// AdaGrad: <c>s += g²; p -= lr·g/(√s + eps)</c> (PyTorch's Adagrad without lr_decay; schedules cover decay).
/// CS231n writes eps = 1e-7, PyTorch defaults to 1e-10, which is the default here. State slot: "sum".
/// </summary>
public sealed class AdaGrad : Optimizer
{
    /// <summary>Creates AdaGrad over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="eps">Added to the root of the accumulated squares.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public AdaGrad(IEnumerable<Tensor> parameters, double learningRate = 0.01, double eps = 1e-10, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "sum") => Eps = CheckEps(eps);

    /// <summary>Creates AdaGrad over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="eps">Added to the root of the accumulated squares.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public AdaGrad(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate = 0.01, double eps = 1e-10, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "sum") => Eps = CheckEps(eps);

    internal static double CheckEps(double eps) =>
        eps >= 0 && double.IsFinite(eps) ? eps : throw new ArgumentOutOfRangeException(nameof(eps), $"eps must be a finite non-negative number, got {eps}");

    /// <summary>The denominator guard.</summary>
    public double Eps { get; }

    private protected override void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c) =>
        Run(p, g, s0, s1, new Kernel<T>(Splat<T>(c.LearningRate), Splat<T>(c.WeightDecay), Splat<T>(Eps)));

    private readonly struct Kernel<T>(Vector<T> lr, Vector<T> wd, Vector<T> eps) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> sum, ref Vector<T> unused)
        {
            var gd = g + wd * p;
            sum += gd * gd;
            p -= lr * gd / (Vector.SquareRoot(sum) + eps);
        }
    }

    private protected override bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c) =>
        p.Backend.TryFusedUpdate(FusedUpdateRule.AdaGrad, p, g, state[0], null, [c.LearningRate, c.WeightDecay, Eps]);

    private protected override void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c)
    {
        var sum = state[0];
        var b = p.Backend;
        b.Binary(BinaryOp.Mul, grad, grad, scratch, 0);
        b.Binary(BinaryOp.Add, sum, scratch, sum, 0);
        RatioToRootPlusEps(grad, sum, 1, Eps, scratch);
        AddScaled(p, scratch, -c.LearningRate, scratch);
    }
}
