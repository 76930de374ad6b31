using NativeNet.Backends;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>Op semantics with known answers, run on every backend.</summary>
public class OpsTests(string backend) : BackendTest(backend)
{
    [Test]
    public void WorkedColumnSum()
    {
        using var a = F32([56, 0, 4.4f, 68, 1.2f, 104, 52, 8, 1.8f, 135, 99, 0.9f], 3, 4);
        using var s = a.Sum(0);
        Approx.AreClose([59, 239, 155.4, 76.9], s);
        using var k = a.Sum(1, keepDims: true);
        Assert.That(k.ShapeArray, Is.EqualTo(new[] { 3, 1 }));
        using var percent = a / a.Sum(0, keepDims: true) * 100;
        Approx.AreClose([94.915], percent.Narrow(0, 0, 1).Narrow(1, 0, 1), 1e-3);
    }

    [Test]
    public void BroadcastingFollowsNumPy()
    {
        using var m = F32([1, 2, 3, 4, 5, 6], 2, 3);
        using var row = F32([10, 20, 30], 1, 3);
        using var col = F32([100, 200], 2, 1);
        using var r1 = m + row;
        Approx.AreClose([11, 22, 33, 14, 25, 36], r1);
        using var r2 = m + col;
        Approx.AreClose([101, 102, 103, 204, 205, 206], r2);
        using var r3 = m + 1;
        Approx.AreClose([2, 3, 4, 5, 6, 7], r3);
        using var v5 = F32([1, 2, 3, 4, 5], 5);
        using var c5 = F32([1, 2, 3, 4, 5], 5, 1);
        using var outer = v5 * c5; // a rank-1 (5,) is not a (5,1): the product is (5,5)
        Assert.That(outer.ShapeArray, Is.EqualTo(new[] { 5, 5 }));
        Assert.That(outer[1, 3], Is.EqualTo(8));
    }

    [Test]
    public void UnaryOpsMatchTheirDefinitions()
    {
        float[] x = [-2f, -0.5f, 0f, 0.5f, 3f];
        using var t = F32(x, 5);
        void Check(Func<Tensor, Tensor> op, Func<double, double> f)
        {
            using var y = op(t);
            Approx.AreClose(x.Select(v => f(v)).ToArray(), y, 1e-6, 1e-5);
        }
        Check(Ops.Neg, v => -v);
        Check(Ops.Abs, Math.Abs);
        Check(Ops.Sign, v => Math.Sign(v));
        Check(Ops.Exp, Math.Exp);
        Check(Ops.Sigmoid, v => 1 / (1 + Math.Exp(-v)));
        Check(Ops.Tanh, Math.Tanh);
        Check(Ops.Relu, v => Math.Max(0, v));
        Check(x => Ops.LeakyRelu(x, 0.01), v => v > 0 ? v : 0.01 * v);
        Check(x => Ops.Elu(x, 1.5), v => v > 0 ? v : 1.5 * (Math.Exp(v) - 1));
        Check(Ops.Square, v => v * v);
        Check(x => Ops.Clip(x, -1, 1), v => Math.Clamp(v, -1, 1));
        using var pos = F32([0.25f, 1, 4], 3);
        using var log = Ops.Log(pos);
        Approx.AreClose([Math.Log(0.25), 0, Math.Log(4)], log);
        using var sqrt = Ops.Sqrt(pos);
        Approx.AreClose([0.5, 1, 2], sqrt);
        using var rec = Ops.Reciprocal(pos);
        Approx.AreClose([4, 1, 0.25], rec);
        using var pow = Ops.Pow(pos, 1.5);
        Approx.AreClose([0.125, 1, 8], pow);
    }

