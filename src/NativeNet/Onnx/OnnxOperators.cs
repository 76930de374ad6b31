namespace NativeNet.OnnxIO;

/// <summary>
/// The ONNX operators <see cref="OnnxModule"/> runs, each compiled once at load time (attributes read and checked there, so an
/// unsupported attribute value fails at <see cref="Onnx.Load(string)"/> naming the node) into a function of the node's inputs.
/// </summary>
internal static class OnnxOperators
{
    private delegate OnnxValue[] Kernel(OnnxValue?[] inputs, OnnxRunContext context);

    public static IReadOnlyList<string> Supported { get; } =
    [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Dropout",
        "Elu", "Expand", "Flatten", "GRU", "Gather", "Gemm", "GlobalAveragePool", "Identity", "LSTM", "LeakyRelu", "LogSoftmax",
        "MatMul", "MaxPool", "Mul", "PRelu", "Pad", "RNN", "ReduceMax", "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid",
        "Softmax", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
    ];

    private static readonly HashSet<string> s_supported = [.. Supported];

    public static bool IsSupported(OnnxNodeProto node) => node.Domain is "" or "ai.onnx" && s_supported.Contains(node.OpType);

    public static Func<OnnxValue?[], OnnxRunContext, OnnxValue[]> Compile(OnnxNodeProto node)
    {
        Kernel k = node.OpType switch
        {
            "Identity" => (x, _) => [x[0]!],
            "Dropout" => CompileDropout(node),
            "Relu" => Unary(Ops.Relu),
            "Sigmoid" => Unary(Ops.Sigmoid),
            "Tanh" => Unary(Ops.Tanh),
            "LeakyRelu" => Unary(x => Ops.LeakyRelu(x, Float(node, "alpha", 0.01f))),
            "Elu" => Unary(x => Ops.Elu(x, Float(node, "alpha", 1f))),
            "Softmax" => Unary(x => Ops.Softmax(x, (int)Int(node, "axis", -1))),
            "LogSoftmax" => Unary(x => Ops.LogSoftmax(x, (int)Int(node, "axis", -1))),
            "PRelu" => (x, _) => [new(PRelu(T(x[0]), T(x[1], x[0])))],
            "Add" => Binary(Ops.Add),
            "Sub" => Binary(Ops.Sub),
            "Mul" => Binary(Ops.Mul),
            "Div" => Binary(Ops.Div),
            "MatMul" => (x, _) => [new(Ops.MatMul(T(x[0]), T(x[1], x[0])))],
            "Gemm" => CompileGemm(node),
            "Conv" => CompileConv(node),
            "MaxPool" or "AveragePool" => CompilePool(node),
            "GlobalAveragePool" => (x, _) =>
            {
                var t = T(x[0]);
                if (t.Rank != 4) throw new ShapeMismatchException($"GlobalAveragePool: NativeNet pools NCHW (rank 4) input, got {t.Describe()}");
                return [new(Ops.Reshape(Ops.GlobalAvgPool2d(t), t.Shape[0], t.Shape[1], 1, 1))];
            },
            "BatchNormalization" => CompileBatchNorm(node),
            "Flatten" => CompileFlatten(node),
            "Reshape" => CompileReshape(node),
            "Shape" => CompileShape(node),
            "Gather" => CompileGather(node),
            "Unsqueeze" => CompileSqueeze(node, unsqueeze: true),
            "Squeeze" => CompileSqueeze(node, unsqueeze: false),
            "Concat" => CompileConcat(node),
            "ConstantOfShape" => CompileConstantOfShape(node),
            "Expand" => (x, _) => [new(Expand(T(x[0]), Ints(x[1], node)))],
            "Cast" => CompileCast(node),
            "Transpose" => CompileTranspose(node),
            "Pad" => CompilePad(node),
            "ReduceMax" or "ReduceMean" => CompileReduce(node),
            "LSTM" or "GRU" or "RNN" => new Kernel(OnnxRecurrent.Compile(node)),
            _ => throw new NotSupportedException($"Onnx.Load: operator '{node.OpType}' in {node.Describe()} is not supported"),
        };
        return (inputs, context) => k(inputs, context);
    }

