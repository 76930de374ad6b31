using System.Buffers.Binary;
using System.Text;

namespace NativeNet.OnnxIO;

/// <summary>ONNX's TensorProto.DataType values that NativeNet reads or writes.</summary>
public enum OnnxDataType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>int32.</summary>
    Int32 = 6,
    /// <summary>int64.</summary>
    Int64 = 7,
    /// <summary>bool.</summary>
    Bool = 9,
    /// <summary>float64.</summary>
    Double = 11,
}

/// <summary>
/// The subset of onnx.proto (proto2, field numbers of ONNX 1.12) that NativeNet exports and imports, as plain classes with a
/// hand-written protobuf encoder and decoder: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto
/// (tensor types only). Fields outside the subset are skipped when reading.
/// </summary>
public sealed class OnnxModelProto
{
    /// <summary>IR version (8 goes with opset 17).</summary>
    public long IrVersion { get; set; } = 8;
    /// <summary>Operator sets: (domain, version); "" is the default ONNX domain.</summary>
    public List<(string Domain, long Version)> OpsetImports { get; } = [];
    /// <summary>Tool that wrote the model.</summary>
    public string ProducerName { get; set; } = "";
    /// <summary>Version of that tool.</summary>
    public string ProducerVersion { get; set; } = "";
    /// <summary>The computation.</summary>
    public OnnxGraphProto Graph { get; set; } = new();

    /// <summary>Encodes the model as protobuf bytes.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        w.Int64(1, IrVersion);
        w.String(2, ProducerName);
        w.String(3, ProducerVersion);
        w.Message(7, Graph.Write);
        foreach (var (domain, version) in OpsetImports)
            w.Message(8, m => { m.String(1, domain); m.Int64(2, version); });
        return w.ToArray();
    }

    /// <summary>Decodes protobuf bytes; throws <see cref="InvalidDataException"/> on malformed input.</summary>
    public static OnnxModelProto Parse(byte[] bytes)
    {
        var model = new OnnxModelProto { IrVersion = 0 };
        var r = new ProtoReader(bytes);
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: model.IrVersion = r.Varint(wire); break;
                case 2: model.ProducerName = r.String(wire); break;
                case 3: model.ProducerVersion = r.String(wire); break;
                case 7: model.Graph = OnnxGraphProto.Read(r.Sub(wire)); break;
                case 8:
                    var o = r.Sub(wire);
                    string domain = "";
                    long version = 0;
                    while (o.Next(out int f, out int ow))
                    {
                        if (f == 1) domain = o.String(ow);
                        else if (f == 2) version = o.Varint(ow);
                        else o.Skip(ow);
                    }
                    model.OpsetImports.Add((domain, version));
                    break;
                default: r.Skip(wire); break;
            }
        }
        return model;
    }
}

/// <summary>GraphProto: nodes in topological order, initializers (weights), inputs, outputs and value infos.</summary>
public sealed class OnnxGraphProto
{
    /// <summary>Graph name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Nodes in topological order.</summary>
    public List<OnnxNodeProto> Nodes { get; } = [];
    /// <summary>Constant tensors (weights), by name.</summary>
    public List<OnnxTensorProto> Initializers { get; } = [];
    /// <summary>Graph inputs.</summary>
    public List<OnnxValueInfoProto> Inputs { get; } = [];
    /// <summary>Graph outputs.</summary>
    public List<OnnxValueInfoProto> Outputs { get; } = [];
    /// <summary>Types and shapes of intermediate values.</summary>
    public List<OnnxValueInfoProto> ValueInfos { get; } = [];

    internal void Write(ProtoWriter w)
    {
        foreach (var n in Nodes) w.Message(1, n.Write);
        w.String(2, Name);
        foreach (var t in Initializers) w.Message(5, t.Write);
        foreach (var v in Inputs) w.Message(11, v.Write);
        foreach (var v in Outputs) w.Message(12, v.Write);
        foreach (var v in ValueInfos) w.Message(13, v.Write);
    }

