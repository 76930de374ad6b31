using System.Globalization;
using NativeNet.Nn;

namespace NativeNet.OnnxIO;

/// <summary>
/// A NativeNet module built from an ONNX graph by <see cref="Onnx.Load(string)"/>: it runs the graph's nodes in order with
/// differentiable <see cref="Ops"/>, so it trains like any other module. Float initializers are ordinary
/// <see cref="Module.Parameters"/> (batch norm's running statistics and float Constant nodes are buffers), registered under
/// their ONNX names with '.' replaced by '_' (see <see cref="ParameterNames"/>); integer initializers and constants (shapes,
/// axes) are kept on the host. The graph must have one input and one output. ONNX graphs are inference graphs: batch
/// normalisation always uses the running statistics and dropout is the identity, in training mode too.
/// </summary>
public sealed class OnnxModule : Module
{
    private readonly List<CompiledNode> _nodes = [];
    private readonly Dictionary<string, string> _parameterNames = [];
    private readonly Dictionary<string, string> _bufferNames = [];
    private readonly Dictionary<string, HostInts> _hostConstants = [];
    private readonly string _outputName;

    internal OnnxModule(OnnxModelProto model, string source)
    {
        Source = source;
        long opset = model.OpsetImports.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset == 0) throw new NotSupportedException($"Onnx.Load: {source} imports no version of the default ONNX operator set");
        if (opset > Onnx.MaxOpset) throw new NotSupportedException($"Onnx.Load: {source} uses opset {opset}; NativeNet reads opsets up to {Onnx.MaxOpset}");
        Opset = opset;
        var graph = model.Graph;
        var initializers = graph.Initializers.ToDictionary(t => t.Name);
        var realInputs = graph.Inputs.Where(i => !initializers.ContainsKey(i.Name)).ToList();
        if (realInputs.Count != 1)
            throw new NotSupportedException($"Onnx.Load: {source} has {realInputs.Count} graph inputs ({string.Join(", ", realInputs.Select(i => i.Name))}); NativeNet modules take exactly one");
        if (graph.Outputs.Count != 1)
            throw new NotSupportedException($"Onnx.Load: {source} has {graph.Outputs.Count} graph outputs; NativeNet modules return exactly one");
        InputName = realInputs[0].Name;
        InputInfo = realInputs[0];
        _outputName = graph.Outputs[0].Name;

        var buffersByUse = new HashSet<string>(graph.Nodes.Where(n => n.OpType == "BatchNormalization")
            .SelectMany(n => n.Inputs.Skip(3).Take(2)));
        var used = new HashSet<string>();
        foreach (var init in graph.Initializers)
        {
            if (IsFloat(init.DataType))
            {
                var tensor = ToTensor(init);
                string name = UniqueName(init.Name, used);
                if (buffersByUse.Contains(init.Name)) { RegisterBuffer(name, tensor); _bufferNames[init.Name] = name; }
                else { RegisterParameter(name, tensor); _parameterNames[init.Name] = name; }
            }
            else _hostConstants[init.Name] = HostInts.From(init);
        }