    // ---- attribute and value helpers ----

    internal static long Int(OnnxNodeProto node, string name, long fallback) => node.Attribute(name)?.I ?? fallback;

    internal static float Float(OnnxNodeProto node, string name, float fallback) => node.Attribute(name)?.F ?? fallback;

    internal static string Str(OnnxNodeProto node, string name, string fallback) => node.Attribute(name)?.S ?? fallback;

    internal static long[]? Ints(OnnxNodeProto node, string name) => node.Attribute(name) is { } a ? [.. a.Ints] : null;

    internal static NotSupportedException Unsupported(OnnxNodeProto node, string what) =>
        new($"Onnx.Load: {node.Describe()}: {what} is not supported by NativeNet");

    /// <summary>The tensor of <paramref name="v"/>; host integers become a tensor of <paramref name="like"/>'s dtype and device.</summary>
    internal static Tensor T(OnnxValue? v, OnnxValue? like = null)
    {
        if (v is null) throw new ArgumentException("a required input is missing");
        if (v.Tensor is { } t) return t;
        var reference = like?.Tensor;
        return v.Ints!.ToTensor(reference?.DType ?? DType.Float32, reference?.Device ?? Device.Cpu);
    }

    internal static long[] Ints(OnnxValue? v, OnnxNodeProto node) =>
        v?.Ints?.Data ?? throw new NotSupportedException($"{node.Describe()}: NativeNet needs this shape/axes input to be a constant integer tensor (from an initializer, Constant or Shape), got {v?.Describe() ?? "none"}");

    private static Kernel Unary(Func<Tensor, Tensor> f) => (x, _) => [new(f(T(x[0])))];

    private static Kernel Binary(Func<Tensor, Tensor, Tensor> f) => (x, _) =>
    {
        var left = x[0]!.Tensor is null ? T(x[0], x[1]) : T(x[0]);
        return [new(f(left, T(x[1], x[0])))];
    };

    private static int[] ToInt32(long[] values) => values.Select(v => checked((int)v)).ToArray();

