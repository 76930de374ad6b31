using NativeNet.Autodiff;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>
/// The PyTorch-convention losses on every backend: gradient checks in Float64 (the device's tape gradient against centred
/// differences of the device's forward, 1e-7), the reductions' relations, ignored rows, and the errors.
/// </summary>
public class LossBackendTests(string backendName) : BackendTest(backendName)
{
    private const double Threshold = 1e-7;

    private static Tensor Host(int seed, double scale, params int[] shape) => Tensor.Normal(shape, 0, scale, new Generator(seed), DType.Float64);

    private void GradCheckOnDevice(string name, Func<Tensor, Tensor> f, Tensor hostInput, double step = 1e-5)
    {
        using var scope = new TensorScope();
        var x = hostInput.To(Dev).RequireGrad();
        var y = f(x);
        var dOut = Tensor.Normal(y.ShapeArray, 0, 1, new Generator(5), DType.Float64);
        y.Backward(dOut.To(Dev));
        var numeric = GradCheck.NumericalGradient(() => f(hostInput.To(Dev)), hostInput, dOut, step);
        double error = GradCheck.RelativeError(x.Grad!.To(Device.Cpu), numeric);
        TestContext.Out.WriteLine($"GRADCHECK {name} on {BackendName}: {error:E2}");
        Assert.That(error, Is.LessThan(Threshold), name);
    }

    private Tensor Weights() => F64([0.5, 1.5, 0.8, 1.2, 0.3], 5);

    [Test]
    public void ClassLossGradients([Values(LossReduction.Mean, LossReduction.Sum, LossReduction.None)] LossReduction reduction)
    {
        // Step 1e-4: the softmax gradients of unlikely classes are ~1e-3, where 1e-5 leaves rounding noise near 1e-7 relative;
        // the truncation error of the centred difference stays below 1e-9 relative.
        var logits = Host(1, 1, 6, 5);
        var labels = Labels(0, -100, 4, 2, 2, 1);
        GradCheckOnDevice($"CrossEntropy {reduction}", x => Ops.CrossEntropy(x, labels, reduction: reduction), logits, 1e-4);
        GradCheckOnDevice($"CrossEntropy weights + smoothing {reduction}", x => Ops.CrossEntropy(x, labels, Weights(), labelSmoothing: 0.3, reduction: reduction), logits, 1e-4);
        using var logp = Ops.LogSoftmax(logits, 1);
        GradCheckOnDevice($"NllLoss weights {reduction}", x => Ops.NllLoss(x, labels, Weights(), reduction: reduction), logp);
    }

    [Test]
    public void RegressionAndDivergenceGradients([Values(LossReduction.Mean, LossReduction.Sum, LossReduction.None)] LossReduction reduction)
    {
        // Differences kept 0.01 or more away from δ and β, where the piecewise losses have a kink in the second derivative only.
        var input = Host(2, 2, 4, 5);
        var target = Host(3, 2, 4, 5).To(Dev);
        GradCheckOnDevice($"HuberLoss {reduction}", x => Ops.HuberLoss(x, target, 0.7, reduction), input);
        GradCheckOnDevice($"SmoothL1Loss {reduction}", x => Ops.SmoothL1Loss(x, target, 1.3, reduction), input);
        using var logp = Ops.LogSoftmax(Host(4, 1, 4, 5), 1);
        using var probabilities = Ops.Softmax(Host(5, 1, 4, 5), 1);
        var p = probabilities.To(Dev);
        var logQ = Ops.Log(p);
        GradCheckOnDevice($"KlDivLoss {reduction}", x => Ops.KlDivLoss(x, p, reduction), logp);
        GradCheckOnDevice($"KlDivLoss log target {reduction}", x => Ops.KlDivLoss(x, logQ, reduction, logTarget: true), logp);
        GradCheckOnDevice($"BinaryCrossEntropyWithLogits {reduction}", x => Ops.BinaryCrossEntropyWithLogits(x, p, reduction), input);
    }

