using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>Bad input gets a clear exception naming the op and the shapes or values, on every backend.</summary>
public class BadInputTests(string backend) : BackendTest(backend)
{
    [Test]
    public void BinaryShapeMismatchNamesOpAndShapes()
    {
        using var a = F32(new float[6], 2, 3);
        using var b = F32(new float[4], 4);
        var e = Assert.Throws<ShapeMismatchException>(() => Ops.Add(a, b));
        Assert.That(e!.Message, Does.Contain("Add").And.Contain("[2, 3]").And.Contain("[4]"));
    }

    [Test]
    public void MatMulMismatchNamesBothShapes()
    {
        using var a = F32(new float[6], 2, 3);
        using var b = F32(new float[8], 4, 2);
        var e = Assert.Throws<ShapeMismatchException>(() => Ops.MatMul(a, b));
        Assert.That(e!.Message, Does.Contain("MatMul").And.Contain("[2, 3]").And.Contain("[4, 2]"));
        using var w = F32(new float[10], 5, 2);
        using var bias = F32(new float[2], 2);
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.Affine(a, w, bias))!.Message, Does.Contain("Affine").And.Contain("[5, 2]"));
    }

    [Test]
    public void DTypeMismatchIsAnError()
    {
        using var f = F32([1, 2], 2);
        using var d = F64([1, 2], 2);
        var e = Assert.Throws<DTypeMismatchException>(() => Ops.Add(f, d));
        Assert.That(e!.Message, Does.Contain("Float32").And.Contain("Float64"));
        using var labels = Labels(1, 2);
        Assert.Throws<DTypeMismatchException>(() => Ops.Exp(labels));
        Assert.Throws<DTypeMismatchException>(() => labels.RequireGrad());
    }

    [Test]
    public void AxisOutOfRangeIsAnError()
    {
        using var x = F32(new float[6], 2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => x.Sum(2));
        Assert.That(e!.Message, Does.Contain("axis 2").And.Contain("rank 2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Softmax(-3));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.ArgMax(5));
        Assert.Throws<ArgumentException>(() => x.Sum([0, 0]));
    }

    [Test]
    public void InvalidReshapesAndViews()
    {
        using var x = F32(new float[6], 2, 3);
        var e = Assert.Throws<ShapeMismatchException>(() => x.Reshape(4, 2));
        Assert.That(e!.Message, Does.Contain("Reshape").And.Contain("[4, 2]"));
        Assert.Throws<ShapeMismatchException>(() => x.Reshape(-1, 4));
        Assert.Throws<ArgumentException>(() => x.Reshape(-1, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Narrow(1, 2, 2));
        Assert.Throws<ShapeMismatchException>(() => x.Expand(4, 3));
        Assert.Throws<ArgumentException>(() => x.Permute(0, 0));
        Assert.Throws<ShapeMismatchException>(() => Ops.Concat([x, F32(new float[2], 2, 1)], 0));
    }

    [Test]
    public void LabelsOutOfRangeAndBadLayerShapes()
    {
        using var scores = F32(new float[6], 2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.SoftmaxCrossEntropy(scores, Labels(0, 3)));
        Assert.That(e!.Message, Does.Contain("label 3").And.Contain("[0, 3)"));
        Assert.Throws<ShapeMismatchException>(() => Ops.SoftmaxCrossEntropy(scores, Labels(0)));
        using var x = F32(new float[16], 1, 1, 4, 4);
        using var w = F32(new float[18], 1, 2, 3, 3);
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(x, w, null))!.Message, Does.Contain("channels"));
        using var x5 = F32(new float[25], 1, 1, 5, 5);
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.MaxPool2d(x5, 2))!.Message, Does.Contain("MaxPool2d"));
        using var flat = F32(new float[4], 4);
        Assert.Throws<ShapeMismatchException>(() => Ops.MaxPool2d(flat, 2));
        Assert.Throws<ArgumentException>(() => Ops.Clip(flat, 1, -1));
    }
}