    [Test]
    public void BinaryOpsAndComparisons()
    {
        using var a = F32([1, -2, 3, 4], 4);
        using var b = F32([2, 2, 3, 0.5f], 4);
        using var sub = a - b; Approx.AreClose([-1, -4, 0, 3.5], sub);
        using var mul = a * b; Approx.AreClose([2, -4, 9, 2], mul);
        using var div = a / b; Approx.AreClose([0.5, -1, 1, 8], div);
        using var max = Ops.Maximum(a, b); Approx.AreClose([2, 2, 3, 4], max);
        using var min = Ops.Minimum(a, b); Approx.AreClose([1, -2, 3, 0.5], min);
        using var pw = Ops.Pow(b, a); Approx.AreClose([2, 0.25, 27, 0.0625], pw);
        using var eq = Ops.Equal(a, b); Approx.AreClose([0, 0, 1, 0], eq);
        using var ne = Ops.NotEqual(a, b); Approx.AreClose([1, 1, 0, 1], ne);
        using var lt = Ops.Less(a, b); Approx.AreClose([1, 1, 0, 0], lt);
        using var le = Ops.LessEqual(a, b); Approx.AreClose([1, 1, 1, 0], le);
        using var gt = Ops.Greater(a, b); Approx.AreClose([0, 0, 0, 1], gt);
        using var ge = Ops.GreaterEqual(a, b); Approx.AreClose([0, 0, 1, 1], ge);
        using var w = Ops.Where(gt, a, b); Approx.AreClose([2, 2, 3, 4], w);
    }

