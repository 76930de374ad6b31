using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>Plain stochastic gradient descent: <c>p -= lr·(g + wd·p)</c> (PyTorch's SGD without momentum).</summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates SGD over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all); e.g. <see cref="Optimizer.WeightsOnly"/>.</param>
    public Sgd(IEnumerable<Tensor> parameters, double learningRate, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere) { }

    /// <summary>Creates SGD over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all); e.g. <see cref="Optimizer.WeightsOnly"/>.</param>
    public Sgd(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere) { }

    private protected override void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c) =>
        Run(p, g, s0, s1, new Kernel<T>(Splat<T>(c.LearningRate), Splat<T>(c.WeightDecay)));

    private readonly struct Kernel<T>(Vector<T> lr, Vector<T> wd) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> s0, ref Vector<T> s1) => p -= lr * (g + wd * p);
    }

    private protected override void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c) =>
        AddScaled(p, grad, -c.LearningRate, scratch);

    private protected override bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c) =>
        p.Backend.TryFusedUpdate(FusedUpdateRule.Sgd, p, g, null, null, [c.LearningRate, c.WeightDecay]);
}
