using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Optim;

public class GradClipTests
{
    [Test]
    public void GlobalNormScalesAllGradientsAndReturnsTheNorm([Values(true, false)] bool contiguous)
    {
        var a = Tensor.Zeros(2, 2);
        var b = Tensor.Zeros(1);
        var c = Tensor.Zeros(3);
        using var ga = Tensor.FromArray(new float[] { 3, 0, 0, 0 }, 2, 2);
        a.Grad = contiguous ? ga.Clone() : ga.Transpose(0, 1);
        b.Grad = Tensor.FromArray(new float[] { 4 });
        double norm = GradClip.ByGlobalNorm([a, b, c], 1.0);
        Assert.That(norm, Is.EqualTo(5).Within(1e-6));
        Assert.That(a.Grad.ToArray()[0], Is.EqualTo(3 / (5 + 1e-6)).Within(1e-6));
        Assert.That(b.Grad.ToArray()[0], Is.EqualTo(4 / (5 + 1e-6)).Within(1e-6));
        Assert.That(GradClip.ByGlobalNorm([a, b], 10), Is.EqualTo(1).Within(1e-5));
        Assert.That(b.Grad.ToArray()[0], Is.EqualTo(4 / (5 + 1e-6)).Within(1e-6), "below the limit nothing changes");
    }

    [Test]
    public void ByValueClamps()
    {
        var a = Tensor.Zeros(4);
        a.Grad = Tensor.FromArray(new float[] { -3, -0.5f, 0.5f, 7 });
        GradClip.ByValue([a], 1);
        Assert.That(a.Grad.ToArray(), Is.EqualTo(new[] { -1f, -0.5f, 0.5f, 1f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradClip.ByValue([a], -1));
    }
}

public class LrScheduleTests
{
    [Test]
    public void StepExponentialInverseTimeValues()
    {
        var step = new StepLr(0.1, 3, 0.5);
        Assert.That(Enumerable.Range(0, 7).Select(step.LearningRate), Is.EqualTo(new[] { 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025 }).Within(1e-15));
        var exp = new ExponentialLr(2, 0.9);
        Assert.That(exp.LearningRate(3), Is.EqualTo(2 * 0.729).Within(1e-15));
        var inv = new InverseTimeLr(1, 0.5);
        Assert.That(inv.LearningRate(0), Is.EqualTo(1));
        Assert.That(inv.LearningRate(4), Is.EqualTo(1.0 / 3).Within(1e-15));
    }

    [Test]
    public void CosineGoesFromStartToMinimum()
    {
        var cos = new CosineLr(0.1, 10, 0.001);
        Assert.That(cos.LearningRate(0), Is.EqualTo(0.1).Within(1e-15));
        Assert.That(cos.LearningRate(5), Is.EqualTo(0.0505).Within(1e-12));
        Assert.That(cos.LearningRate(10), Is.EqualTo(0.001));
        Assert.That(cos.LearningRate(25), Is.EqualTo(0.001));
        var rates = Enumerable.Range(0, 11).Select(cos.LearningRate).ToArray();
        Assert.That(rates, Is.Ordered.Descending);
    }

    [Test]
    public void WarmupRisesLinearlyThenHandsOver()
    {
        var warm = new LinearWarmup(new StepLr(0.1, 2, 0.1), 4, startFactor: 0.2);
        double[] expected = [0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.01, 0.01];
        Assert.That(Enumerable.Range(0, 8).Select(warm.LearningRate), Is.EqualTo(expected).Within(1e-12));
        using var opt = new Sgd([Tensor.Zeros(1)], 1);
        Assert.That(warm.ApplyTo(opt, 1), Is.EqualTo(0.04).Within(1e-12));
        Assert.That(opt.LearningRate, Is.EqualTo(0.04).Within(1e-12));
        Assert.Throws<ArgumentOutOfRangeException>(() => warm.LearningRate(-1));
    }
}