    [Test]
    public void ReductionsAlongAnyAxes()
    {
        using var x = F32(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        using var all = x.Sum(); Approx.AreClose([276], all);
        using var s02 = x.Sum([0, 2]); Approx.AreClose([60, 92, 124], s02);
        using var m1 = x.Mean([1], keepDims: true);
        Assert.That(m1.ShapeArray, Is.EqualTo(new[] { 2, 1, 4 }));
        Approx.AreClose([4, 5, 6, 7, 16, 17, 18, 19], m1);
        using var mx = x.Max([2]); Approx.AreClose([3, 7, 11, 15, 19, 23], mx);
        using var mn = Ops.Min(x, [0, 1]); Approx.AreClose([0, 1, 2, 3], mn);
        using var am = F32([1, 5, 5, 2, 9, 0], 2, 3).ArgMax(1);
        Assert.That(am.DType, Is.EqualTo(DType.Int32));
        Assert.That(am.ToArray<int>(), Is.EqualTo(new[] { 1, 1 }));
        using var v = Ops.Var(F32([1, 2, 3, 4], 4));
        Approx.AreClose([1.25], v);
        using var vu = Ops.Var(F32([1, 2, 3, 4], 4), unbiased: true);
        Approx.AreClose([5.0 / 3], vu);
        using var sd = Ops.Std(F32([2, 4, 4, 4, 5, 5, 7, 9], 8));
        Approx.AreClose([2], sd);
    }

    [Test]
    public void MatMulPlainBatchedAndTransposed()
    {
        using var a = F32([1, 2, 3, 4, 5, 6], 2, 3);
        using var b = F32([7, 8, 9, 10, 11, 12], 3, 2);
        using var c = Ops.MatMul(a, b); Approx.AreClose([58, 64, 139, 154], c);
        using var ct = Ops.MatMul(b, a, transA: true, transB: true); Approx.AreClose([58, 139, 64, 154], ct);
        using var viaViews = Ops.MatMul(b.T, a.T); Approx.AreClose([58, 139, 64, 154], viaViews);
        using var batchA = Ops.Concat([a.Unsqueeze(0), (a * 2).Unsqueeze(0)], 0);
        using var bc = Ops.MatMul(batchA, b);
        Assert.That(bc.ShapeArray, Is.EqualTo(new[] { 2, 2, 2 }));
        Approx.AreClose([58, 64, 139, 154, 116, 128, 278, 308], bc);
    }

    [Test]
    public void ConcatAlongChannels()
    {
        using var a = F32([1, 2, 3, 4], 1, 2, 1, 2);
        using var b = F32([5, 6], 1, 1, 1, 2);
        using var c = Ops.Concat([a, b], 1);
        Assert.That(c.ShapeArray, Is.EqualTo(new[] { 1, 3, 1, 2 }));
        Approx.AreClose([1, 2, 3, 4, 5, 6], c);
    }

    [Test]
    public void SoftmaxIsStableForHugeLogits()
    {
        using var s = F32([123, 456, 789], 1, 3);
        using var p = s.Softmax(1);
        var values = p.ToArray<double>();
        Assert.That(values.Any(double.IsNaN), Is.False);
        Assert.That(values[0], Is.LessThan(1e-30));
        Assert.That(values[2], Is.EqualTo(1).Within(1e-6));
        using var d = F64([123, 456, 789], 1, 3);
        using var pd = d.Softmax(1);
        Assert.That(pd[0, 1], Is.EqualTo(2.4e-145).Within(0.1e-145), "softmax([123, 456, 789])[1] ~ 2.4e-145 in double precision");
        using var ls = s.LogSoftmax(1);
        Approx.AreClose([-666, -333, 0], ls, 1e-3);
        using var cols = F32([1, 2, 3, 4], 2, 2).Softmax(0);
        Approx.AreClose([1 / (1 + Math.E * Math.E), 1 / (1 + Math.E * Math.E), 1 / (1 + Math.Exp(-2)), 1 / (1 + Math.Exp(-2))], cols);
    }

    [Test]
    public void ConvolutionOutputSizesFromTheCourse()
    {
        using var x = Randn([1, 3, 32, 32], 1);
        using var w6 = Randn([6, 3, 5, 5], 2);
        using var y = Ops.Conv2d(x, w6, null);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 1, 6, 28, 28 }));
        using var w10 = Randn([10, 6, 5, 5], 3);
        using var y2 = Ops.Conv2d(y, w10, null);
        Assert.That(y2.ShapeArray, Is.EqualTo(new[] { 1, 10, 24, 24 }));
        using var same = Ops.Conv2d(x, Randn([10, 3, 5, 5], 4), Randn([10], 5), 1, 2);
        Assert.That(same.ShapeArray, Is.EqualTo(new[] { 1, 10, 32, 32 }));
        using var x7 = Randn([1, 1, 7, 7], 6);
        using var f3 = Randn([1, 1, 3, 3], 7);
        using (var s1 = Ops.Conv2d(x7, f3, null, 1)) Assert.That(s1.ShapeArray[2..], Is.EqualTo(new[] { 5, 5 }));
        using (var s2 = Ops.Conv2d(x7, f3, null, 2)) Assert.That(s2.ShapeArray[2..], Is.EqualTo(new[] { 3, 3 }));
        var error = Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(x7, f3, null, 3));
        Assert.That(error!.Message, Does.Contain("Conv2d").And.Contain("stride 3"));
        using (var floored = Ops.Conv2d(x7, f3, null, 3, floor: true)) Assert.That(floored.ShapeArray[2..], Is.EqualTo(new[] { 2, 2 }));
    }

    [Test]
    public void ConvolutionValuesByHand()
    {
        using var x = F32(Enumerable.Range(1, 9).Select(i => (float)i).ToArray(), 1, 1, 3, 3);
        using var w = F32([1, 0, 0, -1], 1, 1, 2, 2);
        using var b = F32([0.5f], 1);
        using var y = Ops.Conv2d(x, w, b);
        Approx.AreClose([-3.5, -3.5, -3.5, -3.5], y);
        using var padded = Ops.Conv2d(x, w, null, 2, 1);
        Approx.AreClose([-1, -3, -7, -4], padded);
    }

    [Test]
    public void Pooling()
    {
        using var x = F32([1, 2, 5, 6, 3, 4, 7, 8, 9, 10, 13, 14, 11, 12, 15, 16], 1, 1, 4, 4);
        using var mp = Ops.MaxPool2d(x, 2); Approx.AreClose([4, 8, 12, 16], mp);
        using var ap = Ops.AvgPool2d(x, 2); Approx.AreClose([2.5, 6.5, 10.5, 14.5], ap);
        using var overlap = Ops.MaxPool2d(Randn([1, 1, 7, 7], 3), 3, 2);
        Assert.That(overlap.ShapeArray, Is.EqualTo(new[] { 1, 1, 3, 3 }));
        using var gap = Ops.GlobalAvgPool2d(x); Approx.AreClose([8.5], gap);
    }
}