    private static int Axis(long axis, int rank, OnnxNodeProto node)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentException($"{node.Describe()}: axis {axis} is outside rank {rank}");
        return (int)a;
    }

    // ---- operators ----

    private static Kernel CompileDropout(OnnxNodeProto node)
    {
        if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0) throw Unsupported(node, "the dropout mask output");
        return (x, _) => [x[0]!];
    }

    private static Tensor PRelu(Tensor x, Tensor slope)
    {
        // Ops.PRelu takes one slope or one per channel (axis 1); ONNX broadcasts a [C, 1, 1] slope against NCHW.
        if (slope.Numel == 1) return Ops.PRelu(x, Ops.Reshape(slope, 1));
        if (x.Rank >= 2 && slope.Numel == x.Shape[1] && slope.Rank == x.Rank - 1 && slope.Shape[0] == x.Shape[1])
            return Ops.PRelu(x, Ops.Reshape(slope, x.Shape[1]));
        if (x.Rank == 2 && slope.Rank == 1 && slope.Shape[0] == x.Shape[1]) return Ops.PRelu(x, slope);
        var positive = Ops.Relu(x);
        return Ops.Sub(positive, Ops.Mul(slope, Ops.Relu(Ops.Neg(x))));
    }

    private static Kernel CompileGemm(OnnxNodeProto node)
    {
        float alpha = Float(node, "alpha", 1f), beta = Float(node, "beta", 1f);
        bool transA = Int(node, "transA", 0) != 0, transB = Int(node, "transB", 0) != 0;
        return (x, _) =>
        {
            var a = T(x[0]);
            var b = T(x[1], x[0]);
            var c = x.Length > 2 && x[2] is not null ? T(x[2], x[0]) : null;
            if (!transA && transB && alpha == 1f && beta == 1f && (c is null || c.Rank == 1))
                return [new(Ops.Linear(a, b, c))];
            var y = Ops.MatMul(a, b, transA, transB);
            if (alpha != 1f) y = Ops.MulScalar(y, alpha);
            if (c is not null) y = Ops.Add(y, beta == 1f ? c : Ops.MulScalar(c, beta));
            return [new(y)];
        };
    }

    /// <summary>Reads the 2-D window attributes NativeNet supports: square kernel, one stride, the same padding on every side.</summary>
    private static (int Kernel, int Stride, int Padding) Window(OnnxNodeProto node, long[]? kernelShape)
    {
        if (Str(node, "auto_pad", "NOTSET") is not ("NOTSET" or "VALID" or "")) throw Unsupported(node, $"auto_pad={Str(node, "auto_pad", "")}");
        if (kernelShape is not null && (kernelShape.Length != 2 || kernelShape[0] != kernelShape[1]))
            throw Unsupported(node, $"kernel_shape [{string.Join(", ", kernelShape)}] (NativeNet has square 2-D windows)");
        var strides = Ints(node, "strides") ?? [1, 1];
        if (strides.Length != 2 || strides[0] != strides[1]) throw Unsupported(node, $"strides [{string.Join(", ", strides)}] (one stride for both axes)");
        var pads = Ints(node, "pads") ?? [0, 0, 0, 0];
        if (pads.Length != 4 || pads.Any(p => p != pads[0])) throw Unsupported(node, $"pads [{string.Join(", ", pads)}] (the same padding on every side)");
        var dilations = Ints(node, "dilations");
        if (dilations is not null && dilations.Any(d => d != 1)) throw Unsupported(node, $"dilations [{string.Join(", ", dilations)}]");
        return (kernelShape is null ? 0 : (int)kernelShape[0], (int)strides[0], (int)pads[0]);
    }

    private static Kernel CompileConv(OnnxNodeProto node)
    {
        int groups = (int)Int(node, "group", 1);
        if (Str(node, "auto_pad", "NOTSET") is not ("NOTSET" or "VALID" or "")) throw Unsupported(node, $"auto_pad={Str(node, "auto_pad", "")}");
        var kernelShape = Ints(node, "kernel_shape");
        if (kernelShape is not null && kernelShape.Length != 2) throw Unsupported(node, $"kernel_shape [{string.Join(", ", kernelShape)}] (2-D convolutions only)");
        var strides = Ints(node, "strides") ?? [1, 1];
        if (strides.Length != 2) throw Unsupported(node, $"strides [{string.Join(", ", strides)}] (2-D convolutions only)");
        var pads = Ints(node, "pads") ?? [0, 0, 0, 0];
        if (pads.Length != 4 || pads[0] != pads[2] || pads[1] != pads[3])
            throw Unsupported(node, $"pads [{string.Join(", ", pads)}] (the same padding at both ends of each axis)");
        var dilations = Ints(node, "dilations") ?? [1, 1];
        if (dilations.Length != 2) throw Unsupported(node, $"dilations [{string.Join(", ", dilations)}] (2-D convolutions only)");
        return (x, _) =>
        {
            var w = T(x[1], x[0]);
            if (w.Rank != 4) throw new NotSupportedException($"{node.Describe()}: weight {w.Describe()} is not a 2-D filter bank");
            if (kernelShape is not null && (kernelShape[0] != w.Shape[2] || kernelShape[1] != w.Shape[3]))
                throw new InvalidDataException($"Onnx.Load: {node.Describe()}: kernel_shape [{string.Join(", ", kernelShape)}] does not match weight {w.Describe()}");
            var b = x.Length > 2 && x[2] is not null ? T(x[2], x[0]) : null;
            return [new(Ops.Conv2d(T(x[0]), w, b, ((int)strides[0], (int)strides[1]), ((int)pads[0], (int)pads[1]), ((int)dilations[0], (int)dilations[1]), groups, floor: true))];
        };
    }

    private static Kernel CompilePool(OnnxNodeProto node)
    {
        var kernelShape = Ints(node, "kernel_shape") ?? throw new InvalidDataException($"Onnx.Load: {node.Describe()} has no kernel_shape");
        var (kernel, stride, padding) = Window(node, kernelShape);
        if (Int(node, "ceil_mode", 0) != 0) throw Unsupported(node, "ceil_mode=1");
        if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0) throw Unsupported(node, "the indices output");
        if (Int(node, "storage_order", 0) != 0) throw Unsupported(node, "storage_order=1");
        bool max = node.OpType == "MaxPool";
        if (!max && padding > 0 && Int(node, "count_include_pad", 0) == 0)
            throw Unsupported(node, "count_include_pad=0 with padding (NativeNet averages padding as zeros)");
        return (x, _) => [new(max ? Ops.MaxPool2d(T(x[0]), kernel, stride, padding, floor: true) : Ops.AvgPool2d(T(x[0]), kernel, stride, padding, floor: true))];
    }

    private static Kernel CompileBatchNorm(OnnxNodeProto node)
    {
        if (Int(node, "training_mode", 0) != 0) throw Unsupported(node, "training_mode=1");
        if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0)) throw Unsupported(node, "the running-statistics outputs");
        double eps = Float(node, "epsilon", 1e-5f);
        return (x, _) => [new(Ops.BatchNorm(T(x[0]), T(x[1], x[0]), T(x[2], x[0]), T(x[3], x[0]), T(x[4], x[0]), training: false, eps: eps))];
    }

    private static Kernel CompileFlatten(OnnxNodeProto node)
    {
        long axis = Int(node, "axis", 1);
        return (x, _) =>
        {
            var shape = x[0]!.Shape;
            int a = axis < 0 ? (int)axis + shape.Length : (int)axis;
            if (a < 0 || a > shape.Length) throw new ArgumentException($"Flatten: axis {axis} is outside rank {shape.Length}");
            int outer = shape.Take(a).Aggregate(1, (p, d) => p * d), inner = shape.Skip(a).Aggregate(1, (p, d) => p * d);
            return [new(Ops.Reshape(T(x[0]), outer, inner))];
        };
    }

    private static Kernel CompileReshape(OnnxNodeProto node)
    {
        bool allowZero = Int(node, "allowzero", 0) != 0;
        return (x, _) =>
        {
            var input = x[0]!.Shape;
            var target = Ints(x[1], node);
            var shape = new int[target.Length];
            for (int i = 0; i < target.Length; i++)
                shape[i] = target[i] == 0 && !allowZero ? (i < input.Length ? input[i] : throw new ArgumentException($"Reshape: 0 at axis {i} copies a dimension the input {ShapeUtil.Format(input)} lacks")) : checked((int)target[i]);
            if (x[0]!.Ints is { } ints)
            {
                int known = shape.Where(d => d >= 0).Aggregate(1, (p, d) => p * d);
                for (int i = 0; i < shape.Length; i++) if (shape[i] == -1) shape[i] = ints.Data.Length / Math.Max(known, 1);
                return [new(new HostInts(ints.Data, shape))];
            }
            return [new(Ops.Reshape(T(x[0]), shape))];
        };
    }

    private static Kernel CompileShape(OnnxNodeProto node)
    {
        long start = Int(node, "start", 0);
        long? end = node.Attribute("end")?.I;
        return (x, _) =>
        {
            var shape = x[0]!.Shape;
            int rank = shape.Length;
            int s = (int)Math.Clamp(start < 0 ? start + rank : start, 0, rank);
            int e = (int)Math.Clamp(end is { } v ? (v < 0 ? v + rank : v) : rank, 0, rank);
            var dims = shape.Skip(s).Take(Math.Max(0, e - s)).Select(d => (long)d).ToArray();
            return [new(new HostInts(dims, [dims.Length]))];
        };
    }

    private static Kernel CompileGather(OnnxNodeProto node)
    {
        long axis = Int(node, "axis", 0);
        return (x, _) =>
        {
            var data = x[0]!;
            var indices = x[1]!;
            if (data.Ints is { } ints)
            {
                if (ints.Shape.Length != 1 || axis != 0) throw new NotSupportedException($"{node.Describe()}: NativeNet gathers host integers from a vector on axis 0 only, got {data.Describe()}");
                var idx = Ints(indices, node);
                var picked = idx.Select(i => ints.Data[i < 0 ? i + ints.Data.Length : i]).ToArray();
                return [new(new HostInts(picked, indices.Ints!.Shape))];
            }
            if (Axis(axis, data.Shape.Length, node) != 0 || data.Shape.Length != 2)
                throw new NotSupportedException($"{node.Describe()}: NativeNet gathers rows (axis 0) of a matrix (an embedding), got {data.Describe()} on axis {axis}");
            var weight = data.Tensor!;
            Tensor indexTensor = indices.Tensor is { } it
                ? (it.DType == DType.Int32 ? it : throw new NotSupportedException($"{node.Describe()}: indices must be integers, got {it.Describe()}"))
                : indices.Ints!.ToTensor(DType.Int32, Device.Cpu);
            return [new(Ops.Embedding(indexTensor, weight))];
        };
    }

    private static Kernel CompileSqueeze(OnnxNodeProto node, bool unsqueeze)
    {
        var attributeAxes = Ints(node, "axes");
        return (x, _) =>
        {
            var shape = x[0]!.Shape.ToList();
            var axes = attributeAxes ?? (x.Length > 1 && x[1] is not null ? Ints(x[1], node) : null);
            if (unsqueeze)
            {
                if (axes is null) throw new InvalidDataException($"{node.Describe()} has no axes");
                int rank = shape.Count + axes.Length;
                foreach (var a in axes.Select(a => a < 0 ? a + rank : a).Order()) shape.Insert((int)a, 1);
            }
            else
            {
                var drop = axes is null ? Enumerable.Range(0, shape.Count).Where(i => shape[i] == 1).ToHashSet()
                    : axes.Select(a => (int)(a < 0 ? a + shape.Count : a)).ToHashSet();
                foreach (var a in drop)
                    if (a < 0 || a >= shape.Count || shape[a] != 1) throw new ArgumentException($"Squeeze: axis {a} of {ShapeUtil.Format([.. shape])} is not of size 1");
                shape = shape.Where((_, i) => !drop.Contains(i)).ToList();
            }
            var result = shape.ToArray();
            return x[0]!.Ints is { } ints ? [new(new HostInts(ints.Data, result))] : [new(Ops.Reshape(T(x[0]), result))];
        };
    }

    private static Kernel CompileConcat(OnnxNodeProto node)
    {
        long axis = node.Attribute("axis")?.I ?? throw new InvalidDataException($"Onnx.Load: {node.Describe()} has no axis");
        return (x, _) =>
        {
            var parts = x.Where(v => v is not null).Select(v => v!).ToArray();
            if (parts.All(p => p.Ints is not null))
            {
                if (parts.Any(p => p.Ints!.Shape.Length != 1)) throw new NotSupportedException($"{node.Describe()}: NativeNet concatenates host integers as vectors only");
                var data = parts.SelectMany(p => p.Ints!.Data).ToArray();
                return [new(new HostInts(data, [data.Length]))];
            }
            var like = parts.First(p => p.Tensor is not null);
            var tensors = parts.Select(p => T(p, like)).ToArray();
            return [new(Ops.Concat(tensors, Axis(axis, tensors[0].Rank, node)))];
        };
    }

    private static Kernel CompileConstantOfShape(OnnxNodeProto node)
    {
        var value = node.Attribute("value")?.T;
        bool isFloat = value is null || value.DataType is OnnxDataType.Float or OnnxDataType.Double;
        double fill = value is null ? 0 : value.ToDoubles()[0];
        return (x, context) =>
        {
            var shape = ToInt32(Ints(x[0], node));
            if (!isFloat)
            {
                int n = shape.Aggregate(1, (p, d) => p * d);
                return [new(new HostInts(Enumerable.Repeat((long)fill, n).ToArray(), shape))];
            }
            return [new(Tensor.Full(shape, fill, value?.DataType == OnnxDataType.Double ? DType.Float64 : DType.Float32, context.Device))];
        };
    }

    private static Tensor Expand(Tensor x, long[] target)
    {
        int rank = Math.Max(x.Rank, target.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int a = i - (rank - x.Rank), b = i - (rank - target.Length);
            int da = a >= 0 ? x.Shape[a] : 1, db = b >= 0 ? checked((int)target[b]) : 1;
            shape[i] = da == 1 ? db : db == 1 || db == da ? da : throw new ShapeMismatchException($"Expand: cannot broadcast {x.Describe()} to [{string.Join(", ", target)}]");
        }
        return Ops.Expand(x, shape);
    }

    private static Kernel CompileCast(OnnxNodeProto node)
    {
        var to = (OnnxDataType)Int(node, "to", 0);
        return (x, _) =>
        {
            var v = x[0]!;
            switch (to)
            {
                case OnnxDataType.Float or OnnxDataType.Double:
                    var dtype = to == OnnxDataType.Float ? DType.Float32 : DType.Float64;
                    return [new(v.Tensor is { } t ? (t.DType == dtype ? t : Ops.Cast(t, dtype)) : v.Ints!.ToTensor(dtype, Device.Cpu))];
                case OnnxDataType.Int64 or OnnxDataType.Int32:
                    if (v.Ints is not null) return [v];
                    if (v.Tensor!.DType == DType.Int32) return [v];
                    throw new NotSupportedException($"{node.Describe()}: casting {v.Describe()} to integers is not supported");
                default: throw new NotSupportedException($"{node.Describe()}: Cast to element type {(int)to} is not supported");
            }
        };
    }

    private static Kernel CompileTranspose(OnnxNodeProto node)
    {
        var perm = Ints(node, "perm");
        return (x, _) =>
        {
            var t = T(x[0]);
            var axes = perm is null ? Enumerable.Range(0, t.Rank).Reverse().ToArray() : ToInt32(perm);
            return [new(Ops.Permute(t, axes))];
        };
    }

    private static Kernel CompilePad(OnnxNodeProto node)
    {
        string mode = Str(node, "mode", "constant");
        if (mode != "constant") throw Unsupported(node, $"mode '{mode}'");
        var attributePads = Ints(node, "pads");
        return (x, _) =>
        {
            var t = T(x[0]);
            var pads = attributePads ?? Ints(x[1], node);
            double fill = x.Length > 2 && x[2] is { } c ? T(c, x[0]).ToArray<double>()[0] : 0;
            int[] axes = x.Length > 3 && x[3] is { } ax ? Ints(ax, node).Select(a => Axis(a, t.Rank, node)).ToArray() : Enumerable.Range(0, t.Rank).ToArray();
            if (pads.Length != 2 * axes.Length) throw new ArgumentException($"Pad: {pads.Length} pads for {axes.Length} axes");
            if (pads.Any(p => p < 0)) throw new NotSupportedException($"{node.Describe()}: negative pads (cropping) are not supported");
            var y = t;
            for (int i = 0; i < axes.Length; i++)
            {
                int before = (int)pads[i], after = (int)pads[i + axes.Length];
                if (before == 0 && after == 0) continue;
                var parts = new List<Tensor>();
                Tensor Block(int size)
                {
                    var shape = y.ShapeArray;
                    shape[axes[i]] = size;
                    return Tensor.Full(shape, fill, y.DType, y.Device);
                }
                if (before > 0) parts.Add(Block(before));
                parts.Add(y);
                if (after > 0) parts.Add(Block(after));
                y = Ops.Concat([.. parts], axes[i]);
            }
            return [new(ReferenceEquals(y, t) ? Ops.Contiguous(t) : y)];
        };
    }

    private static Kernel CompileReduce(OnnxNodeProto node)
    {
        var attributeAxes = Ints(node, "axes");
        bool keep = Int(node, "keepdims", 1) != 0;
        if (Int(node, "noop_with_empty_axes", 0) != 0) throw Unsupported(node, "noop_with_empty_axes=1");
        bool max = node.OpType == "ReduceMax";
        return (x, _) =>
        {
            var t = T(x[0]);
            var axes = attributeAxes ?? (x.Length > 1 && x[1] is not null ? Ints(x[1], node) : null);
            int[]? resolved = axes?.Select(a => Axis(a, t.Rank, node)).ToArray();
            return [new(max ? Ops.Max(t, resolved, keep) : Ops.Mean(t, resolved, keep))];
        };
    }
}
