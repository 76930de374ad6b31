using System.Buffers.Binary;
using System.Globalization;
using NativeNet.Autodiff;
using NativeNet.Models;
using NativeNet.Nn;

namespace NativeNet.OnnxIO;

/// <summary>
/// Writes a module tree as an ONNX opset-17 graph, module by module: each leaf becomes the ONNX operator(s) of its eval-mode
/// computation and each container wires its children as its own Forward does. The sample input runs through every module
/// on the way (no gradients recorded), which gives the shapes the graph needs (a Linear fed rank &gt; 2 gets a Flatten, a
/// per-channel PReLU slope becomes [C, 1, 1]). Recurrent layers use ONNX's LSTM/GRU/RNN operators, one per stacked layer,
/// with the gate blocks reordered from PyTorch's (LSTM i f g o → i o f c, GRU r z n → z r h, linear_before_reset = 1).
/// </summary>
internal sealed class OnnxExporter
{
    private readonly OnnxGraphProto _graph = new() { Name = "nativenet" };
    private readonly HashSet<string> _names = [];
    private OnnxDataType _floatType = OnnxDataType.Float;

    public static OnnxModelProto Export(Module module, Tensor sampleInput)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(sampleInput);
        var modes = module.NamedModules().Select(m => (m.Module, m.Module.IsTraining)).ToList();
        module.Eval();
        try
        {
            using var noGrad = GradMode.Disable();
            using var scope = new TensorScope();
            var exporter = new OnnxExporter();
            var dtype = module.Parameters().Select(p => p.DType).FirstOrDefault(sampleInput.DType.IsFloat() ? sampleInput.DType : DType.Float32);
            exporter._floatType = dtype == DType.Float64 ? OnnxDataType.Double : OnnxDataType.Float;
            bool sequence = module is RecurrentBase or CharLstm;
            exporter._graph.Inputs.Add(ValueInfo("input", sampleInput, sequence ? ["time", "batch"] : ["batch"]));
            var (name, value) = exporter.Emit(module, "", "input", sampleInput);
            var output = exporter.Node("Identity", [name], "output");
            _ = output;
            exporter._graph.Outputs.Add(ValueInfo("output", value, module is RecurrentBase ? ["time", "batch"] : [sequence ? "time_batch" : "batch"]));
            var model = new OnnxModelProto { ProducerName = "NativeNet", ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "", Graph = exporter._graph };
            model.OpsetImports.Add(("", Onnx.ExportOpset));
            return model;
        }
        finally
        {
            foreach (var (m, training) in modes) m.Train(training);
        }
    }

    private static OnnxValueInfoProto ValueInfo(string name, Tensor value, string[] symbolicLeadingAxes)
    {
        var info = new OnnxValueInfoProto
        {
            Name = name,
            ElemType = value.DType switch
            {
                DType.Float32 => OnnxDataType.Float,
                DType.Float64 => OnnxDataType.Double,
                DType.Int32 => OnnxDataType.Int32,
                _ => throw new NotSupportedException($"Onnx.Export: {value.Describe()} has no ONNX element type"),
            },
        };
        for (int i = 0; i < value.Rank; i++)
        {
            bool symbolic = i < symbolicLeadingAxes.Length;
            info.Dims.Add(symbolic ? null : value.Shape[i]);
            info.DimParams.Add(symbolic ? symbolicLeadingAxes[i] : null);
        }
        return info;
    }

    private string Fresh(string hint)
    {
        string baseName = hint.Length == 0 ? "value" : hint;
        string name = baseName;
        for (int k = 1; !_names.Add(name); k++) name = baseName + "_" + k.ToString(CultureInfo.InvariantCulture);
        return name;
    }

    private string Node(string op, string[] inputs, string outputHint, params OnnxAttributeProto[] attributes) =>
        NodeOutputs(op, inputs, [outputHint], attributes)[0];

    private string[] NodeOutputs(string op, string[] inputs, string[] outputHints, params OnnxAttributeProto[] attributes)
    {
        var node = new OnnxNodeProto { OpType = op };
        node.Inputs.AddRange(inputs);
        var outputs = outputHints.Select(h => h.Length == 0 ? "" : Fresh(h)).ToArray();
        node.Outputs.AddRange(outputs);
        node.Name = Fresh("node/" + (outputs.FirstOrDefault(o => o.Length > 0) ?? op));
        node.Attributes.AddRange(attributes);
        _graph.Nodes.Add(node);
        return outputs;
    }

    /// <summary>Adds an initializer with the float values of <paramref name="tensor"/> (optionally reshaped); returns its name.</summary>
    private string Initializer(string name, Tensor tensor, int[]? shape = null) => Initializer(name, tensor.ToArray<double>(), shape ?? tensor.ShapeArray);

    private string Initializer(string name, double[] values, int[] shape)
    {
        var t = new OnnxTensorProto { Name = Fresh(name), DataType = _floatType };
        t.Dims.AddRange(shape.Select(d => (long)d));
        int size = _floatType == OnnxDataType.Double ? 8 : 4;
        var raw = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            if (size == 8) BinaryPrimitives.WriteDoubleLittleEndian(raw.AsSpan(i * 8), values[i]);
            else BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), (float)values[i]);
        }
        t.RawData = raw;
        _graph.Initializers.Add(t);
        return t.Name;
    }

    private string Int64Initializer(string name, params long[] values)
    {
        var t = new OnnxTensorProto { Name = Fresh(name), DataType = OnnxDataType.Int64 };
        t.Dims.Add(values.Length);
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        t.RawData = raw;
        _graph.Initializers.Add(t);
        return t.Name;
    }

    private static string Path(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private static Module Child(Module m, string name) =>
        m.NamedChildren().FirstOrDefault(c => c.Name == name).Module ?? throw new InvalidOperationException($"Onnx.Export: {m.GetType().Name} has no child '{name}'");

    /// <summary>Emits <paramref name="m"/> applied to the ONNX value <paramref name="input"/> (whose NativeNet value is <paramref name="x"/>); returns the output's name and value.</summary>
    private (string Name, Tensor Value) Emit(Module m, string path, string input, Tensor x)
    {
        string label = path.Length == 0 ? m.GetType().Name.ToLowerInvariant() : path;
        switch (m)
        {
            case Sequential seq:
            {
                if (seq.Count == 0) return (Node("Identity", [input], label), x);
                int i = 0;
                foreach (var child in seq) (input, x) = Emit(child, Path(path, (i++).ToString(CultureInfo.InvariantCulture)), input, x);
                return (input, x);
            }
            case ResidualBlock:
            {
                var (a, va) = Emit(Child(m, "conv1"), Path(path, "conv1"), input, x);
                (a, va) = Emit(Child(m, "bn1"), Path(path, "bn1"), a, va);
                (a, va) = Emit(Child(m, "relu"), Path(path, "relu"), a, va);
                (a, va) = Emit(Child(m, "conv2"), Path(path, "conv2"), a, va);
                (a, va) = Emit(Child(m, "bn2"), Path(path, "bn2"), a, va);
                var shortcut = (input, x);
                if (m.NamedChildren().Any(c => c.Name == "downsample")) shortcut = Emit(Child(m, "downsample"), Path(path, "downsample"), input, x);
                string sum = Node("Add", [a, shortcut.input], Path(path, "add"));
                return (Node("Relu", [sum], Path(path, "relu_out")), m.Forward(x));
            }
            case CharLstm lstmModel:
            {
                var (e, ve) = Emit(Child(m, "embedding"), Path(path, "embedding"), input, x);
                var (l, vl) = Emit(Child(m, "lstm"), Path(path, "lstm"), e, ve);
                string flat = Node("Reshape", [l, Int64Initializer(Path(path, "flat_shape"), -1, lstmModel.HiddenSize)], Path(path, "flat"));
                var vflat = Ops.Reshape(vl, -1, lstmModel.HiddenSize);
                return Emit(Child(m, "head"), Path(path, "head"), flat, vflat);
            }
            case Maxout maxout:
            {
                var (l, vl) = Emit(Child(m, "linear"), Path(path, "linear"), input, x);
                string grouped = Node("Reshape", [l, Int64Initializer(Path(path, "pieces_shape"), 0, maxout.OutFeatures, maxout.Pieces)], Path(path, "grouped"));
                _ = vl;
                return (Node("ReduceMax", [grouped], label, OnnxAttributeProto.Of("axes", new long[] { 2 }), OnnxAttributeProto.Of("keepdims", 0L)), m.Forward(x));
            }
            case RecurrentBase rnn:
                return EmitRecurrent(rnn, path, input, x);
        }
        var y = m.Forward(x);
        string name = m switch
        {
            Linear linear => EmitLinear(linear, path, input, x),
            Conv2d conv => Node("Conv", [input, Initializer(Path(path, "weight"), conv.Weight), .. conv.Bias is { } cb ? [Initializer(Path(path, "bias"), cb)] : Array.Empty<string>()], label,
                OnnxAttributeProto.Of("kernel_shape", conv.KernelSize.H, conv.KernelSize.W), OnnxAttributeProto.Of("strides", conv.Stride.H, conv.Stride.W),
                OnnxAttributeProto.Of("pads", conv.Padding.H, conv.Padding.W, conv.Padding.H, conv.Padding.W), OnnxAttributeProto.Of("dilations", conv.Dilation.H, conv.Dilation.W),
                OnnxAttributeProto.Of("group", conv.Groups)),
            MaxPool2d pool => Node("MaxPool", [input], label, OnnxAttributeProto.Of("kernel_shape", pool.KernelSize, pool.KernelSize),
                OnnxAttributeProto.Of("strides", pool.Stride, pool.Stride), OnnxAttributeProto.Of("pads", pool.Padding, pool.Padding, pool.Padding, pool.Padding), OnnxAttributeProto.Of("ceil_mode", 0L)),
            AvgPool2d pool => Node("AveragePool", [input], label, OnnxAttributeProto.Of("kernel_shape", pool.KernelSize, pool.KernelSize),
                OnnxAttributeProto.Of("strides", pool.Stride, pool.Stride), OnnxAttributeProto.Of("pads", pool.Padding, pool.Padding, pool.Padding, pool.Padding),
                OnnxAttributeProto.Of("ceil_mode", 0L), OnnxAttributeProto.Of("count_include_pad", 1L)),
            GlobalAvgPool2d => Node("Flatten", [Node("GlobalAveragePool", [input], label + "_pooled")], label, OnnxAttributeProto.Of("axis", 1L)),
            BatchNormBase bn => EmitBatchNorm(bn, path, input, label),
            Dropout => Node("Identity", [input], label),
            ReLU => Node("Relu", [input], label),
            Sigmoid => Node("Sigmoid", [input], label),
            Tanh => Node("Tanh", [input], label),
            LeakyReLU leaky => Node("LeakyRelu", [input], label, OnnxAttributeProto.Of("alpha", (float)leaky.NegativeSlope)),
            ELU elu => Node("Elu", [input], label, OnnxAttributeProto.Of("alpha", (float)elu.Alpha)),
            PReLU prelu => Node("PRelu", [input, Initializer(Path(path, "weight"), prelu.Weight, SlopeShape(prelu.Weight, x))], label),
            Flatten => x.Rank >= 2 ? Node("Flatten", [input], label, OnnxAttributeProto.Of("axis", 1L)) : Node("Reshape", [input, Int64Initializer(Path(path, "shape"), -1)], label),
            Embedding emb => Node("Gather", [Initializer(Path(path, "weight"), emb.Weight), input], label, OnnxAttributeProto.Of("axis", 0L)),
            _ => throw new NotSupportedException($"Onnx.Export: module '{(path.Length == 0 ? "(root)" : path)}' of type {m.GetType().Name} has no ONNX translation; " +
                "supported: Sequential, ResidualBlock, CharLstm, Maxout, Linear, Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool2d, BatchNorm1d/2d, Dropout, ReLU, LeakyReLU, ELU, PReLU, Sigmoid, Tanh, Flatten, Embedding, Rnn, Lstm, Gru"),
        };
        return (name, y);
    }

    private static int[] SlopeShape(Tensor weight, Tensor x) =>
        weight.Numel == 1 || x.Rank <= 2 ? weight.ShapeArray : [weight.Numel, .. Enumerable.Repeat(1, x.Rank - 2)];

    private string EmitLinear(Linear linear, string path, string input, Tensor x)
    {
        if (x.Rank > 2) input = Node("Flatten", [input], Path(path, "flat"), OnnxAttributeProto.Of("axis", 1L));
        string[] inputs = linear.Bias is { } b
            ? [input, Initializer(Path(path, "weight"), linear.Weight), Initializer(Path(path, "bias"), b)]
            : [input, Initializer(Path(path, "weight"), linear.Weight)];
        return Node("Gemm", inputs, path.Length == 0 ? "linear" : path, OnnxAttributeProto.Of("transB", 1L));
    }

    private string EmitBatchNorm(BatchNormBase bn, string path, string input, string label)
    {
        int c = bn.NumFeatures;
        string scale = bn.Weight is { } w ? Initializer(Path(path, "weight"), w) : Initializer(Path(path, "weight"), Enumerable.Repeat(1.0, c).ToArray(), [c]);
        string bias = bn.Bias is { } b ? Initializer(Path(path, "bias"), b) : Initializer(Path(path, "bias"), new double[c], [c]);
        return Node("BatchNormalization", [input, scale, bias, Initializer(Path(path, "running_mean"), bn.RunningMean), Initializer(Path(path, "running_var"), bn.RunningVar)], label,
            OnnxAttributeProto.Of("epsilon", (float)bn.Eps), OnnxAttributeProto.Of("momentum", (float)(1 - bn.Momentum)));
    }

    /// <summary>Rows of a [G·H, …] gate-stacked weight, its H-row blocks taken in <paramref name="order"/>.</summary>
    private static double[] Reorder(Tensor t, int hidden, int[] order)
    {
        var values = t.ToArray<double>();
        int blockSize = values.Length / order.Length;
        _ = hidden;
        var result = new double[values.Length];
        for (int k = 0; k < order.Length; k++) Array.Copy(values, order[k] * blockSize, result, k * blockSize, blockSize);
        return result;
    }

    private (string Name, Tensor Value) EmitRecurrent(RecurrentBase rnn, string path, string input, Tensor x)
    {
        var y = rnn.Forward(x);
        var (op, order) = rnn switch
        {
            Lstm => ("LSTM", new[] { 0, 3, 1, 2 }),   // PyTorch i f g o → ONNX i o f c
            Gru => ("GRU", new[] { 1, 0, 2 }),        // PyTorch r z n → ONNX z r h
            Rnn => ("RNN", new[] { 0 }),
            _ => throw new NotSupportedException($"Onnx.Export: recurrent module '{path}' of type {rnn.GetType().Name} has no ONNX translation"),
        };
        int hidden = rnn.HiddenSize, gates = order.Length;
        string current = input;
        for (int layer = 0; layer < rnn.NumLayers; layer++)
        {
            string prefix = Path(path, $"l{layer}");
            int inSize = layer == 0 ? rnn.InputSize : hidden;
            string w = Initializer(prefix + ".W", Reorder(rnn.WeightIh(layer), hidden, order), [1, gates * hidden, inSize]);
            string r = Initializer(prefix + ".R", Reorder(rnn.WeightHh(layer), hidden, order), [1, gates * hidden, hidden]);
            var bih = rnn.BiasIh(layer) is { } bi ? Reorder(bi, hidden, order) : new double[gates * hidden];
            var bhh = rnn.BiasHh(layer) is { } bh ? Reorder(bh, hidden, order) : new double[gates * hidden];
            string b = Initializer(prefix + ".B", [.. bih, .. bhh], [1, 2 * gates * hidden]);
            var attributes = new List<OnnxAttributeProto> { OnnxAttributeProto.Of("hidden_size", (long)hidden) };
            if (op == "GRU") attributes.Add(OnnxAttributeProto.Of("linear_before_reset", 1L));
            string[] outputs = op == "LSTM" ? [prefix + ".Y", "", ""] : [prefix + ".Y", ""];
            string seq = NodeOutputs(op, [current, w, r, b], outputs, [.. attributes])[0];
            current = Node("Squeeze", [seq, Int64Initializer(prefix + ".squeeze_axes", 1)], prefix + ".out");
        }
        return (current, y);
    }
}
