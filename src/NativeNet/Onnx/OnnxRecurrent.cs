namespace NativeNet.OnnxIO;

/// <summary>
/// ONNX's LSTM, GRU and RNN operators (forward direction, default activations, no sequence lengths or peepholes) built from
/// differentiable ops step by step, with ONNX's gate orders: LSTM i, o, f, c; GRU z, r, h (both linear_before_reset modes);
/// RNN with Tanh or Relu. W [1, G·H, in], R [1, G·H, H] and B [1, 2·G·H] stay the parameters they were loaded as (reshaped
/// per call), so a loaded recurrent layer fine-tunes. Outputs: Y [T, 1, N, H], Y_h [1, N, H] (and Y_c for LSTM).
/// </summary>
internal static class OnnxRecurrent
{
    public static Func<OnnxValue?[], OnnxRunContext, OnnxValue[]> Compile(OnnxNodeProto node)
    {
        string op = node.OpType;
        int gates = op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        long hidden = node.Attribute("hidden_size")?.I ?? throw new InvalidDataException($"Onnx.Load: {node.Describe()} has no hidden_size");
        string direction = OnnxOperators.Str(node, "direction", "forward");
        if (direction != "forward") throw OnnxOperators.Unsupported(node, $"direction '{direction}' (NativeNet runs forward recurrences)");
        if (node.Attribute("clip") is not null) throw OnnxOperators.Unsupported(node, "clip");
        if (OnnxOperators.Int(node, "layout", 0) != 0) throw OnnxOperators.Unsupported(node, "layout=1 (batch-first)");
        if (OnnxOperators.Int(node, "input_forget", 0) != 0) throw OnnxOperators.Unsupported(node, "input_forget=1");
        string[] defaults = op switch { "LSTM" => ["Sigmoid", "Tanh", "Tanh"], "GRU" => ["Sigmoid", "Tanh"], _ => ["Tanh"] };
        var activations = node.Attribute("activations")?.Strings.ToArray() ?? defaults;
        bool relu = false;
        if (op == "RNN" && activations is ["Relu"]) relu = true;
        else if (!activations.SequenceEqual(defaults, StringComparer.OrdinalIgnoreCase))
            throw OnnxOperators.Unsupported(node, $"activations [{string.Join(", ", activations)}] (only the defaults [{string.Join(", ", defaults)}])");
        if (node.Inputs.Count > 4 && node.Inputs[4].Length > 0) throw OnnxOperators.Unsupported(node, "sequence_lens");
        if (op == "LSTM" && node.Inputs.Count > 7 && node.Inputs[7].Length > 0) throw OnnxOperators.Unsupported(node, "peepholes (input P)");
        bool linearBeforeReset = OnnxOperators.Int(node, "linear_before_reset", 0) != 0;
        int h = checked((int)hidden), gh = gates * h;

        return (x, context) =>
        {
            var input = OnnxOperators.T(x[0]);
            if (input.Rank != 3) throw new ShapeMismatchException($"{op}: input must be [T, N, in], got {input.Describe()}");
            int steps = input.Shape[0], batch = input.Shape[1], inSize = input.Shape[2];
            var w = Ops.Reshape(OnnxOperators.T(x[1], x[0]), gh, inSize);
            var r = Ops.Reshape(OnnxOperators.T(x[2], x[0]), gh, h);
            Tensor? wb = null, rb = null;
            if (x.Length > 3 && x[3] is not null)
            {
                var b = Ops.Reshape(OnnxOperators.T(x[3], x[0]), 2 * gh);
                wb = Ops.Narrow(b, 0, 0, gh);
                rb = Ops.Narrow(b, 0, gh, gh);
            }
            Tensor State(int index) => x.Length > index && x[index] is not null
                ? Ops.Reshape(OnnxOperators.T(x[index], x[0]), batch, h)
                : Tensor.Zeros([batch, h], input.DType, input.Device);
            var state = State(5);
            var cell = op == "LSTM" ? State(6) : null;
            var projected = Ops.Reshape(Ops.Linear(Ops.Reshape(input, steps * batch, inSize), w, wb), steps, batch, gh);
            var outputs = new Tensor[steps];
            for (int t = 0; t < steps; t++)
            {
                var xt = Ops.Reshape(Ops.Narrow(projected, 0, t, 1), batch, gh);
                switch (op)
                {
                    case "LSTM":
                    {
                        var g = Ops.Add(xt, Ops.Linear(state, r, rb));
                        var i = Ops.Sigmoid(Ops.Narrow(g, 1, 0, h));
                        var o = Ops.Sigmoid(Ops.Narrow(g, 1, h, h));
                        var f = Ops.Sigmoid(Ops.Narrow(g, 1, 2 * h, h));
                        var c = Ops.Tanh(Ops.Narrow(g, 1, 3 * h, h));
                        cell = Ops.Add(Ops.Mul(f, cell!), Ops.Mul(i, c));
                        state = Ops.Mul(o, Ops.Tanh(cell));
                        break;
                    }
                    case "GRU":
                    {
                        // z and r read W_hz, W_hr (rows 0..2H of R); the candidate uses R_h either before or after the reset.
                        var rzr = Ops.Linear(state, Ops.Narrow(r, 0, 0, 2 * h), rb is null ? null : Ops.Narrow(rb, 0, 0, 2 * h));
                        var z = Ops.Sigmoid(Ops.Add(Ops.Narrow(xt, 1, 0, h), Ops.Narrow(rzr, 1, 0, h)));
                        var reset = Ops.Sigmoid(Ops.Add(Ops.Narrow(xt, 1, h, h), Ops.Narrow(rzr, 1, h, h)));
                        var rh = Ops.Narrow(r, 0, 2 * h, h);
                        var rbh = rb is null ? null : Ops.Narrow(rb, 0, 2 * h, h);
                        var recurrent = linearBeforeReset
                            ? Ops.Mul(reset, Ops.Linear(state, rh, rbh))
                            : Ops.Linear(Ops.Mul(reset, state), rh, rbh);
                        var n = Ops.Tanh(Ops.Add(Ops.Narrow(xt, 1, 2 * h, h), recurrent));
                        state = Ops.Add(n, Ops.Mul(z, Ops.Sub(state, n)));
                        break;
                    }
                    default:
                    {
                        var pre = Ops.Add(xt, Ops.Linear(state, r, rb));
                        state = relu ? Ops.Relu(pre) : Ops.Tanh(pre);
                        break;
                    }
                }
                outputs[t] = Ops.Reshape(state, 1, 1, batch, h);
            }
            var y = Ops.Concat(outputs, 0);
            var yh = Ops.Reshape(state, 1, batch, h);
            return op == "LSTM" ? [new(y), new(yh), new(Ops.Reshape(cell!, 1, batch, h))] : [new(y), new(yh)];
        };
    }
}
