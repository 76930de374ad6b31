using System.IO.Compression;
using NativeNet.Data;
using NUnit.Framework;

namespace NativeNet.Tests.Data;

public class IdxTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = Directory.CreateTempSubdirectory("idx").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static byte[] ImageFile(int count, int rows, int cols)
    {
        var header = new byte[] { 0, 0, 8, 3 }.Concat(BigEndian(count)).Concat(BigEndian(rows)).Concat(BigEndian(cols));
        return header.Concat(Enumerable.Range(0, count * rows * cols).Select(i => (byte)(i % 256))).ToArray();
    }

    private static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        string path = Path.Combine(_dir, name);
        if (!gzip) { File.WriteAllBytes(path, bytes); return path; }
        using var file = File.Create(path);
        using var z = new GZipStream(file, CompressionLevel.Fastest);
        z.Write(bytes);
        return path;
    }

    [Test]
    public void ReadsRawAndGzipImagesAndLabels()
    {
        using var raw = Idx.ReadImages(Write("img", ImageFile(2, 3, 4)));
        Assert.That(raw.ShapeArray, Is.EqualTo(new[] { 2, 1, 3, 4 }));
        Assert.That(raw[1, 0, 2, 3], Is.EqualTo(23 / 255.0).Within(1e-7));
        using var gz = Idx.ReadImages(Write("img.gz", ImageFile(2, 3, 4), gzip: true));
        Assert.That(gz.ToArray(), Is.EqualTo(raw.ToArray()));
        var labels = new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9 };
        using var y = Idx.ReadLabels(Write("lab", labels));
        Assert.That(y.ToArray<int>(), Is.EqualTo(new[] { 7, 0, 9 }));
    }

    [Test]
    public void CorruptFilesGiveClearErrors()
    {
        var good = ImageFile(2, 3, 4);
        var e = Assert.Throws<IdxFormatException>(() => Idx.ReadImages(Write("short", good[..^1])));
        Assert.That(e!.Message, Does.Contain("truncated").And.Contain("short"));
        Assert.That(Assert.Throws<IdxFormatException>(() => Idx.ReadImages(Write("long", [.. good, 1])))!.Message, Does.Contain("trailing"));
        var badMagic = (byte[])good.Clone();
        badMagic[0] = 1;
        Assert.That(Assert.Throws<IdxFormatException>(() => Idx.ReadImages(Write("magic", badMagic)))!.Message, Does.Contain("magic"));
        var badType = (byte[])good.Clone();
        badType[2] = 0x0D;
        Assert.That(Assert.Throws<IdxFormatException>(() => Idx.ReadImages(Write("type", badType)))!.Message, Does.Contain("element type"));
        Assert.That(Assert.Throws<IdxFormatException>(() => Idx.ReadImages(Write("hdr", good[..7])))!.Message, Does.Contain("truncated header"));
        Assert.That(Assert.Throws<IdxFormatException>(() => Idx.ReadLabels(Write("rank", good)))!.Message, Does.Contain("1 dimension"));
        var gz = File.ReadAllBytes(Write("full.gz", good, gzip: true));
        Assert.Throws<IdxFormatException>(() => Idx.ReadImages(Write("cut.gz", gz[..(gz.Length / 2)])));
        Assert.Throws<FileNotFoundException>(() => Idx.ReadImages(Path.Combine(_dir, "missing")));
    }

    [Test]
    public void FashionMnistWhenInstalled()
    {
        if (!File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "t10k-labels-idx1-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory} (the build's Deps target installs dataset-fashion-mnist)");
        var (x, y) = FashionMnist.Load(train: false);
        using (x)
        using (y)
        {
            Assert.That(x.ShapeArray, Is.EqualTo(new[] { 10000, 1, 28, 28 }));
            Assert.That(y.ToArray<int>().Distinct().Order(), Is.EqualTo(Enumerable.Range(0, 10)));
        }
        Assert.That(Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(true, _dir))!.Message, Does.Contain("dataset-fashion-mnist"));
    }
}
