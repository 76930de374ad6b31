using System.Runtime.CompilerServices;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>Regression tests of issue 12's lifetimes: a disposed tensor is never used, and MemoryStats counts what it says.</summary>
public class LifetimeTests
{
    private static readonly (string Name, Action<Tensor> Use)[] Uses =
    [
        ("Detach", t => t.Detach()),
        ("Expand", t => t.Expand(2, 2, 3)),
        ("Narrow", t => t.Narrow(0, 0, 1)),
        ("Slice", t => t.Slice(0, 1)),
        ("Reshape", t => t.Reshape(3, 2)),
        ("Permute", t => t.Permute(1, 0)),
        ("Transpose", t => t.Transpose(0, 1)),
        ("Unsqueeze", t => t.Unsqueeze(0)),
        ("AsStrided", t => t.AsStrided([2], [1], 0)),
        ("Flatten", t => t.Flatten()),
        ("indexer get", t => _ = t[0, 0]),
        ("indexer set", t => t[0, 0] = 1),
        ("ToArray", t => t.ToArray()),
        ("ToArray<double>", t => t.ToArray<double>()),
        ("Item", t => t.Item()),
        ("Contiguous", t => t.Contiguous()),
        ("Clone", t => t.Clone()),
        ("To(dtype)", t => t.To(DType.Float64)),
        ("To(device)", t => t.To(Device.Cpu)),
        ("Relu", t => t.Relu()),
        ("Add", t => _ = t + t),
        ("AddScalar", t => _ = t + 1),
        ("Sum", t => t.Sum()),
        ("Max", t => t.Max([0])),
        ("ArgMax", t => t.ArgMax(1)),
        ("Softmax", t => t.Softmax()),
        ("MatMul", t => t.MatMul(t.T)),
        ("Concat", t => Ops.Concat([t, t], 0)),
        ("Where", t => Ops.Where(t, t, t)),
        ("Conv2d", t => Ops.Conv2d(t.Reshape(1, 1, 2, 3), Tensor.Ones(1, 1, 1, 1), null)),
        ("MaxPool2d", t => Ops.MaxPool2d(t.Reshape(1, 1, 2, 3), 1)),
        ("SoftmaxCrossEntropy", t => Ops.SoftmaxCrossEntropy(t, Tensor.FromArray(new[] { 0, 1 }))),
        ("CopyFrom (destination)", t => t.CopyFrom(Tensor.Zeros(2, 3))),
        ("CopyFrom (source)", t => Tensor.Zeros(2, 3).CopyFrom(t)),
        ("Backward", t => t.Backward()),
        ("Backward (gradient)", t => { using var leaf = Tensor.Zeros(2, 3).RequireGrad(); using var y = leaf * 2; y.Backward(t); }),
    ];

    private static IEnumerable<string> UseNames => Uses.Select(u => u.Name);

    [TestCaseSource(nameof(UseNames))]
    public void EveryUseOfADisposedTensorThrowsObjectDisposedNamingIt(string use)
    {
        var t = Tensor.Arange(6).Reshape(2, 3).RequireGrad();
        t.Name = "victim";
        using var survivor = t.Detach(); // another view keeps the storage alive: only the disposed flag stops the use
        t.Dispose();
        using var scope = new TensorScope();
        var e = Assert.Throws<ObjectDisposedException>(() => Uses.Single(u => u.Name == use).Use(t));
        Assert.That(e!.Message, Does.Contain("victim"));
        Assert.That(survivor.ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5 }));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Forget(int count)
    {
        for (int i = 0; i < count; i++) _ = Tensor.Zeros(16);
    }

    [Test]
    public void MemoryStatsCountsTensorsTheCollectorReclaimed()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long live = MemoryStats.LiveTensors, reclaimed = MemoryStats.ReclaimedTensors, bytes = MemoryStats.BytesInUse;
        Forget(1000);
        Assert.That(MemoryStats.LiveTensors - live, Is.GreaterThanOrEqualTo(1000));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.That(MemoryStats.LiveTensors - live, Is.LessThanOrEqualTo(0), "tensors reclaimed without Dispose are no longer live");
        Assert.That(MemoryStats.ReclaimedTensors - reclaimed, Is.GreaterThanOrEqualTo(1000));
        Assert.That(MemoryStats.BytesInUse - bytes, Is.LessThanOrEqualTo(0));
        Assert.That(MemoryStats.Describe(), Does.Contain("reclaimed"));
    }

    [Test]
    public void DisposedTensorsAreNotCountedTwiceByTheFinalizer()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long live = MemoryStats.LiveTensors, reclaimed = MemoryStats.ReclaimedTensors;
        for (int i = 0; i < 100; i++) Tensor.Zeros(4).Dispose();
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(-1)); // a rejected shape never counts as a tensor
        using var x = Tensor.Zeros(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => x.AsStrided([8], [1], 0)); // nor does a rejected view
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(MemoryStats.LiveTensors - live, Is.EqualTo(1));
        Assert.That(MemoryStats.ReclaimedTensors - reclaimed, Is.EqualTo(0));
    }
}
