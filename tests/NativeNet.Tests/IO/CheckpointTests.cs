using System.Buffers.Binary;
using System.Text;
using NativeNet.IO;
using NUnit.Framework;

namespace NativeNet.Tests.IO;

public class CheckpointTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDirectory() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), $"nn-ckpt-{Guid.NewGuid():N}"));

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private string File_(string name = "model.safetensors") => Path.Combine(_dir, name);

    private static Dictionary<string, Tensor> Sample() => new()
    {
        ["w"] = Tensor.FromArray(new float[] { 1.5f, -2, 3, float.NaN, float.PositiveInfinity, 0 }, 2, 3),
        ["d"] = Tensor.FromArray(new double[] { Math.PI, -1e300 }, 2),
        ["labels"] = Tensor.FromArray(new[] { 7, -1, int.MaxValue }, 3),
        ["scalar"] = Tensor.Scalar(4.25),
        ["empty"] = Tensor.Zeros([0, 3], DType.Float32),
    };

    [Test]
    public void RoundTripsF32F64I32WithMetadataAndStridedViews()
    {
        var tensors = Sample();
        using var wide = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        tensors["transposed"] = wide.Transpose(0, 1);
        Checkpoint.Save(File_(), tensors, new Dictionary<string, string> { ["epoch"] = "3", ["note"] = "é \"quoted\"" });
        var loaded = Checkpoint.Load(File_(), out var meta);
        Assert.That(loaded.Keys, Is.EqualTo(tensors.Keys), "file order is insertion order");
        foreach (var (name, t) in tensors)
        {
            Assert.That(loaded[name].DType, Is.EqualTo(t.DType), name);
            Assert.That(loaded[name].ShapeArray, Is.EqualTo(t.ShapeArray), name);
            Assert.That(loaded[name].ToArray<double>(), Is.EqualTo(t.ToArray<double>()), name);
        }
        Assert.That(meta["epoch"], Is.EqualTo("3"));
        Assert.That(meta["note"], Is.EqualTo("é \"quoted\""));
        Assert.That(Checkpoint.ReadMetadata(File_())["epoch"], Is.EqualTo("3"));
    }

    [Test]
    public void FileLayoutFollowsTheSpecification()
    {
        Checkpoint.Save(File_(), new Dictionary<string, Tensor> { ["a"] = Tensor.FromArray(new float[] { 1, 2 }), ["b"] = Tensor.FromArray(new[] { 3 }, 1) });
        var bytes = File.ReadAllBytes(File_());
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero, "header padded to a multiple of 8");
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.That(header.TrimEnd(' '), Is.EqualTo("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]}}"));
        Assert.That(bytes.Length, Is.EqualTo(8 + n + 12));
        Assert.That(BitConverter.ToSingle(bytes, 8 + (int)n + 4), Is.EqualTo(2f));
    }

    [Test]
    public void FailedSaveLeavesThePreviousFileIntactAndNoTemporaryFiles()
    {
        Checkpoint.Save(File_(), Sample());
        var before = File.ReadAllBytes(File_());
        var broken = Sample();
        var disposed = Tensor.Zeros(1000);
        disposed.Dispose();
        broken["last"] = disposed; // throws while its data is written, after the header and earlier tensors
        Assert.Throws<ObjectDisposedException>(() => Checkpoint.Save(File_(), broken));
        Assert.That(File.ReadAllBytes(File_()), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { File_() }));
    }

    [Test]
    public void SaveOverwritesAtomically()
    {
        Checkpoint.Save(File_(), Sample());
        Checkpoint.Save(File_(), new Dictionary<string, Tensor> { ["only"] = Tensor.Ones(2) });
        Assert.That(Checkpoint.Load(File_()).Keys, Is.EqualTo(new[] { "only" }));
        Assert.That(Directory.GetFiles(_dir).Length, Is.EqualTo(1));
    }

    [Test]
    public void TruncatedFilesAreRejectedAtEveryCut()
    {
        Checkpoint.Save(File_(), Sample());
        var bytes = File.ReadAllBytes(File_());
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        foreach (int cut in new[] { 0, 4, 7, 8, 9, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 3, bytes.Length - 1 })
        {
            File.WriteAllBytes(File_("cut.safetensors"), bytes[..cut]);
            var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(File_("cut.safetensors")), $"cut at {cut}");
            Assert.That(e!.Message, Does.Contain("cut.safetensors"), $"cut at {cut}");
        }
        File.WriteAllBytes(File_("long.safetensors"), [.. bytes, 0]);
        Assert.That(Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(File_("long.safetensors")))!.Problem, Does.Contain("cover"));
    }

    private CheckpointFormatException Corrupt(string header, int dataBytes, string? rawLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, rawLength is null ? (ulong)json.Length : ulong.Parse(rawLength));
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(File_("bad.safetensors"), bytes);
        return Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(File_("bad.safetensors")))!;
    }

    [Test]
    public void CorruptHeadersGiveClearErrors()
    {
        const string ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Assert.That(Corrupt(ok, 8, rawLength: "18446744073709551615").Problem, Does.Contain("header length"));
        Assert.That(Corrupt(ok, 8, rawLength: "1000000").Problem, Does.Contain("header length"));
        Assert.That(Corrupt("{\"a\":{\"dtype\":\"F32\",", 8).Problem, Does.Contain("JSON"));
        Assert.That(Corrupt("[1, 2]  ", 0).Problem, Does.Contain("start with '{'"));
        Assert.That(Corrupt(ok.Replace("F32", "BF16"), 8).Problem, Does.Contain("BF16"));
        Assert.That(Corrupt(ok.Replace("[2]", "[-2]"), 8).Problem, Does.Contain("dimension"));
        Assert.That(Corrupt(ok.Replace("[0,8]", "[0,16]"), 16).Problem, Does.Contain("needs 8 bytes"));
        Assert.That(Corrupt(ok.Replace("[0,8]", "[8,16]"), 16).Problem, Does.Contain("gap"));
        Assert.That(Corrupt(ok.Replace("[0,8]", "[0,8]"), 4).Problem, Does.Contain("beyond"));
        Assert.That(Corrupt(ok.Replace("[0,8]", "[8,0]"), 8).Problem, Does.Contain("data_offsets"));
        Assert.That(Corrupt("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8).Problem, Does.Contain("overlaps"));
        Assert.That(Corrupt("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16).Problem, Does.Contain("twice"));
        Assert.That(Corrupt("{\"__metadata__\":{\"k\":1}}", 0).Problem, Does.Contain("not a string"));
        Assert.That(Corrupt(ok.Replace("\"shape\"", "\"extra\":1,\"shape\""), 8).Problem, Does.Contain("extra"));
        Assert.That(Corrupt(ok, 9).Path, Does.EndWith("bad.safetensors"), "the exception names the file");
    }

    [Test]
    public void LoadIntoCopiesInPlaceAndListsEveryMismatch()
    {
        Checkpoint.Save(File_(), Sample());
        var target = Sample().ToDictionary(kv => kv.Key, kv => Tensor.ZerosLike(kv.Value));
        var w = target["w"];
        Checkpoint.LoadInto(File_(), target);
        Assert.That(target["w"], Is.SameAs(w));
        Assert.That(w.ToArray<double>(), Is.EqualTo(Sample()["w"].ToArray<double>()));

        var wrong = Sample().ToDictionary(kv => kv.Key, kv => Tensor.ZerosLike(kv.Value));
        wrong.Remove("labels");
        wrong["new"] = Tensor.Zeros(1);
        wrong["w"] = Tensor.Zeros(3, 2);
        wrong["d"] = Tensor.Zeros([2], DType.Float32);
        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.LoadInto(File_(), wrong))!;
        Assert.That(e.Mismatches, Has.Count.EqualTo(4));
        Assert.That(e.Message, Does.Contain("missing 'new'").And.Contain("unexpected 'labels'")
            .And.Contain("'w' is Float32[2, 3] in the file but Float32[3, 2]").And.Contain("'d' is Float64[2] in the file but Float32[2]"));
        Assert.That(wrong["scalar"].Item(), Is.EqualTo(0), "nothing is copied when anything mismatches");
    }
}
