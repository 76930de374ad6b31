using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>
/// Nesterov momentum in the CS231n form: <c>v_old = v; v = ρ·v − lr·g; p += −ρ·v_old + (1+ρ)·v</c>
/// (the velocity carries the learning rate). <c>g</c> includes weight decay <c>wd·p</c> where it applies.
/// PyTorch's differently parameterised variant is <see cref="Momentum"/> with <c>nesterov: true</c>. State slot: "velocity".
/// </summary>
/// <remarks>
/// The two Nesterov forms side by side (ρ momentum, lr the learning rate of the current step, g the gradient):
/// <list type="table">
/// <listheader><term>form</term><description>update</description></listheader>
/// <item><term><see cref="Nesterov"/> (CS231n)</term><description><c>v_old = v; v = ρ·v − lr·g; p += −ρ·v_old + (1+ρ)·v</c>: the velocity carries the learning rate of the step that added each gradient</description></item>
/// <item><term><see cref="Momentum"/> with <c>nesterov: true</c> (PyTorch <c>torch.optim.SGD(nesterov=True)</c>)</term><description><c>v = ρ·v + g; p −= lr·(g + ρ·v)</c>: the buffer is free of the learning rate, and the current lr scales the whole step</description></item>
/// </list>
/// With a constant learning rate the two give the same parameters (CS231n's v equals −lr times PyTorch's buffer).
/// Under a learning-rate schedule they differ: after lr changes, the CS231n velocity still holds the old rates, the
/// PyTorch step applies the new rate to the accumulated history at once. Use <see cref="Momentum"/> with
/// <c>nesterov: true</c> to reproduce PyTorch runs, <see cref="Nesterov"/> for the CS231n assignments.
/// </remarks>
public sealed class Nesterov : Optimizer
{
    /// <summary>Creates CS231n Nesterov momentum over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="momentum">ρ in [0, 1).</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public Nesterov(IEnumerable<Tensor> parameters, double learningRate, double momentum = 0.9, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "velocity") => Rho = CheckMomentum(momentum);

    /// <summary>Creates CS231n Nesterov momentum over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="momentum">ρ in [0, 1).</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public Nesterov(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate, double momentum = 0.9, double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "velocity") => Rho = CheckMomentum(momentum);

    private static double CheckMomentum(double momentum) =>
        momentum >= 0 && momentum < 1 ? momentum : throw new ArgumentOutOfRangeException(nameof(momentum), $"Nesterov: momentum must be in [0, 1), got {momentum}");

    /// <summary>The momentum coefficient ρ.</summary>
    public double Rho { get; }

    private protected override void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c) =>
        Run(p, g, s0, s1, new Kernel<T>(Splat<T>(c.LearningRate), Splat<T>(c.WeightDecay), Splat<T>(Rho), Splat<T>(1 + Rho)));

    private readonly struct Kernel<T>(Vector<T> lr, Vector<T> wd, Vector<T> rho, Vector<T> onePlusRho) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> v, ref Vector<T> unused)
        {
            var gd = g + wd * p;
            var vOld = v;
            v = rho * v - lr * gd;
            p += onePlusRho * v - rho * vOld;
        }
    }

    private protected override bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c) =>
        p.Backend.TryFusedUpdate(FusedUpdateRule.NesterovCs231n, p, g, state[0], null, [c.LearningRate, c.WeightDecay, Rho, 1 + Rho]);

    private protected override void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c)
    {
        var v = state[0];
        // p −= ρ·v_old first, so v can then be updated in place and p += (1+ρ)·v_new.
        AddScaled(p, v, -Rho, scratch);
        Scale(v, Rho);
        AddScaled(v, grad, -c.LearningRate, scratch);
        AddScaled(p, v, 1 + Rho, scratch);
    }
}
