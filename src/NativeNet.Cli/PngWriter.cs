using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeNet.Cli;

/// <summary>A minimal PNG encoder for 8-bit greyscale images (one IDAT chunk, filter 0, zlib from the base library).</summary>
public static class PngWriter
{
    private static readonly uint[] s_crcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>Encodes <paramref name="pixels"/> (row-major, <paramref name="width"/>·<paramref name="height"/> bytes, 0 black … 255 white).</summary>
    public static byte[] Greyscale(ReadOnlySpan<byte> pixels, int width, int height)
    {
        if (width < 1 || height < 1 || pixels.Length != width * height)
            throw new ArgumentException($"PngWriter: {pixels.Length} pixels are not a {width}x{height} image");
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (greyscale), compression 0, filter 0, no interlace
        Chunk(png, "IHDR", header);
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < height; y++)
            {
                zlib.WriteByte(0);
                zlib.Write(pixels.Slice(y * width, width));
            }
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in typeBytes.Concat(data)) crc = s_crcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc ^ 0xFFFFFFFFu);
        png.Write(word);
    }
}
