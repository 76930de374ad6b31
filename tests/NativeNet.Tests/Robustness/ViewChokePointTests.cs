using NativeNet.Data;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>Regression tests of issue 12's view and shape arithmetic: every view is checked in 64-bit arithmetic at one place.</summary>
public class ViewChokePointTests
{
    [Test]
    public void NarrowWhoseEndOverflowsInt32IsRejected()
    {
        using var x = Tensor.Zeros(10);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => x.Narrow(0, 5, int.MaxValue));
        Assert.That(e!.Message, Does.Contain("Narrow").And.Contain("size 10"));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Narrow(0, int.MaxValue, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Narrow(0, int.MinValue, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Slice(int.MinValue, int.MaxValue));
        using var ok = x.Narrow(0, -3, 3);
        Assert.That(ok.Offset, Is.EqualTo(7));
    }

    [Test]
    public void ShapesWhoseElementCountWrapsAreRejectedWithTheOpAndShape()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(65536, 65536, 65536, 65536));
        Assert.That(e!.Message, Does.Contain("Zeros").And.Contain("[65536, 65536, 65536, 65536]"));
        var f = Assert.Throws<ArgumentException>(() => Tensor.FromArray(Array.Empty<float>(), 65536, 65536, 65536, 65536));
        Assert.That(f!.Message, Does.Contain("FromArray").And.Contain("[65536, 65536, 65536, 65536]"));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(46341, 46341));
        Assert.Throws<ArgumentException>(() => Tensor.Normal([int.MaxValue, 2]));
        using var empty = Tensor.Zeros(0, 65536, 65536, 65536);
        Assert.That(empty.Numel, Is.EqualTo(0), "a zero extent makes any shape empty, however large the others");
    }

    [Test]
    public void ExpandRejectsNegativeSizes()
    {
        using var x = Tensor.Zeros(1, 3);
        var e = Assert.Throws<ArgumentException>(() => x.Expand(-2, 3));
        Assert.That(e!.Message, Does.Contain("Expand").And.Contain("-2"));
        Assert.Throws<ArgumentException>(() => x.Expand(-1, -2, 3));
        Assert.Throws<ArgumentException>(() => x.Expand(65536, 65536, 3));
        using var big = x.Expand(1 << 20, 3);
        Assert.That(big.Numel, Is.EqualTo(3 << 20));
    }

    [Test]
    public void AsStridedIsCheckedAgainstTheStorage()
    {
        using var x = Tensor.Arange(12);
        using var ok = x.AsStrided([3, 2], [4, 2], 1);
        Assert.That(ok.ToArray(), Is.EqualTo(new float[] { 1, 3, 5, 7, 9, 11 }));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => x.AsStrided([3, 2], [4, 2], 2))!.Message, Does.Contain("AsStrided").And.Contain("12"));
        Assert.Throws<ArgumentException>(() => x.AsStrided([2], [-1], 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.AsStrided([2], [1], -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.AsStrided([1], [1], (long)int.MaxValue + 1));
        // (2^31 - 1)·2 + (2^31 - 1)·2 wraps to a small int32: the 64-bit reach is far outside.
        Assert.Throws<ArgumentOutOfRangeException>(() => x.AsStrided([2, 2], [int.MaxValue, int.MaxValue], 0));
        Assert.Throws<ArgumentException>(() => x.AsStrided([2, 2], [1], 0));
        using var empty = x.AsStrided([0, 5], [1000, 1000], 3);
        Assert.That(empty.Numel, Is.EqualTo(0));
    }

    [Test]
    public void ReshapeWithAnOverflowingKnownProductIsRejected()
    {
        using var x = Tensor.Zeros(4);
        Assert.Throws<ShapeMismatchException>(() => x.Reshape(65536, 65536, -1));
        Assert.Throws<ArgumentException>(() => x.Reshape(65536, 65536, 65536, 65536));
    }

    [Test]
    public void IndexerOffsetsAreCheckedIn64Bits()
    {
        using var x = Tensor.Zeros(3, 4);
        Assert.Throws<IndexOutOfRangeException>(() => _ = x[int.MinValue, 0]);
        Assert.Throws<IndexOutOfRangeException>(() => _ = x[0, int.MaxValue]);
        using var row = x.Expand(1 << 20, 3, 4);
        Assert.That(row[(1 << 20) - 1, 2, 3], Is.EqualTo(0));
    }

    [Test]
    public void UnsqueezeAndSqueezeOfAnyViewAreViews()
    {
        using var one = Tensor.Zeros(1);
        using var huge = one.Expand(int.MaxValue - 1);
        using var u = huge.Unsqueeze(0);
        Assert.That(u.ShapeArray, Is.EqualTo(new[] { 1, int.MaxValue - 1 }));
        Assert.That(u.Storage, Is.SameAs(one.Storage), "no copy of an expanded view");
        using var x = Tensor.Arange(6).Reshape(2, 3);
        using var t = x.T;
        using var tu = t.Unsqueeze(1);
        Assert.That(tu.Storage, Is.SameAs(x.Storage));
        Assert.That(tu.ToArray(), Is.EqualTo(new float[] { 0, 3, 1, 4, 2, 5 }));
    }

    [Test]
    public void EmptyTensorsWithHugeExtentsDoNotRunKernels()
    {
        using var one = Tensor.Zeros(3, 5);
        using var empty = one.AsStrided([0, int.MaxValue - 1, 3, 5], [0, 0, 5, 1], 0);
        foreach (var op in new Func<Tensor, Tensor>[] { t => t.Softmax(0), t => t.LogSoftmax(-1), t => t.Sum(1), t => t.Max([1]), t => t.ArgMax(-1), t => t.Relu() })
        {
            using var y = op(empty);
            Assert.That(y.Numel, Is.EqualTo(0));
        }
        // summing away the zero extent would make a result of 2^31·15 zeros: a clear error, not a wrapped count
        Assert.That(Assert.Throws<ArgumentException>(() => empty.Sum(0))!.Message, Does.Contain("[1, 2147483646, 3, 5]"));
    }

    [Test]
    public void IdxDimensionsWhoseProductWrapsAreRejectedWithTheFileName()
    {
        // 2^21 · 2^21 · 2^22 = 2^64: a 64-bit product wraps to 0, so the 16-byte header alone "fits".
        var bytes = new byte[16];
        bytes[2] = 0x08;
        bytes[3] = 3;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), 1 << 21);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), 1 << 21);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), 1 << 22);
        var e = Assert.Throws<IdxFormatException>(() => Idx.Parse("huge.idx3", bytes));
        Assert.That(e!.Message, Does.StartWith("huge.idx3:"));
        string path = Path.Combine(Path.GetTempPath(), $"nativenet-huge-{Guid.NewGuid():N}.idx3");
        File.WriteAllBytes(path, bytes);
        try
        {
            Assert.That(Assert.Throws<IdxFormatException>(() => Idx.ReadImages(path))!.Message, Does.Contain(path));
        }
        finally { File.Delete(path); }
    }
}