    internal static OnnxGraphProto Read(ProtoReader r)
    {
        var g = new OnnxGraphProto();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: g.Nodes.Add(OnnxNodeProto.Read(r.Sub(wire))); break;
                case 2: g.Name = r.String(wire); break;
                case 5: g.Initializers.Add(OnnxTensorProto.Read(r.Sub(wire))); break;
                case 11: g.Inputs.Add(OnnxValueInfoProto.Read(r.Sub(wire))); break;
                case 12: g.Outputs.Add(OnnxValueInfoProto.Read(r.Sub(wire))); break;
                case 13: g.ValueInfos.Add(OnnxValueInfoProto.Read(r.Sub(wire))); break;
                case 15: throw new NotSupportedException("ONNX: sparse initializers are not supported");
                default: r.Skip(wire); break;
            }
        }
        return g;
    }
}

/// <summary>NodeProto: one operator application.</summary>
public sealed class OnnxNodeProto
{
    /// <summary>Input value names ("" for an omitted optional input).</summary>
    public List<string> Inputs { get; } = [];
    /// <summary>Output value names.</summary>
    public List<string> Outputs { get; } = [];
    /// <summary>Node name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Operator, e.g. "Conv".</summary>
    public string OpType { get; set; } = "";
    /// <summary>Operator domain ("" is ONNX's).</summary>
    public string Domain { get; set; } = "";
    /// <summary>Attributes.</summary>
    public List<OnnxAttributeProto> Attributes { get; } = [];

    /// <summary>The attribute called <paramref name="name"/>, or null.</summary>
    public OnnxAttributeProto? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    /// <summary>"Conv node 'name'" for messages.</summary>
    public string Describe() => $"{OpType} node '{(Name.Length > 0 ? Name : string.Join(",", Outputs))}'";

    internal void Write(ProtoWriter w)
    {
        foreach (var i in Inputs) w.String(1, i, always: true);
        foreach (var o in Outputs) w.String(2, o, always: true);
        w.String(3, Name);
        w.String(4, OpType);
        foreach (var a in Attributes) w.Message(5, a.Write);
        w.String(7, Domain);
    }

    internal static OnnxNodeProto Read(ProtoReader r)
    {
        var n = new OnnxNodeProto();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: n.Inputs.Add(r.String(wire)); break;
                case 2: n.Outputs.Add(r.String(wire)); break;
                case 3: n.Name = r.String(wire); break;
                case 4: n.OpType = r.String(wire); break;
                case 5: n.Attributes.Add(OnnxAttributeProto.Read(r.Sub(wire))); break;
                case 7: n.Domain = r.String(wire); break;
                default: r.Skip(wire); break;
            }
        }
        return n;
    }
}

/// <summary>AttributeProto: a named float, int, string, tensor, floats or ints value (graph attributes are not supported).</summary>
public sealed class OnnxAttributeProto
{
    /// <summary>AttributeProto.AttributeType values.</summary>
    public enum Kind
    {
        /// <summary>Not set.</summary>
        Undefined = 0,
        /// <summary>f.</summary>
        Float = 1,
        /// <summary>i.</summary>
        Int = 2,
        /// <summary>s.</summary>
        String = 3,
        /// <summary>t.</summary>
        Tensor = 4,
        /// <summary>g.</summary>
        Graph = 5,
        /// <summary>floats.</summary>
        Floats = 6,
        /// <summary>ints.</summary>
        Ints = 7,
        /// <summary>strings.</summary>
        Strings = 8,
    }

    /// <summary>Attribute name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Which field holds the value.</summary>
    public Kind Type { get; set; }
    /// <summary>Float value.</summary>
    public float F { get; set; }
    /// <summary>Integer value.</summary>
    public long I { get; set; }
    /// <summary>String value (UTF-8).</summary>
    public string S { get; set; } = "";
    /// <summary>Tensor value.</summary>
    public OnnxTensorProto? T { get; set; }
    /// <summary>Float list.</summary>
    public List<float> Floats { get; } = [];
    /// <summary>Integer list.</summary>
    public List<long> Ints { get; } = [];

