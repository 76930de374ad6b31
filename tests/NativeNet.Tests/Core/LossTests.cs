using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>The worked loss numbers of the course material, on every backend.</summary>
public class LossTests(string backend) : BackendTest(backend)
{
    [Test]
    public void SvmWorkedExample()
    {
        // cat is the true class with score -96.8; car 437.9, frog 61.95 -> 535.7 + 159.75 = 695.45
        using var scores = F32([-96.8f, 437.9f, 61.95f], 1, 3);
        using var loss = Ops.SvmLoss(scores, Labels(0));
        Assert.That(loss.Item(), Is.EqualTo(695.45).Within(1e-3));
        using var squared = Ops.SvmLoss(scores, Labels(0), squared: true);
        Assert.That(squared.Item(), Is.EqualTo(535.7 * 535.7 + 159.75 * 159.75).Within(0.5));
    }

    [Test]
    public void SoftmaxCrossEntropyValues()
    {
        using var uniform = F32(new float[30], 3, 10);
        using var loss = Ops.SoftmaxCrossEntropy(uniform, Labels(1, 5, 9));
        Assert.That(loss.Item(), Is.EqualTo(Math.Log(10)).Within(1e-6));
        using var huge = F32([123, 456, 789], 1, 3);
        using var l2 = Ops.SoftmaxCrossEntropy(huge, Labels(2));
        Assert.That(l2.Item(), Is.EqualTo(0).Within(1e-6));
        using var l0 = Ops.SoftmaxCrossEntropy(huge, Labels(0));
        Assert.That(l0.Item(), Is.EqualTo(666).Within(1e-2), "no overflow: -log softmax = 789 - 123");
    }

    [Test]
    public void SoftmaxCrossEntropyGradientIsSoftmaxMinusOneHot()
    {
        var logits = F32([1, 2, 3, 1, 1, 1], 2, 3).RequireGrad();
        using var loss = Ops.SoftmaxCrossEntropy(logits, Labels(2, 0));
        loss.Backward();
        double e = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Approx.AreClose([Math.Exp(1) / e / 2, Math.Exp(2) / e / 2, (Math.Exp(3) / e - 1) / 2, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6], logits.Grad!);
    }

    [Test]
    public void BinaryCrossEntropyAndMse()
    {
        using var z = F32([0, 2, -1], 3);
        using var y = F32([1, 1, 0], 3);
        double expected = (Math.Log(2) + Math.Log(1 + Math.Exp(-2)) + Math.Log(1 + Math.Exp(-1))) / 3;
        using var bce = Ops.BinaryCrossEntropyWithLogits(z, y);
        Assert.That(bce.Item(), Is.EqualTo(expected).Within(1e-6));
        using var p = Ops.Sigmoid(z);
        using var bceP = Ops.BinaryCrossEntropy(p, y);
        Assert.That(bceP.Item(), Is.EqualTo(expected).Within(1e-6));
        using var big = F32([100], 1);
        using var one = F32([0], 1);
        using var stable = Ops.BinaryCrossEntropyWithLogits(big, one);
        Assert.That(stable.Item(), Is.EqualTo(100).Within(1e-4));
        using var mse = Ops.MseLoss(F32([1, 2, 3], 3), F32([1, 0, 0], 3));
        Assert.That(mse.Item(), Is.EqualTo(13.0 / 3).Within(1e-6));
    }

    [Test]
    public void Penalties()
    {
        using var w = F32([1, -2, 3], 3);
        using var l2 = Ops.L2Penalty(w);
        using var l1 = Ops.L1Penalty(w);
        Assert.That(l2.Item(), Is.EqualTo(14).Within(1e-6));
        Assert.That(l1.Item(), Is.EqualTo(6).Within(1e-6));
    }
}
