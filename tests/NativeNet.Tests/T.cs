using NUnit.Framework;

namespace NativeNet.Tests;

public class Smoke
{
    [Test]
    public void TwoLayerGradCheck()
    {
        var g = new Generator(1);
        var x = Tensor.Normal([4, 5], 0, 1, g, DType.Float64);
        var w1 = Tensor.Normal([5, 6], 0, 1, g, DType.Float64);
        var b1 = Tensor.Normal([6], 0, 1, g, DType.Float64);
        var w2 = Tensor.Normal([6, 3], 0, 1, g, DType.Float64);
        var b2 = Tensor.Normal([3], 0, 1, g, DType.Float64);
        var y = Tensor.FromArray(new[] { 0, 2, 1, 2 });
        var errs = NativeNet.Autodiff.GradCheck.Check(t => Ops.SoftmaxCrossEntropy(Ops.Affine(Ops.Relu(Ops.Affine(t[0], t[1], t[2])), t[3], t[4]), y), [x, w1, b1, w2, b2]);
        TestContext.Out.WriteLine(string.Join(", ", errs));
        Assert.That(errs.Max(), Is.LessThan(1e-7));
        var a = Tensor.FromArray(new float[,] { { 56, 0, 4.4f, 68 }, { 1.2f, 104, 52, 8 }, { 1.8f, 135, 99, 0.9f } });
        TestContext.Out.WriteLine(a.ToString());
        TestContext.Out.WriteLine(a.Sum(0).ToString());
    }
}