    /// <summary>An INT attribute.</summary>
    public static OnnxAttributeProto Of(string name, long value) => new() { Name = name, Type = Kind.Int, I = value };
    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttributeProto Of(string name, float value) => new() { Name = name, Type = Kind.Float, F = value };
    /// <summary>A STRING attribute.</summary>
    public static OnnxAttributeProto Of(string name, string value) => new() { Name = name, Type = Kind.String, S = value };
    /// <summary>A TENSOR attribute.</summary>
    public static OnnxAttributeProto Of(string name, OnnxTensorProto value) => new() { Name = name, Type = Kind.Tensor, T = value };
    /// <summary>An INTS attribute.</summary>
    public static OnnxAttributeProto Of(string name, params long[] values)
    {
        var a = new OnnxAttributeProto { Name = name, Type = Kind.Ints };
        a.Ints.AddRange(values);
        return a;
    }
    /// <summary>A STRINGS attribute (strings are kept in <see cref="Strings"/>).</summary>
    public static OnnxAttributeProto OfStrings(string name, params string[] values)
    {
        var a = new OnnxAttributeProto { Name = name, Type = Kind.Strings };
        a.Strings.AddRange(values);
        return a;
    }

    /// <summary>String list.</summary>
    public List<string> Strings { get; } = [];

    internal void Write(ProtoWriter w)
    {
        w.String(1, Name);
        switch (Type)
        {
            case Kind.Float: w.Float(2, F); break;
            case Kind.Int: w.Int64(3, I, always: true); break;
            case Kind.String: w.Bytes(4, Encoding.UTF8.GetBytes(S)); break;
            case Kind.Tensor: w.Message(5, T!.Write); break;
            case Kind.Floats: foreach (var f in Floats) w.Float(7, f); break;
            case Kind.Ints: foreach (var i in Ints) w.Int64(8, i, always: true); break;
            case Kind.Strings: foreach (var s in Strings) w.Bytes(9, Encoding.UTF8.GetBytes(s)); break;
            default: throw new InvalidOperationException($"ONNX attribute '{Name}': cannot write type {Type}");
        }
        w.Int64(20, (long)Type);
    }

    internal static OnnxAttributeProto Read(ProtoReader r)
    {
        var a = new OnnxAttributeProto();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: a.Name = r.String(wire); break;
                case 2: a.F = r.Float(wire); break;
                case 3: a.I = r.Varint(wire); break;
                case 4: a.S = r.String(wire); break;
                case 5: a.T = OnnxTensorProto.Read(r.Sub(wire)); break;
                case 7: r.Floats(wire, a.Floats); break;
                case 8: r.Varints(wire, a.Ints); break;
                case 9: a.Strings.Add(r.String(wire)); break;
                case 20: a.Type = (Kind)r.Varint(wire); break;
                default: r.Skip(wire); break;
            }
        }
        return a;
    }
}

/// <summary>TensorProto: dims, element type, name and the data (raw little-endian bytes, or the typed lists when reading).</summary>
public sealed class OnnxTensorProto
{
    /// <summary>Shape.</summary>
    public List<long> Dims { get; } = [];
    /// <summary>Element type.</summary>
    public OnnxDataType DataType { get; set; }
    /// <summary>Name (initializers are referenced by it).</summary>
    public string Name { get; set; } = "";
    /// <summary>Little-endian element bytes (what NativeNet writes).</summary>
    public byte[]? RawData { get; set; }
    /// <summary>float_data.</summary>
    public List<float> FloatData { get; } = [];
    /// <summary>int32_data (also int8/16, bool).</summary>
    public List<long> Int32Data { get; } = [];
    /// <summary>int64_data.</summary>
    public List<long> Int64Data { get; } = [];
    /// <summary>double_data.</summary>
    public List<double> DoubleData { get; } = [];

