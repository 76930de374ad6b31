using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace NativeNet.IO;

/// <summary>A checkpoint file that is not valid safetensors; the message names the file and the problem.</summary>
public sealed class CheckpointFormatException(string path, string problem)
    : Exception($"checkpoint '{path}' is not a valid safetensors file: {problem}")
{
    /// <summary>The file that was read.</summary>
    public string Path { get; } = path;

    /// <summary>What was wrong, without the file name.</summary>
    public string Problem { get; } = problem;
}

/// <summary>A valid checkpoint whose tensors do not fit the target of <see cref="Checkpoint.LoadInto"/>.</summary>
public sealed class CheckpointMismatchException(string path, IReadOnlyList<string> mismatches)
    : Exception($"checkpoint '{path}' does not fit the target: {string.Join("; ", mismatches)}")
{
    /// <summary>One line per missing, unexpected or mismatched tensor.</summary>
    public IReadOnlyList<string> Mismatches { get; } = mismatches;
}

/// <summary>
/// Reads and writes name → tensor dictionaries in the safetensors format (the format of Hugging Face's
/// <c>safetensors</c> package, readable by PyTorch): an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32"|"F64"|"I32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}</c>
/// padded with spaces to a multiple of 8, then the raw little-endian data, tensors back to back in the order given,
/// offsets relative to the start of the data section.
/// </summary>
public static class Checkpoint
{
    private const string MetadataKey = "__metadata__";