    [Test]
    public void ReductionsAreConsistent()
    {
        using var scope = new TensorScope();
        var logits = Randn([6, 5], 10, DType.Float64);
        var labels = Labels(0, -100, 4, 2, -100, 1);
        var w = Weights();
        var none = Ops.CrossEntropy(logits, labels, w, labelSmoothing: 0.2, reduction: LossReduction.None).ToArray<double>();
        Assert.That(none[1], Is.EqualTo(0), "an ignored row gives 0");
        Assert.That(none[4], Is.EqualTo(0), "an ignored row gives 0");
        double sum = Ops.CrossEntropy(logits, labels, w, labelSmoothing: 0.2, reduction: LossReduction.Sum).ToArray<double>()[0];
        double mean = Ops.CrossEntropy(logits, labels, w, labelSmoothing: 0.2).ToArray<double>()[0];
        Assert.That(sum, Is.EqualTo(none.Sum()).Within(1e-12));
        Assert.That(mean, Is.EqualTo(sum / (0.5 + 0.3 + 0.8 + 1.5)).Within(1e-12), "mean divides by the weights of the targets not ignored");
        // Without weights or smoothing, CrossEntropy is the existing SoftmaxCrossEntropy.
        var plain = Ops.CrossEntropy(logits, Labels(0, 3, 4, 2, 1, 1)).ToArray<double>()[0];
        Assert.That(plain, Is.EqualTo(Ops.SoftmaxCrossEntropy(logits, Labels(0, 3, 4, 2, 1, 1)).ToArray<double>()[0]).Within(1e-12));
        var target = Randn([6, 5], 11, DType.Float64);
        double kl = Ops.KlDivLoss(logits, Ops.Softmax(target, 1), LossReduction.Sum).ToArray<double>()[0];
        Assert.That(Ops.KlDivLoss(logits, Ops.Softmax(target, 1), LossReduction.BatchMean).ToArray<double>()[0], Is.EqualTo(kl / 6).Within(1e-12));
        Assert.That(Ops.KlDivLoss(logits, Ops.Softmax(target, 1)).ToArray<double>()[0], Is.EqualTo(kl / 30).Within(1e-12));
    }

    [Test]
    public void NllLossIgnoresMinusInfinityOfOtherClasses()
    {
        using var scope = new TensorScope();
        var logp = F64([Math.Log(0.25), double.NegativeInfinity, Math.Log(0.75), 0, double.NegativeInfinity, double.NegativeInfinity], 2, 3);
        Approx.AreClose([-(Math.Log(0.25) + 0) / 2], Ops.Reshape(Ops.NllLoss(logp, Labels(0, 0)), 1), 1e-12, 1e-12);
    }

    [Test]
    public void BadInputsAreRejected()
    {
        using var scope = new TensorScope();
        var logits = Randn([3, 4], 20);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(logits, Labels(0, 4, 1)));
        Assert.That(e1!.Message, Does.Contain("CrossEntropy").And.Contain("label 4 at index 1"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.NllLoss(logits, Labels(0, -1, 1)));
        var e2 = Assert.Throws<ShapeMismatchException>(() => Ops.CrossEntropy(logits, Labels(0, 1)));
        Assert.That(e2!.Message, Does.Contain("[3]"));
        Assert.Throws<ShapeMismatchException>(() => Ops.CrossEntropy(logits, Labels(0, 1, 2), Randn([3], 21)));
        Assert.Throws<ShapeMismatchException>(() => Ops.NllLoss(Randn([3], 22), Labels(0, 1, 2)));
        Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(logits, Labels(0, 1, 2), labelSmoothing: 1.5));
        Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(logits, Labels(0, 1, 2), reduction: LossReduction.BatchMean));
        var target = Randn([3, 5], 23);
        var e3 = Assert.Throws<ShapeMismatchException>(() => Ops.HuberLoss(logits, target));
        Assert.That(e3!.Message, Does.Contain("HuberLoss").And.Contain("[3, 4]").And.Contain("[3, 5]"));
        Assert.Throws<ArgumentException>(() => Ops.HuberLoss(logits, logits, delta: 0));
        Assert.Throws<ArgumentException>(() => Ops.SmoothL1Loss(logits, logits, beta: -1));
        Assert.Throws<ShapeMismatchException>(() => Ops.KlDivLoss(logits, target));
        Assert.Throws<ArgumentException>(() => Ops.MseLoss(logits, logits, LossReduction.BatchMean));
    }
}