    /// <summary>Number of elements (the product of <see cref="Dims"/>; 1 for a scalar).</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>The elements as doubles (any supported element type).</summary>
    public double[] ToDoubles()
    {
        long n = ElementCount;
        var result = new double[n];
        if (RawData is { } raw)
        {
            int size = DataType switch
            {
                OnnxDataType.Float or OnnxDataType.Int32 => 4,
                OnnxDataType.Int64 or OnnxDataType.Double => 8,
                OnnxDataType.Bool => 1,
                _ => throw new NotSupportedException($"ONNX tensor '{Name}': element type {(int)DataType} is not supported"),
            };
            if (raw.Length != n * size) throw new InvalidDataException($"ONNX tensor '{Name}': raw_data has {raw.Length} bytes for {n} elements of {size} bytes");
            for (int i = 0; i < n; i++)
            {
                var span = raw.AsSpan(i * size, size);
                result[i] = DataType switch
                {
                    OnnxDataType.Float => BinaryPrimitives.ReadSingleLittleEndian(span),
                    OnnxDataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(span),
                    OnnxDataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(span),
                    OnnxDataType.Double => BinaryPrimitives.ReadDoubleLittleEndian(span),
                    _ => span[0],
                };
            }
            return result;
        }
        IReadOnlyList<double> typed = DataType switch
        {
            OnnxDataType.Float => FloatData.Select(f => (double)f).ToArray(),
            OnnxDataType.Int32 or OnnxDataType.Bool => Int32Data.Select(v => (double)v).ToArray(),
            OnnxDataType.Int64 => Int64Data.Select(v => (double)v).ToArray(),
            OnnxDataType.Double => DoubleData,
            _ => throw new NotSupportedException($"ONNX tensor '{Name}': element type {(int)DataType} is not supported"),
        };
        if (typed.Count != n) throw new InvalidDataException($"ONNX tensor '{Name}': {typed.Count} values for shape [{string.Join(", ", Dims)}]");
        for (int i = 0; i < n; i++) result[i] = typed[i];
        return result;
    }

    /// <summary>The elements as 64-bit integers (integer types; floats are truncated).</summary>
    public long[] ToInt64s()
    {
        if (DataType == OnnxDataType.Int64 && RawData is null) return [.. Int64Data];
        if (DataType == OnnxDataType.Int64 && RawData is { } raw)
        {
            var result = new long[raw.Length / 8];
            for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(i * 8));
            if (result.Length != ElementCount) throw new InvalidDataException($"ONNX tensor '{Name}': raw_data has {result.Length} elements for shape [{string.Join(", ", Dims)}]");
            return result;
        }
        return ToDoubles().Select(d => (long)d).ToArray();
    }

    internal void Write(ProtoWriter w)
    {
        foreach (var d in Dims) w.Int64(1, d, always: true);
        w.Int64(2, (long)DataType, always: true);
        w.String(8, Name);
        if (RawData is not null) w.Bytes(9, RawData);
    }

    internal static OnnxTensorProto Read(ProtoReader r)
    {
        var t = new OnnxTensorProto();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.Varints(wire, t.Dims); break;
                case 2: t.DataType = (OnnxDataType)r.Varint(wire); break;
                case 4: r.Floats(wire, t.FloatData); break;
                case 5: r.Varints(wire, t.Int32Data); break;
                case 7: r.Varints(wire, t.Int64Data); break;
                case 8: t.Name = r.String(wire); break;
                case 9: t.RawData = r.BytesField(wire); break;
                case 10: r.Doubles(wire, t.DoubleData); break;
                case 14:
                    if (r.Varint(wire) != 0) throw new NotSupportedException("ONNX: tensors stored in external data files are not supported");
                    break;
                default: r.Skip(wire); break;
            }
        }
        return t;
    }
}

