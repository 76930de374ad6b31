using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

public class TensorTests
{
    [Test]
    public void CreationAndAccess()
    {
        using var z = Tensor.Zeros(2, 3);
        Assert.That(z.ShapeArray, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(z.ToArray(), Is.All.EqualTo(0f));
        using var f = Tensor.Full([2, 2], 7.5, DType.Float64);
        Assert.That(f.DType, Is.EqualTo(DType.Float64));
        Assert.That(f[1, 1], Is.EqualTo(7.5));
        using var a = Tensor.Arange(0, 5, 2);
        Assert.That(a.ToArray(), Is.EqualTo(new[] { 0f, 2f, 4f }));
        using var s = Tensor.Scalar(3);
        Assert.That(s.Rank, Is.EqualTo(0));
        Assert.That(s.Item(), Is.EqualTo(3));
        using var m = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.That(m[1, 2], Is.EqualTo(6));
        Assert.That(m[-1, -3], Is.EqualTo(4));
        m[0, 1] = 20;
        Assert.That(m.ToArray(), Is.EqualTo(new[] { 1f, 20, 3, 4, 5, 6 }));
        Assert.Throws<IndexOutOfRangeException>(() => _ = m[2, 0]);
        Assert.Throws<ArgumentException>(() => _ = m[0]);
    }

    [Test]
    public void SeededRandomIsReproducible()
    {
        using var a = Tensor.Normal([100], 0, 1, new Generator(7));
        using var b = Tensor.Normal([100], 0, 1, new Generator(7));
        using var c = Tensor.Normal([100], 0, 1, new Generator(8));
        Assert.That(a.ToArray(), Is.EqualTo(b.ToArray()));
        Assert.That(a.ToArray(), Is.Not.EqualTo(c.ToArray()));
        using var u = Tensor.Uniform([10000], -2, 3, new Generator(1));
        var values = u.ToArray();
        Assert.That(values.Min(), Is.GreaterThanOrEqualTo(-2f));
        Assert.That(values.Max(), Is.LessThan(3f));
        Assert.That(values.Average(), Is.EqualTo(0.5).Within(0.05));
        using var n = Tensor.Normal([20000], 1, 2, new Generator(2), DType.Float64);
        var nv = n.ToArray<double>();
        double mean = nv.Average();
        Assert.That(mean, Is.EqualTo(1).Within(0.05));
        Assert.That(Math.Sqrt(nv.Select(v => (v - mean) * (v - mean)).Average()), Is.EqualTo(2).Within(0.05));
    }

    [Test]
    public void ViewsShareStorageWithoutCopying()
    {
        using var m = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var r = m.Reshape(3, 2);
        using var t = m.T;
        using var n = m.Narrow(1, 1, 2);
        using var e = Tensor.FromArray(new float[] { 1, 2, 3 }, 1, 3).Expand(4, 3);
        Assert.That(r.Storage, Is.SameAs(m.Storage));
        Assert.That(t.Storage, Is.SameAs(m.Storage));
        Assert.That(n.Storage, Is.SameAs(m.Storage));
        Assert.That(t.ShapeArray, Is.EqualTo(new[] { 3, 2 }));
        Assert.That(t.IsContiguous, Is.False);
        Assert.That(t.ToArray(), Is.EqualTo(new[] { 1f, 4, 2, 5, 3, 6 }));
        Assert.That(n.ToArray(), Is.EqualTo(new[] { 2f, 3, 5, 6 }));
        Assert.That(e.Strides.ToArray(), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(e.ToArray(), Has.Length.EqualTo(12));
        m[0, 1] = 9;
        Assert.That(r[0, 1], Is.EqualTo(9));
        Assert.That(t[1, 0], Is.EqualTo(9));
        using var c = t.Contiguous();
        Assert.That(c.IsContiguous, Is.True);
        Assert.That(c.Storage, Is.Not.SameAs(m.Storage));
        using var p = Tensor.Zeros(2, 3, 4).Permute(2, 0, 1);
        Assert.That(p.ShapeArray, Is.EqualTo(new[] { 4, 2, 3 }));
        using var inferred = m.Reshape(-1, 2);
        Assert.That(inferred.ShapeArray, Is.EqualTo(new[] { 3, 2 }));
    }

    [Test]
    public void ReshapeOfNonContiguousCopies()
    {
        using var m = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var t = m.T;
        using var r = t.Reshape(6);
        Assert.That(r.ToArray(), Is.EqualTo(new[] { 1f, 4, 2, 5, 3, 6 }));
        Assert.That(r.Storage, Is.Not.SameAs(m.Storage));
    }

    [Test]
    public void ToStringLooksLikeNumPy()
    {
        using var m = Tensor.FromArray(new float[] { 1, 2.5f, -3, 4 }, 2, 2);
        Assert.That(m.ToString(), Is.EqualTo("tensor([[1, 2.5],\n        [-3, 4]])"));
        using var i = Tensor.FromArray(new[] { 1, 2, 3 });
        Assert.That(i.ToString(), Is.EqualTo("tensor([1, 2, 3], dtype=Int32)"));
        using var d = Tensor.FromArray(new double[] { 1, 2 });
        Assert.That(d.ToString(), Is.EqualTo("tensor([1., 2.], dtype=Float64)"));
        using var big = Tensor.Zeros(2000);
        Assert.That(big.ToString(), Does.Contain("..."));
        using var special = Tensor.FromArray(new float[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e-7f });
        Assert.That(special.ToString(), Is.EqualTo("tensor([nan, inf, -inf, 1e-07])"));
    }

    [Test]
    public void DisposeAndScopesTrackMemory()
    {
        long before = MemoryStats.LiveTensors;
        long bytesBefore = MemoryStats.BytesInUse;
        Tensor kept;
        using (var scope = new TensorScope())
        {
            var a = Tensor.Zeros(1000);
            var b = a.Reshape(10, 100);
            kept = scope.Keep(Tensor.Ones(10));
            Assert.That(scope.Count, Is.EqualTo(2));
            Assert.That(MemoryStats.LiveTensors, Is.EqualTo(before + 3));
            Assert.That(MemoryStats.BytesInUse, Is.GreaterThanOrEqualTo(bytesBefore + 4040));
        }
        Assert.That(MemoryStats.LiveTensors, Is.EqualTo(before + 1));
        Assert.That(kept.IsDisposed, Is.False);
        kept.Dispose();
        kept.Dispose();
        Assert.That(MemoryStats.LiveTensors, Is.EqualTo(before));
        Assert.Throws<ObjectDisposedException>(() => kept.ToArray());
    }

    [Test]
    public void StorageIsFreedWithTheLastView()
    {
        var a = Tensor.Zeros(10);
        var v = a.Reshape(2, 5);
        a.Dispose();
        Assert.That(v.Storage.IsFreed, Is.False);
        Assert.That(v.ToArray(), Has.Length.EqualTo(10));
        v.Dispose();
        Assert.That(v.Storage.IsFreed, Is.True);
    }

    [Test]
    public void CastBetweenDTypes()
    {
        using var f = Tensor.FromArray(new float[] { 1.5f, -2.5f });
        using var d = f.To(DType.Float64);
        Assert.That(d.DType, Is.EqualTo(DType.Float64));
        Assert.That(d.ToArray<double>(), Is.EqualTo(new[] { 1.5, -2.5 }));
        using var i = f.To(DType.Int32);
        Assert.That(i.ToArray<int>(), Is.EqualTo(new[] { 1, -2 }));
    }

    [Test]
    public void NaiveIsAlwaysAvailableByName()
    {
        Assert.That(Backend.FromName("naive"), Is.SameAs(NaiveBackend.Instance));
        Assert.Throws<ArgumentException>(() => Backend.FromName("tpu"));
    }
}
