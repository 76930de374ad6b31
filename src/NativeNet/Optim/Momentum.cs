using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>
/// SGD with momentum, CS231n form <c>v = ρ·v + g; p -= lr·v</c>, which is also PyTorch's SGD momentum (dampening 0).
/// With <c>nesterov: true</c> it is PyTorch's Nesterov variant <c>v = ρ·v + g; p -= lr·(g + ρ·v)</c>; for the
/// CS231n Nesterov form see <see cref="Nesterov"/>. <c>g</c> includes weight decay <c>wd·p</c> where it applies.
/// State slot: "momentum_buffer".
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
public sealed class Momentum : Optimizer
{
    /// <summary>Creates momentum SGD over unnamed parameters.</summary>
    /// <param name="parameters">Tensors to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="momentum">ρ in [0, 1), typically 0.9–0.99.</param>
    /// <param name="nesterov">Use PyTorch's Nesterov look-ahead.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public Momentum(IEnumerable<Tensor> parameters, double learningRate, double momentum = 0.9, bool nesterov = false,
        double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "momentum_buffer") => Init(momentum, nesterov);

    /// <summary>Creates momentum SGD over named parameters.</summary>
    /// <param name="parameters">(name, tensor) pairs to update.</param>
    /// <param name="learningRate">Step size.</param>
    /// <param name="momentum">ρ in [0, 1), typically 0.9–0.99.</param>
    /// <param name="nesterov">Use PyTorch's Nesterov look-ahead.</param>
    /// <param name="weightDecay">L2 coefficient added to the gradient.</param>
    /// <param name="decayWhere">Which parameters decay (null: all).</param>
    public Momentum(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate, double momentum = 0.9, bool nesterov = false,
        double weightDecay = 0, Func<string, Tensor, bool>? decayWhere = null)
        : base(parameters, learningRate, weightDecay, decayWhere, "momentum_buffer") => Init(momentum, nesterov);

    private void Init(double momentum, bool nesterov)
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), $"Momentum: momentum must be in [0, 1), got {momentum}");
        Rho = momentum;
        UseNesterov = nesterov;
    }

    /// <summary>The momentum coefficient ρ.</summary>
    public double Rho { get; private set; }

    /// <summary>Whether PyTorch's Nesterov look-ahead is used.</summary>
    public bool UseNesterov { get; private set; }

    private protected override void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c) =>
        Run(p, g, s0, s1, new Kernel<T>(Splat<T>(c.LearningRate), Splat<T>(c.WeightDecay), Splat<T>(Rho), UseNesterov));

    private readonly struct Kernel<T>(Vector<T> lr, Vector<T> wd, Vector<T> rho, bool nesterov) : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> v, ref Vector<T> unused)
        {
            var gd = g + wd * p;
            v = rho * v + gd;
            p -= lr * (nesterov ? gd + rho * v : v);
        }
    }

    private protected override bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c) =>
        p.Backend.TryFusedUpdate(UseNesterov ? FusedUpdateRule.MomentumNesterov : FusedUpdateRule.Momentum, p, g, state[0], null,
            [c.LearningRate, c.WeightDecay, Rho]);

    private protected override void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c)
    {
        var v = state[0];
        var b = p.Backend;
        Scale(v, Rho);
        b.Binary(BinaryOp.Add, v, grad, v, 0);
        if (UseNesterov)
        {
            b.Unary(UnaryOp.MulScalar, v, scratch, Rho, 0);
            b.Binary(BinaryOp.Add, scratch, grad, scratch, 0);
            AddScaled(p, scratch, -c.LearningRate, scratch);
        }
        else
        {
            AddScaled(p, v, -c.LearningRate, scratch);
        }
    }
}