/// <summary>ValueInfoProto of a tensor: name, element type and shape (each dimension a number, or a name for a symbolic one).</summary>
public sealed class OnnxValueInfoProto
{
    /// <summary>Value name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Element type.</summary>
    public OnnxDataType ElemType { get; set; }
    /// <summary>Dimensions: a size, or null for a symbolic/unknown one (see <see cref="DimParams"/>).</summary>
    public List<long?> Dims { get; } = [];
    /// <summary>Names of symbolic dimensions (same length as <see cref="Dims"/>; null where the size is known).</summary>
    public List<string?> DimParams { get; } = [];
    /// <summary>False when the value info carries no shape at all.</summary>
    public bool HasShape { get; set; } = true;

    internal void Write(ProtoWriter w)
    {
        w.String(1, Name);
        w.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int64(1, (long)ElemType, always: true);
            if (HasShape)
                tensor.Message(2, shape =>
                {
                    for (int i = 0; i < Dims.Count; i++)
                    {
                        long? size = Dims[i];
                        string? param = i < DimParams.Count ? DimParams[i] : null;
                        shape.Message(1, dim =>
                        {
                            if (size is { } s) dim.Int64(1, s, always: true);
                            else if (param is not null) dim.String(2, param);
                        });
                    }
                }, always: true);
        }, always: true), always: true);
    }

    internal static OnnxValueInfoProto Read(ProtoReader r)
    {
        var v = new OnnxValueInfoProto { HasShape = false };
        while (r.Next(out int field, out int wire))
        {
            if (field == 1) { v.Name = r.String(wire); continue; }
            if (field != 2) { r.Skip(wire); continue; }
            var type = r.Sub(wire);
            while (type.Next(out int tf, out int tw))
            {
                if (tf != 1) { type.Skip(tw); continue; }
                var tensor = type.Sub(tw);
                while (tensor.Next(out int f, out int w2))
                {
                    if (f == 1) v.ElemType = (OnnxDataType)tensor.Varint(w2);
                    else if (f == 2)
                    {
                        v.HasShape = true;
                        var shape = tensor.Sub(w2);
                        while (shape.Next(out int sf, out int sw))
                        {
                            if (sf != 1) { shape.Skip(sw); continue; }
                            var dim = shape.Sub(sw);
                            long? size = null;
                            string? param = null;
                            while (dim.Next(out int df, out int dw))
                            {
                                if (df == 1) size = dim.Varint(dw);
                                else if (df == 2) param = dim.String(dw);
                                else dim.Skip(dw);
                            }
                            v.Dims.Add(size);
                            v.DimParams.Add(param);
                        }
                    }
                    else tensor.Skip(w2);
                }
            }
        }
        return v;
    }
}

/// <summary>A protobuf encoder for the wire types ONNX uses (varint, 32-bit, length-delimited).</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _out = new();

    public byte[] ToArray() => _out.ToArray();

    private void Tag(int field, int wire) => VarintRaw(((ulong)field << 3) | (uint)wire);

    private void VarintRaw(ulong value)
    {
        while (value >= 0x80)
        {
            _out.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _out.WriteByte((byte)value);
    }

    public void Int64(int field, long value, bool always = false)
    {
        if (value == 0 && !always) return;
        Tag(field, 0);
        VarintRaw((ulong)value);
    }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _out.Write(b);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        VarintRaw((ulong)value.Length);
        _out.Write(value);
    }

    public void String(int field, string value, bool always = false)
    {
        if (value.Length == 0 && !always) return;
        Bytes(field, Encoding.UTF8.GetBytes(value));
    }

    public void Message(int field, Action<ProtoWriter> write, bool always = false)
    {
        var inner = new ProtoWriter();
        write(inner);
        var bytes = inner.ToArray();
        if (bytes.Length == 0 && !always) return;
        Bytes(field, bytes);
    }
}