        var unsupported = graph.Nodes.Where(n => !OnnxOperators.IsSupported(n)).ToList();
        if (unsupported.Count > 0)
            throw new NotSupportedException($"Onnx.Load: {source}: unsupported operator{(unsupported.Count > 1 ? "s" : "")} " +
                string.Join("; ", unsupported.Take(5).Select(n => $"'{(n.Domain.Length > 0 ? n.Domain + "." : "")}{n.OpType}' in node '{NodeName(n)}'")) +
                $"; supported: {string.Join(", ", OnnxOperators.Supported)}");
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == "Constant") { CompileConstant(node, used); continue; }
            _nodes.Add(new CompiledNode(node, OnnxOperators.Compile(node)));
        }
    }

    /// <summary>Where the graph came from (the file path), for messages.</summary>
    public string Source { get; }

    /// <summary>The default-domain opset the graph was written for.</summary>
    public long Opset { get; }

    /// <summary>Name of the graph input that <see cref="Forward"/> feeds.</summary>
    public string InputName { get; }

    /// <summary>The graph input's declared element type and shape.</summary>
    public OnnxValueInfoProto InputInfo { get; }

    /// <summary>ONNX initializer name → the name of the parameter holding it (e.g. "0.weight" → "0_weight").</summary>
    public IReadOnlyDictionary<string, string> ParameterNames => _parameterNames;

    /// <summary>The parameter that holds the ONNX initializer <paramref name="onnxName"/>.</summary>
    public Tensor Parameter(string onnxName) =>
        _parameterNames.TryGetValue(onnxName, out var name) ? GetParameter(name) : throw new KeyNotFoundException($"OnnxModule: no parameter for initializer '{onnxName}'");

    private static string NodeName(OnnxNodeProto n) => n.Name.Length > 0 ? n.Name : string.Join(",", n.Outputs);

    private static bool IsFloat(OnnxDataType t) => t is OnnxDataType.Float or OnnxDataType.Double;

    private static string UniqueName(string onnxName, HashSet<string> used)
    {
        string baseName = onnxName.Length == 0 ? "tensor" : onnxName.Replace('.', '_');
        string name = baseName;
        for (int k = 1; !used.Add(name); k++) name = baseName + "_" + k.ToString(CultureInfo.InvariantCulture);
        return name;
    }

    internal static Tensor ToTensor(OnnxTensorProto t)
    {
        var shape = t.Dims.Select(d => checked((int)d)).ToArray();
        var values = t.ToDoubles();
        return t.DataType == OnnxDataType.Double
            ? Tensor.FromArray(values, shape)
            : Tensor.FromArray(values.Select(v => (float)v).ToArray(), shape);
    }

    private void CompileConstant(OnnxNodeProto node, HashSet<string> used)
    {
        string output = node.Outputs[0];
        var a = node.Attributes.Count == 1 ? node.Attributes[0]
            : throw new NotSupportedException($"Onnx.Load: {node.Describe()} must have exactly one value attribute");
        switch (a.Name)
        {
            case "value" when a.T is { } t:
                if (IsFloat(t.DataType))
                {
                    string name = UniqueName(output, used);
                    RegisterBuffer(name, ToTensor(t));
                    _bufferNames[output] = name;
                }
                else _hostConstants[output] = HostInts.From(t);
                break;
            case "value_float":
                _bufferNames[output] = UniqueName(output, used);
                RegisterBuffer(_bufferNames[output], Tensor.FromArray([a.F], []));
                break;
            case "value_floats":
                _bufferNames[output] = UniqueName(output, used);
                RegisterBuffer(_bufferNames[output], Tensor.FromArray(a.Floats.ToArray(), a.Floats.Count));
                break;
            case "value_int": _hostConstants[output] = new HostInts([a.I], []); break;
            case "value_ints": _hostConstants[output] = new HostInts([.. a.Ints], [a.Ints.Count]); break;
            default: throw new NotSupportedException($"Onnx.Load: {node.Describe()}: Constant attribute '{a.Name}' is not supported");
        }
    }

    /// <summary>Runs the graph on <paramref name="input"/> (Int32 tensors feed int64 inputs such as token indices); returns its output.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (InputInfo.HasShape && InputInfo.Dims.Count != input.Rank)
            throw new ShapeMismatchException($"OnnxModule ({Source}): input '{InputName}' has rank {InputInfo.Dims.Count}, got {input.Describe()}");
        if (InputInfo.HasShape)
            for (int i = 0; i < input.Rank; i++)
                if (InputInfo.Dims[i] is { } d && d != input.Shape[i])
                    throw new ShapeMismatchException($"OnnxModule ({Source}): input '{InputName}' must have size {d} on axis {i}, got {input.Describe()}");
        using var scope = new TensorScope();
        var env = new Dictionary<string, OnnxValue> { [InputName] = new(input) };
        var context = new OnnxRunContext(input.Device);
        foreach (var node in _nodes)
        {
            var inputs = node.Proto.Inputs.Select(n => n.Length == 0 ? null : Resolve(n, env, node.Proto)).ToArray();
            OnnxValue[] outputs;
            try
            {
                outputs = node.Run(inputs, context);
            }
            catch (Exception e) when (e is ShapeMismatchException or ArgumentException or InvalidOperationException)
            {
                throw new ShapeMismatchException($"OnnxModule ({Source}): {node.Proto.Describe()} failed on inputs " +
                    string.Join(", ", inputs.Select(v => v?.Describe() ?? "none")) + $": {e.Message}");
            }
            for (int i = 0; i < outputs.Length && i < node.Proto.Outputs.Count; i++)
                if (node.Proto.Outputs[i].Length > 0) env[node.Proto.Outputs[i]] = outputs[i];
        }
        var result = Resolve(_outputName, env, null);
        var tensor = result.Tensor ?? result.Ints!.ToTensor(DType.Int32, input.Device);
        // The caller owns the result: never hand out the input, a parameter or a buffer itself.
        if (ReferenceEquals(tensor, input) || Parameters().Concat(Buffers()).Any(t => ReferenceEquals(t, tensor))) tensor = Ops.Clone(tensor);
        return scope.Keep(tensor);
    }

    private OnnxValue Resolve(string name, Dictionary<string, OnnxValue> env, OnnxNodeProto? node)
    {
        if (env.TryGetValue(name, out var v)) return v;
        if (_parameterNames.TryGetValue(name, out var p)) return new(GetParameter(p));
        if (_bufferNames.TryGetValue(name, out var b)) return new(GetBuffer(b));
        if (_hostConstants.TryGetValue(name, out var c)) return new(c);
        throw new InvalidDataException($"OnnxModule ({Source}): value '{name}'{(node is null ? " (graph output)" : $" read by {node.Describe()}")} is never produced");
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{Source}, opset={Opset}, nodes={_nodes.Count}";

    private sealed record CompiledNode(OnnxNodeProto Proto, Func<OnnxValue?[], OnnxRunContext, OnnxValue[]> Run);
}

