using NativeNet.Autodiff;

namespace NativeNet.Models;

/// <summary>
/// CS231n's two-layer network: affine − ReLU − affine − softmax cross-entropy, with L2 regularisation on the weights.
/// Parameters are plain tensors (W1 [D,H], b1 [H], W2 [H,C], b2 [C]) so the net can be trained through the tape or
/// by hand with the gates.
/// </summary>
public sealed class TwoLayerNet : IDisposable
{
    /// <summary>Creates the net with weights drawn from N(0, std²) (default He: √(2/D)) and zero biases.</summary>
    public TwoLayerNet(int inputSize, int hiddenSize, int classes, Generator generator, double? std = null, DType dtype = DType.Float32, Device? device = null)
    {
        var dev = device ?? Device.Cpu;
        W1 = Tensor.Normal([inputSize, hiddenSize], 0, std ?? Math.Sqrt(2.0 / inputSize), generator, dtype, dev).RequireGrad();
        B1 = Tensor.Zeros([hiddenSize], dtype, dev).RequireGrad();
        W2 = Tensor.Normal([hiddenSize, classes], 0, std ?? Math.Sqrt(2.0 / hiddenSize), generator, dtype, dev).RequireGrad();
        B2 = Tensor.Zeros([classes], dtype, dev).RequireGrad();
    }

    /// <summary>First-layer weights [D, H].</summary>
    public Tensor W1 { get; }
    /// <summary>First-layer biases [H].</summary>
    public Tensor B1 { get; }
    /// <summary>Second-layer weights [H, C].</summary>
    public Tensor W2 { get; }
    /// <summary>Second-layer biases [C].</summary>
    public Tensor B2 { get; }

    /// <summary>All parameters in a fixed order.</summary>
    public Tensor[] Parameters => [W1, B1, W2, B2];

    /// <summary>Class scores [N, C] for inputs [N, ...].</summary>
    public Tensor Scores(Tensor x)
    {
        using var hidden = Ops.Affine(x, W1, B1);
        using var activated = Ops.Relu(hidden);
        return Ops.Affine(activated, W2, B2);
    }

    /// <summary>Mean softmax cross-entropy plus reg·(ΣW1² + ΣW2²), recorded on the tape.</summary>
    public Tensor Loss(Tensor x, Tensor labels, double reg = 0)
    {
        using var scores = Scores(x);
        var data = Ops.SoftmaxCrossEntropy(scores, labels);
        if (reg == 0) return data;
        using (data)
        using (var p1 = Ops.L2Penalty(W1))
        using (var p2 = Ops.L2Penalty(W2))
        using (var penalty = Ops.Add(p1, p2))
        using (var scaled = Ops.MulScalar(penalty, reg))
            return Ops.Add(data, scaled);
    }

    /// <summary>
    /// The same loss and gradients computed by hand with the CS231n gates (no tape):
    /// returns the loss and (dW1, db1, dW2, db2).
    /// </summary>
    public (double Loss, Tensor[] Grads) LossByHand(Tensor x, Tensor labels)
    {
        using var noGrad = GradMode.Disable();
        var (hidden, affine1) = Affine.Forward(x, W1, B1);
        var (activated, relu) = Relu.Forward(hidden);
        var (scores, affine2) = Affine.Forward(activated, W2, B2);
        var lossGate = new SoftmaxCrossEntropyGate();
        using var loss = lossGate.Forward(scores, labels);
        using var one = Tensor.OnesLike(loss);
        using var dScores = lossGate.Backward(one)[0]!;
        var (dActivated, dW2, db2) = Affine.Backward(dScores, affine2);
        using var dHidden = Relu.Backward(dActivated, relu);
        var (dx, dW1, db1) = Affine.Backward(dHidden, affine1);
        foreach (var t in new[] { hidden, activated, scores, dActivated, dx }) t.Dispose();
        foreach (var g in new IGate[] { affine1, relu, affine2, lossGate }) g.Release();
        return (loss.Item(), [dW1, db1, dW2, db2]);
    }

    /// <summary>Predicted class per row.</summary>
    public int[] Predict(Tensor x)
    {
        using var noGrad = GradMode.Disable();
        using var scores = Scores(x);
        using var best = scores.ArgMax(1);
        return best.ToArray<int>();
    }

    /// <summary>Plain SGD: p −= lr·grad for every parameter, then clears the gradients.</summary>
    public void SgdStep(double learningRate)
    {
        using var noGrad = GradMode.Disable();
        foreach (var p in Parameters)
        {
            if (p.Grad is null) continue;
            using var step = Raw.MulScalar(p.Grad, -learningRate);
            Raw.AddInPlace(p, step);
            p.Grad.Dispose();
            p.Grad = null;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var p in Parameters) { p.Grad?.Dispose(); p.Dispose(); }
    }
}