/// <summary>A protobuf decoder over a byte range; every read is bounds-checked and malformed input throws <see cref="InvalidDataException"/>.</summary>
internal sealed class ProtoReader(byte[] data, int start, int end)
{
    private int _pos = start;
    private readonly int _end = end;
    private readonly byte[] _data = data;

    public ProtoReader(byte[] data) : this(data, 0, data.Length) { }

    public bool Next(out int field, out int wire)
    {
        if (_pos >= _end) { field = 0; wire = 0; return false; }
        ulong tag = ReadVarint();
        field = (int)(tag >> 3);
        wire = (int)(tag & 7);
        if (field == 0) throw new InvalidDataException("ONNX: malformed protobuf (field number 0); is this an ONNX file?");
        return true;
    }

    private ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _end) throw new InvalidDataException("ONNX: truncated protobuf varint");
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw new InvalidDataException("ONNX: malformed protobuf varint");
    }

    private void Expect(int wire, int expected)
    {
        if (wire != expected) throw new InvalidDataException($"ONNX: protobuf wire type {wire} where {expected} was expected");
    }

    public long Varint(int wire)
    {
        Expect(wire, 0);
        return (long)ReadVarint();
    }

    public float Float(int wire)
    {
        Expect(wire, 5);
        Need(4);
        float f = BinaryPrimitives.ReadSingleLittleEndian(_data.AsSpan(_pos, 4));
        _pos += 4;
        return f;
    }

    private void Need(long bytes)
    {
        if (bytes < 0 || _pos + bytes > _end) throw new InvalidDataException("ONNX: truncated protobuf field");
    }

    private (int Start, int End) Span(int wire)
    {
        Expect(wire, 2);
        long length = (long)ReadVarint();
        Need(length);
        int s = _pos;
        _pos += (int)length;
        return (s, _pos);
    }

    public ProtoReader Sub(int wire)
    {
        var (s, e) = Span(wire);
        return new ProtoReader(_data, s, e);
    }

    public byte[] BytesField(int wire)
    {
        var (s, e) = Span(wire);
        return _data.AsSpan(s, e - s).ToArray();
    }

    public string String(int wire)
    {
        var (s, e) = Span(wire);
        return Encoding.UTF8.GetString(_data, s, e - s);
    }

    /// <summary>A repeated varint field, packed or not.</summary>
    public void Varints(int wire, List<long> into)
    {
        if (wire == 0) { into.Add((long)ReadVarint()); return; }
        var packed = Sub(wire);
        while (packed._pos < packed._end) into.Add((long)packed.ReadVarint());
    }

    /// <summary>A repeated float field, packed or not.</summary>
    public void Floats(int wire, List<float> into)
    {
        if (wire == 5) { into.Add(Float(wire)); return; }
        var (s, e) = Span(wire);
        if ((e - s) % 4 != 0) throw new InvalidDataException("ONNX: packed floats of a length not a multiple of 4");
        for (int i = s; i < e; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(_data.AsSpan(i, 4)));
    }

    /// <summary>A repeated double field, packed or not.</summary>
    public void Doubles(int wire, List<double> into)
    {
        if (wire == 1)
        {
            Need(8);
            into.Add(BinaryPrimitives.ReadDoubleLittleEndian(_data.AsSpan(_pos, 8)));
            _pos += 8;
            return;
        }
        var (s, e) = Span(wire);
        if ((e - s) % 8 != 0) throw new InvalidDataException("ONNX: packed doubles of a length not a multiple of 8");
        for (int i = s; i < e; i += 8) into.Add(BinaryPrimitives.ReadDoubleLittleEndian(_data.AsSpan(i, 8)));
    }

    public void Skip(int wire)
    {
        switch (wire)
        {
            case 0: ReadVarint(); break;
            case 1: Need(8); _pos += 8; break;
            case 2: Span(wire); break;
            case 5: Need(4); _pos += 4; break;
            default: throw new InvalidDataException($"ONNX: unsupported protobuf wire type {wire}");
        }
    }
}