    /// <summary>Headers larger than this are rejected as corrupt (the safetensors package uses the same bound).</summary>
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any strides; copied to host when needed) and optional string
    /// <paramref name="metadata"/> to <paramref name="path"/>. The file is written to a temporary file in the same
    /// directory and moved over <paramref name="path"/> only when complete, so a failure never leaves a half-written
    /// file and the previous checkpoint stays intact.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoint.Save: safetensors data is little-endian; big-endian hosts are not supported");
        var entries = tensors.ToList();
        foreach (var (name, t) in entries)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("Checkpoint.Save: a tensor has an empty name");
            if (name == MetadataKey) throw new ArgumentException($"Checkpoint.Save: '{MetadataKey}' is reserved for metadata and cannot name a tensor");
            ArgumentNullException.ThrowIfNull(t, name);
        }
        byte[] header = BuildHeader(entries, metadata);

        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full) ?? ".";
        RemoveStaleTemporaries(full);
        string temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        InterruptCleanup.Register(temp);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                InterruptCleanup.ThrowIfInterrupted(temp);
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var (_, t) in entries) WriteData(stream, t);
                stream.Flush(flushToDisk: true);
            }
            InterruptCleanup.ThrowIfInterrupted(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new IOException($"Checkpoint.Save: cannot write '{full}' ({e.Message})", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            InterruptCleanup.Unregister(temp);
        }
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Deletes the temporary files (<c>.NAME.GUID.tmp</c> next to <paramref name="path"/>) that an interrupted save left
    /// behind. A temporary that another writer still holds open (a save in progress in another process keeps an exclusive
    /// lock on it) is left alone. Called by every <see cref="Save"/>; returns the number of files removed.
    /// </summary>
    public static int RemoveStaleTemporaries(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full) ?? ".";
        string prefix = $".{System.IO.Path.GetFileName(full)}.";
        if (!Directory.Exists(dir)) return 0;
        int removed = 0;
        foreach (var candidate in Directory.EnumerateFiles(dir, prefix + "*.tmp"))
        {
            string middle = System.IO.Path.GetFileName(candidate)[prefix.Length..^".tmp".Length];
            if (middle.Length != 32 || !middle.All(char.IsAsciiHexDigitLower) || InterruptCleanup.IsInFlight(candidate)) continue;
            try
            {
                using (new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
                File.Delete(candidate);
                removed++;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>The temporaries of saves in progress in this process, deleted when the process is interrupted (SIGINT, SIGTERM, SIGQUIT) or exits.</summary>
    private static class InterruptCleanup
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> InFlight = new(StringComparer.Ordinal);
        private static readonly List<PosixSignalRegistration> Registrations = [];
        private static int _installed;
        private static volatile bool _interrupted;

        public static void Register(string temp)
        {
            if (Interlocked.Exchange(ref _installed, 1) == 0)
            {
                foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
                {
                    try { Registrations.Add(PosixSignalRegistration.Create(signal, _ => { _interrupted = true; DeleteAll(); })); }
                    catch (PlatformNotSupportedException) { }
                }
                AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();
            }
            InFlight[temp] = 0;
        }

        /// <summary>
        /// Once a signal has arrived, a save still running (or starting before the process ends) deletes its own
        /// temporary and stops: the signal's sweep may have run before that temporary existed.
        /// </summary>
        public static void ThrowIfInterrupted(string temp)
        {
            if (!_interrupted) return;
            TryDelete(temp);
            throw new OperationCanceledException($"Checkpoint.Save: interrupted by a signal; '{temp}' removed");
        }

        public static void Unregister(string temp) => InFlight.TryRemove(temp, out _);

        public static bool IsInFlight(string temp) => InFlight.ContainsKey(System.IO.Path.GetFullPath(temp));

        private static void DeleteAll()
        {
            foreach (var temp in InFlight.Keys) TryDelete(temp);
        }
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value ?? throw new ArgumentNullException(nameof(metadata), $"Checkpoint.Save: metadata '{key}' is null"));
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in entries)
            {
                long bytes = (long)t.Numel * t.DType.SizeInBytes();
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypeName(t.DType));
                json.WriteStartArray("shape");
                foreach (int d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteData(Stream stream, Tensor t)
    {
        t.ThrowIfDisposed();
        if (t.Device.Kind == DeviceKind.Cpu && t.IsContiguous)
        {
            switch (t.DType)
            {
                case DType.Float32: stream.Write(MemoryMarshal.AsBytes(t.HostData<float>().AsSpan(t.Offset, t.Numel))); return;
                case DType.Float64: stream.Write(MemoryMarshal.AsBytes(t.HostData<double>().AsSpan(t.Offset, t.Numel))); return;
                case DType.Int32: stream.Write(MemoryMarshal.AsBytes(t.HostData<int>().AsSpan(t.Offset, t.Numel))); return;
            }
        }
        switch (t.DType)
        {
            case DType.Float32: stream.Write(MemoryMarshal.AsBytes(t.ToArray<float>().AsSpan())); break;
            case DType.Float64: stream.Write(MemoryMarshal.AsBytes(t.ToArray<double>().AsSpan())); break;
            case DType.Int32: stream.Write(MemoryMarshal.AsBytes(t.ToArray<int>().AsSpan())); break;
        }
    }

    /// <summary>Reads every tensor of the file into new CPU tensors, in file order. Throws <see cref="CheckpointFormatException"/> for any defect.</summary>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    /// <summary>Reads every tensor and the string metadata (empty when the file has none).</summary>
    public static Dictionary<string, Tensor> Load(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] content = File.ReadAllBytes(path);
        var (entries, meta, dataStart) = ParseHeader(path, content);
        metadata = meta;
        var result = new Dictionary<string, Tensor>();
        foreach (var e in entries)
        {
            var bytes = content.AsSpan(checked((int)(dataStart + e.Begin)), checked((int)(e.End - e.Begin)));
            result[e.Name] = e.DType switch
            {
                DType.Float32 => Tensor.FromHost(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), e.Shape),
                DType.Float64 => Tensor.FromHost(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), e.Shape),
                _ => Tensor.FromHost(MemoryMarshal.Cast<byte, int>(bytes).ToArray(), e.Shape),
            };
        }
        return result;
    }

    /// <summary>Reads only the string metadata of the file (the header is still validated in full).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ParseHeader(path, File.ReadAllBytes(path)).Metadata;
    }

    /// <summary>
    /// Copies the file's tensors into <paramref name="target"/>'s tensors in place (any device or strides). The names
    /// must match exactly, and each shape and dtype; otherwise a <see cref="CheckpointMismatchException"/> lists every
    /// missing, unexpected and mismatched tensor and nothing is modified.
    /// </summary>
    public static void LoadInto(string path, IReadOnlyDictionary<string, Tensor> target)
    {
        ArgumentNullException.ThrowIfNull(target);
        using var loaded = new DisposingDictionary(Load(path));
        var source = loaded.Tensors;
        var problems = new List<string>();
        foreach (var name in target.Keys.Where(k => !source.ContainsKey(k)).Order(StringComparer.Ordinal)) problems.Add($"missing '{name}' (in the target, not in the file)");
        foreach (var name in source.Keys.Where(k => !target.ContainsKey(k)).Order(StringComparer.Ordinal)) problems.Add($"unexpected '{name}' (in the file, not in the target)");
        foreach (var (name, dst) in target)
        {
            if (!source.TryGetValue(name, out var src)) continue;
            dst.ThrowIfDisposed();
            if (src.DType != dst.DType || !ShapeUtil.SameShape(src.Shape, dst.Shape))
                problems.Add($"'{name}' is {src.DType}{ShapeUtil.Format(src.Shape)} in the file but {dst.DType}{ShapeUtil.Format(dst.Shape)} in the target");
        }
        if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
        foreach (var (name, dst) in target)
        {
            var src = source[name];
            if (dst.Device.Kind == DeviceKind.Cpu) Raw.CopyInto(src, dst);
            else
            {
                using var moved = src.To(dst.Device);
                Raw.CopyInto(moved, dst);
            }
        }
    }

    private sealed class DisposingDictionary(Dictionary<string, Tensor> tensors) : IDisposable
    {
        public Dictionary<string, Tensor> Tensors { get; } = tensors;
        public void Dispose() { foreach (var t in Tensors.Values) t.Dispose(); }
    }

    // ---- header parsing and validation ----

    private sealed record Entry(string Name, DType DType, int[] Shape, long Begin, long End);

    private static (List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ParseHeader(string path, byte[] content)
    {
        try
        {
            return ParseHeaderCore(path, content);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            throw new CheckpointFormatException(path, $"the header cannot be read ({e.Message})");
        }
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ParseHeaderCore(string path, byte[] content)
    {
        CheckpointFormatException Bad(string problem) => new(path, problem);
        if (content.Length < 8) throw Bad($"the file has {content.Length} bytes, fewer than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(content);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > (ulong)(content.Length - 8))
            throw Bad($"header length {headerLength} does not fit the file of {content.Length} bytes");
        long dataStart = 8 + (long)headerLength;
        long dataLength = content.Length - dataStart;
        var headerBytes = content.AsSpan(8, (int)headerLength);
        if (headerBytes[0] != (byte)'{') throw Bad("the header does not start with '{'");
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            throw Bad($"the header is not valid UTF-8 (first bad byte at header offset {FirstInvalidUtf8(headerBytes)})");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(content.AsMemory(8, (int)headerLength), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Bad($"the header is not valid JSON ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("the header is not a JSON object");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!IsWellFormed(prop.Name)) throw Bad("a tensor name holds an unpaired UTF-16 surrogate escape (not Unicode text)");
                if (!names.Add(prop.Name)) throw Bad($"the name '{prop.Name}' appears twice in the header");
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad($"'{MetadataKey}' is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"metadata '{m.Name}' is not a string");
                        if (!IsWellFormed(m.Name) || !IsWellFormed(m.Value.GetString()!)) throw Bad("a metadata entry holds an unpaired UTF-16 surrogate escape (not Unicode text)");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad($"metadata '{m.Name}' appears twice");
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, Bad));
            }

            // Offsets must tile the data section exactly: sorted by begin, each starts where the previous ended.
            long position = 0;
            foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (e.Begin < position) throw Bad($"tensor '{e.Name}' data [{e.Begin}, {e.End}) overlaps the previous tensor ending at {position}");
                if (e.Begin > position) throw Bad($"tensor '{e.Name}' starts at {e.Begin} but the previous tensor ends at {position} (gap in the data)");
                if (e.End > dataLength) throw Bad($"tensor '{e.Name}' data [{e.Begin}, {e.End}) is beyond the data section of {dataLength} bytes");
                position = e.End;
            }
            if (position != dataLength) throw Bad($"the data section has {dataLength} bytes but the tensors cover {position}");
            return (entries, metadata, dataStart);
        }
    }

    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        System.Text.Unicode.Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    private static Entry ParseEntry(JsonProperty prop, Func<string, CheckpointFormatException> bad)
    {
        string name = prop.Name;
        if (prop.Value.ValueKind != JsonValueKind.Object) throw bad($"tensor '{name}' is not described by an object");
        JsonElement? dtypeEl = null, shapeEl = null, offsetsEl = null;
        foreach (var field in prop.Value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype" when dtypeEl is null: dtypeEl = field.Value; break;
                case "shape" when shapeEl is null: shapeEl = field.Value; break;
                case "data_offsets" when offsetsEl is null: offsetsEl = field.Value; break;
                default: throw bad($"tensor '{name}' has an unexpected or repeated field '{field.Name}'");
            }
        }
        if (dtypeEl is not { ValueKind: JsonValueKind.String } dt) throw bad($"tensor '{name}' has no string 'dtype'");
        var dtype = dt.GetString() switch
        {
            "F32" => DType.Float32,
            "F64" => DType.Float64,
            "I32" => DType.Int32,
            var other => throw bad($"tensor '{name}' has dtype '{other}'; supported are F32, F64 and I32"),
        };
        if (shapeEl is not { ValueKind: JsonValueKind.Array } sh) throw bad($"tensor '{name}' has no 'shape' array");
        var shape = new int[sh.GetArrayLength()];
        long numel = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int size) || size < 0) throw bad($"tensor '{name}' has an invalid dimension {d.GetRawText()} in its shape");
            shape[k++] = size;
            numel *= size;
            if (numel > int.MaxValue) throw bad($"tensor '{name}' has more than {int.MaxValue} elements");
        }
        if (offsetsEl is not { ValueKind: JsonValueKind.Array } off || off.GetArrayLength() != 2) throw bad($"tensor '{name}' has no 'data_offsets' pair");
        var begin = off[0];
        var end = off[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out long b) || b < 0 ||
            end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out long e) || e < b)
            throw bad($"tensor '{name}' has invalid data_offsets {off.GetRawText()}");
        long expected = numel * dtype.SizeInBytes();
        if (e - b != expected) throw bad($"tensor '{name}' ({DTypeName(dtype)}{ShapeUtil.Format(shape)}) needs {expected} bytes but data_offsets {off.GetRawText()} span {e - b}");
        return new Entry(name, dtype, shape, b, e);
    }

    private static string DTypeName(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int32 => "I32",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no safetensors name"),
    };
}