/// <summary>What a node sees while the graph runs: the device of the input (where new tensors go).</summary>
internal sealed record OnnxRunContext(Device Device);

/// <summary>An integer tensor kept on the host (ONNX shapes, axes, indices of constant gathers).</summary>
internal sealed record HostInts(long[] Data, int[] Shape)
{
    public static HostInts From(OnnxTensorProto t) =>
        t.DataType is OnnxDataType.Int64 or OnnxDataType.Int32 or OnnxDataType.Bool
            ? new HostInts(t.ToInt64s(), t.Dims.Select(d => checked((int)d)).ToArray())
            : throw new NotSupportedException($"Onnx.Load: tensor '{t.Name}' has element type {(int)t.DataType}, which NativeNet does not read");

    public Tensor ToTensor(DType dtype, Device device)
    {
        var t = dtype switch
        {
            DType.Int32 => Tensor.FromArray(Data.Select(v => checked((int)v)).ToArray(), Shape),
            DType.Float64 => Tensor.FromArray(Data.Select(v => (double)v).ToArray(), Shape),
            _ => Tensor.FromArray(Data.Select(v => (float)v).ToArray(), Shape),
        };
        if (device == Device.Cpu) return t;
        var moved = t.To(device);
        t.Dispose();
        return moved;
    }
}

/// <summary>A value flowing through the graph: a NativeNet tensor, or host integers.</summary>
internal sealed class OnnxValue
{
    public OnnxValue(Tensor tensor) => Tensor = tensor;
    public OnnxValue(HostInts ints) => Ints = ints;

    public Tensor? Tensor { get; }
    public HostInts? Ints { get; }

    public int[] Shape => Tensor?.ShapeArray ?? Ints!.Shape;

    public string Describe() => Tensor?.Describe() ?? $"Int64{ShapeUtil.Format(Ints!.Shape)} on host";
}
