using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeNet.Data;

/// <summary>Thrown when an IDX file is truncated or malformed; the message names the file and the problem.</summary>
public sealed class IdxFormatException(string message) : IOException(message);

/// <summary>
/// Reader of the IDX format used by MNIST and Fashion-MNIST (raw or gzip-compressed):
/// magic (two zero bytes, a type code, the number of dimensions), big-endian int32 sizes, then the data.
/// </summary>
public static class Idx
{
    private const byte UnsignedByte = 0x08;

    /// <summary>An image file as a Float32 tensor [N, 1, rows, cols] with pixels scaled to [0, 1].</summary>
    public static Tensor ReadImages(string path)
    {
        var (dims, data) = Read(path);
        if (dims.Length != 3) throw new IdxFormatException($"{path}: an image file must have 3 dimensions (count, rows, columns), found {dims.Length}");
        var pixels = new float[data.Length];
        for (int i = 0; i < data.Length; i++) pixels[i] = data[i] / 255f;
        return Tensor.FromHost(pixels, [dims[0], 1, dims[1], dims[2]]);
    }

    /// <summary>A label file as an Int32 tensor [N].</summary>
    public static Tensor ReadLabels(string path)
    {
        var (dims, data) = Read(path);
        if (dims.Length != 1) throw new IdxFormatException($"{path}: a label file must have 1 dimension, found {dims.Length}");
        return Tensor.FromHost(data.Select(b => (int)b).ToArray(), [dims[0]]);
    }

    /// <summary>The dimensions and the unsigned-byte payload of an IDX file (gzip detected by its magic bytes).</summary>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        byte[] raw = File.ReadAllBytes(path);
        byte[] bytes = raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b ? Gunzip(path, raw) : raw;
        return Parse(path, bytes);
    }

    /// <summary>Parses IDX bytes (already decompressed); <paramref name="name"/> is used in error messages.</summary>
    public static (int[] Dims, byte[] Data) Parse(string name, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4) throw new IdxFormatException($"{name}: file is {bytes.Length} bytes, too short for the 4-byte IDX magic number");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new IdxFormatException($"{name}: bad magic number 0x{bytes[0]:x2}{bytes[1]:x2}{bytes[2]:x2}{bytes[3]:x2} (an IDX file starts with two zero bytes)");
        if (bytes[2] != UnsignedByte)
            throw new IdxFormatException($"{name}: element type 0x{bytes[2]:x2} is not supported (only unsigned byte, 0x08)");
        int rank = bytes[3];
        if (rank == 0) throw new IdxFormatException($"{name}: the magic number declares 0 dimensions");
        int headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength) throw new IdxFormatException($"{name}: truncated header: {rank} dimensions need {headerLength} bytes, file has {bytes.Length}");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(4 + 4 * i, 4));
            if (dims[i] <= 0) throw new IdxFormatException($"{name}: dimension {i} has invalid size {dims[i]}");
            count *= dims[i]; // count <= int.MaxValue before the multiply: the product fits in 63 bits
            if (count > ShapeUtil.MaxElements || count > bytes.Length)
                throw new IdxFormatException($"{name}: dimensions [{string.Join(", ", dims.Take(i + 1))}{(i + 1 < rank ? ", ..." : "")}] need more than {Math.Min(ShapeUtil.MaxElements, bytes.Length)} data bytes; the file has {bytes.Length}");
        }
        long expected = headerLength + count;
        if (bytes.Length != expected)
            throw new IdxFormatException(bytes.Length < expected
                ? $"{name}: truncated: dimensions [{string.Join(", ", dims)}] need {expected} bytes, file has {bytes.Length}"
                : $"{name}: {bytes.Length - expected} unexpected trailing bytes after the data of dimensions [{string.Join(", ", dims)}]");
        return (dims, bytes.Slice(headerLength).ToArray());
    }

    private static byte[] Gunzip(string path, byte[] compressed)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException($"{path}: corrupt gzip stream ({e.Message})");
        }
        catch (EndOfStreamException e)
        {
            throw new IdxFormatException($"{path}: truncated gzip stream ({e.Message})");
        }
    }
}

/// <summary>Locates and loads Fashion-MNIST as installed by Debian's <c>dataset-fashion-mnist</c> package.</summary>
public static class FashionMnist
{
    /// <summary>Where Debian installs the files; override with the NATIVENET_FASHION_MNIST environment variable.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("NATIVENET_FASHION_MNIST") is { Length: > 0 } dir ? dir : "/usr/share/datasets/fashion-mnist";

    /// <summary>Class names in label order.</summary>
    public static readonly string[] Classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Images [N,1,28,28] in [0,1] and Int32 labels [N] of the train or test split.</summary>
    public static (Tensor Images, Tensor Labels) Load(bool train, string? directory = null)
    {
        directory ??= DefaultDirectory;
        string prefix = train ? "train" : "t10k";
        string images = Find(directory, $"{prefix}-images-idx3-ubyte");
        string labels = Find(directory, $"{prefix}-labels-idx1-ubyte");
        var x = Idx.ReadImages(images);
        var y = Idx.ReadLabels(labels);
        if (x.Shape[0] != y.Shape[0])
        {
            x.Dispose();
            y.Dispose();
            throw new IdxFormatException($"{images} has {x.Shape[0]} images but {labels} has {y.Shape[0]} labels");
        }
        return (x, y);
    }

    private static string Find(string directory, string stem)
    {
        foreach (var candidate in new[] { stem + ".gz", stem })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"Fashion-MNIST file {stem}(.gz) not found in {directory}; install Debian's dataset-fashion-mnist (the build's Deps target does) or set NATIVENET_FASHION_MNIST");
    }
}
