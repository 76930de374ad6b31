using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Models;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

public class TapeTests
{
    private static Tensor Leaf(params double[] values) => Tensor.FromArray(values).RequireGrad();

    [Test]
    public void WorkedGradientOfAddThenMultiply()
    {
        // f = (x + y) z with x=-2, y=5, z=-4: df/dx = df/dy = z = -4, df/dz = x + y = 3
        var x = Leaf(-2); var y = Leaf(5); var z = Leaf(-4);
        using var f = (x + y) * z;
        Assert.That(f.Item(), Is.EqualTo(-12));
        f.Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(-4));
        Assert.That(y.Grad!.Item(), Is.EqualTo(-4));
        Assert.That(z.Grad!.Item(), Is.EqualTo(3));
    }

    [Test]
    public void GradientsAddWhereATensorIsUsedTwice()
    {
        // f = 3xy + z^2 gives (3y, 3x, 2z); x is used twice in x*x + x below
        var x = Leaf(2); var y = Leaf(3); var z = Leaf(4);
        using var f = 3 * x * y + Ops.Square(z);
        f.Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(9));
        Assert.That(y.Grad!.Item(), Is.EqualTo(6));
        Assert.That(z.Grad!.Item(), Is.EqualTo(8));
        var w = Leaf(3);
        using var g = w * w + w;
        g.Backward();
        Assert.That(w.Grad!.Item(), Is.EqualTo(7));
    }

    [Test]
    public void LeafGradientsAccumulateAcrossBackwardCalls()
    {
        var x = Leaf(1, 2);
        using (var a = Ops.Sum(x * 2)) a.Backward();
        using (var b = Ops.Sum(x * 3)) b.Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 5.0, 5.0 }));
    }

    [Test]
    public void BroadcastingReducesGradientsToTheInputShape()
    {
        var m = Tensor.Ones([3, 4]).RequireGrad();
        var row = Tensor.Ones([4]).RequireGrad();
        var col = Tensor.Ones([3, 1]).RequireGrad();
        using var y = Ops.Sum((m + row) * col);
        y.Backward();
        Assert.That(row.Grad!.ShapeArray, Is.EqualTo(new[] { 4 }));
        Assert.That(row.Grad.ToArray(), Is.All.EqualTo(3f));
        Assert.That(col.Grad!.ShapeArray, Is.EqualTo(new[] { 3, 1 }));
        Assert.That(col.Grad.ToArray(), Is.All.EqualTo(8f));
    }

    [Test]
    public void NoGradModeRecordsNothing()
    {
        var x = Leaf(1, 2);
        using (GradMode.Disable())
        {
            using var y = x * 2;
            Assert.That(y.RequiresGrad, Is.False);
            Assert.That(y.IsLeaf, Is.True);
        }
        using var z = x * 2;
        Assert.That(z.IsLeaf, Is.False);
        using var constant = Tensor.Ones(2) * 2;
        Assert.That(constant.RequiresGrad, Is.False, "ops on tensors without grad record nothing");
    }

    [Test]
    public void BackwardNeedsAScalarOrAnUpstreamGradient()
    {
        var x = Leaf(1, 2);
        using var y = x * 2;
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.That(e!.Message, Does.Contain("not a scalar"));
        using var wrong = Tensor.Ones(3);
        Assert.Throws<ShapeMismatchException>(() => y.Backward(wrong));
        using var otherType = Tensor.FromArray(new float[] { 1, 10 });
        var dtype = Assert.Throws<DTypeMismatchException>(() => y.Backward(otherType));
        Assert.That(dtype!.Message, Does.Contain("Float32").And.Contain("Float64").And.Contain("Backward"));
        Assert.That(x.Grad, Is.Null, "a rejected upstream gradient must not touch the leaves");
        using var up = Tensor.FromArray(new double[] { 1, 10 });
        y.Backward(up);
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 2.0, 20.0 }));
    }

    [Test]
    public void TheTapeIsFreedAfterBackward()
    {
        var x = Leaf(1, 2);
        using var y = Ops.Sum(Ops.Exp(x));
        y.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.That(e!.Message, Does.Contain("freed"));
        var w = Leaf(1, 2);
        using var z = Ops.Sum(Ops.Exp(w));
        z.Backward(retainGraph: true);
        z.Backward();
        Assert.That(w.Grad![0], Is.EqualTo(2 * Math.E).Within(1e-5));
    }

    [Test]
    public void ActivationsAreReleasedAfterBackward()
    {
        var w = Tensor.Normal([64, 64], 0, 1, new Generator(1)).RequireGrad();
        using var x = Tensor.Normal([32, 64], 0, 1, new Generator(2));
        long before = MemoryStats.BytesInUse;
        using (var scope = new TensorScope())
        {
            var loss = Ops.Sum(Ops.Relu(Ops.MatMul(x, w)));
            loss.Backward();
        }
        w.Grad!.Dispose();
        w.Grad = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(MemoryStats.BytesInUse, Is.LessThanOrEqualTo(before), "no activation survives the step");
    }

    [Test]
    public void HandUsedGatesGiveExactlyTheTapeGradients()
    {
        using var naive = Backend.Use(NaiveBackend.Instance);
        using var net = new TwoLayerNet(20, 16, 5, new Generator(3), dtype: DType.Float64);
        using var x = Tensor.Normal([8, 20], 0, 1, new Generator(4), DType.Float64);
        using var y = Tensor.FromArray(new[] { 0, 1, 2, 3, 4, 0, 1, 2 });
        var (handLoss, handGrads) = net.LossByHand(x, y);
        using var loss = net.Loss(x, y);
        loss.Backward();
        Assert.That(loss.Item(), Is.EqualTo(handLoss));
        for (int i = 0; i < 4; i++)
            Assert.That(net.Parameters[i].Grad!.ToArray<double>(), Is.EqualTo(handGrads[i].ToArray<double>()), $"parameter {i}");
    }

    [Test]
    public void GateProfilerChargesEachGateOnceForwardAndBackward()
    {
        var x = Leaf(0.5, -1, 2);
        GateProfiler.Mark("ignored while off");
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        GateProfiler.Start();
        using (var scope = new TensorScope())
        {
            Ops.Sum(Ops.Mul(Ops.Tanh(x), x)).Backward();
        }
        GateProfiler.Mark("after");
        var rows = GateProfiler.Stop();
        double wallMs = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Assert.That(GateProfiler.IsEnabled, Is.False);
        using (Ops.Tanh(x)) { } // not profiled any more
        var byKey = rows.ToDictionary(r => (r.Name, r.Phase));
        foreach (var gate in new[] { "Tanh [3]", "Mul [3]" })
            foreach (var phase in new[] { ProfilePhase.Forward, ProfilePhase.Backward })
                Assert.That(byKey[(gate, phase)].Calls, Is.EqualTo(1), $"{gate} {phase}");
        Assert.That(byKey[("after", ProfilePhase.Section)].Calls, Is.EqualTo(1));
        Assert.That(rows.Any(r => r.Name == "ignored while off"), Is.False);
        Assert.That(rows.Sum(r => r.Milliseconds), Is.LessThanOrEqualTo(wallMs), "rows share out the wall time, never more");
        Assert.That(rows.Select(r => r.Milliseconds), Is.Ordered.Descending);
    }
}
