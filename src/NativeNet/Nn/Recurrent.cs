namespace NativeNet.Nn;

/// <summary>
/// Shared parts of <see cref="Rnn"/>, <see cref="Lstm"/> and <see cref="Gru"/>: PyTorch's parameter names and layouts
/// (weight_ih_l{k} [G·H, in_k], weight_hh_l{k} [G·H, H], bias_ih_l{k} and bias_hh_l{k} [G·H], all U(±1/√H), G = gates per cell),
/// sequence-first input [T, N, input], stacked layers with optional dropout between them (training only); each layer runs as one
/// fused <see cref="Ops.RecurrentLayer"/> whose gate backpropagates through time.
/// </summary>
public abstract class RecurrentBase : Module
{
    private readonly Generator _generator;

    /// <summary>Creates the weights of <paramref name="numLayers"/> stacked layers with <paramref name="gates"/> gate blocks each.</summary>
    protected RecurrentBase(int inputSize, int hiddenSize, int numLayers, bool bias, double dropout, int gates, DType dtype, Generator? generator)
    {
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), $"{GetType().Name}: dropout must be in [0, 1), got {dropout}");
        Dropout = dropout;
        _generator = generator ?? NativeNet.Generator.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        HasBias = bias;
        double bound = 1 / Math.Sqrt(hiddenSize);
        Tensor U(params int[] shape) => Init.Uniform(Tensor.Empty(shape, dtype), -bound, bound, generator);
        for (int layer = 0; layer < numLayers; layer++)
        {
            int inSize = layer == 0 ? inputSize : hiddenSize;
            RegisterParameter($"weight_ih_l{layer}", U(gates * hiddenSize, inSize));
            RegisterParameter($"weight_hh_l{layer}", U(gates * hiddenSize, hiddenSize));
            if (bias)
            {
                RegisterParameter($"bias_ih_l{layer}", U(gates * hiddenSize));
                RegisterParameter($"bias_hh_l{layer}", U(gates * hiddenSize));
            }
        }
    }

    /// <summary>Features of each input step.</summary>
    public int InputSize { get; }
    /// <summary>Features of the hidden state.</summary>
    public int HiddenSize { get; }
    /// <summary>Stacked layers (layer k + 1 reads the output sequence of layer k).</summary>
    public int NumLayers { get; }
    /// <summary>Whether the layers have bias_ih and bias_hh.</summary>
    public bool HasBias { get; }
    /// <summary>Dropout probability on the outputs of every layer but the last, in training mode (PyTorch's <c>dropout</c>).</summary>
    public double Dropout { get; }

    /// <summary>weight_ih_l{layer}.</summary>
    public Tensor WeightIh(int layer) => GetParameter($"weight_ih_l{layer}");
    /// <summary>weight_hh_l{layer}.</summary>
    public Tensor WeightHh(int layer) => GetParameter($"weight_hh_l{layer}");
    /// <summary>bias_ih_l{layer}, or null without biases.</summary>
    public Tensor? BiasIh(int layer) => FindParameter($"bias_ih_l{layer}");
    /// <summary>bias_hh_l{layer}, or null without biases.</summary>
    public Tensor? BiasHh(int layer) => FindParameter($"bias_hh_l{layer}");

    /// <summary>Checks the input [T, N, input] and an optional state [layers, N, H]; returns (T, N).</summary>
    private protected (int Steps, int Batch) CheckInput(Tensor input, Tensor? state, string stateName)
    {
        string name = GetType().Name;
        if (input.Rank != 3 || input.Shape[2] != InputSize)
            throw new ShapeMismatchException($"{name}: input must be [T, N, {InputSize}] (sequence first), got {ShapeUtil.Format(input.Shape)}");
        if (input.Shape[0] == 0) throw new ArgumentException($"{name}: the input sequence {ShapeUtil.Format(input.Shape)} is empty");
        int batch = input.Shape[1];
        if (state is not null && (state.Rank != 3 || state.Shape[0] != NumLayers || state.Shape[1] != batch || state.Shape[2] != HiddenSize))
            throw new ShapeMismatchException($"{name}: {stateName} must be [{NumLayers}, {batch}, {HiddenSize}] for input {ShapeUtil.Format(input.Shape)}, got {ShapeUtil.Format(state.Shape)}");
        return (input.Shape[0], batch);
    }

    /// <summary>Layer <paramref name="layer"/>'s slice [N, H] of a state [layers, N, H], or zeros when none is given.</summary>
    private protected Tensor InitialState(Tensor? state, int layer, int batch, Tensor like) =>
        state is null
            ? Tensor.Zeros([batch, HiddenSize], like.DType, like.Device)
            : Ops.Reshape(Ops.Narrow(state, 0, layer, 1), batch, HiddenSize);

    /// <summary>The input of layer <paramref name="layer"/> + 1: the output sequence of <paramref name="layer"/>, with dropout when training.</summary>
    private protected Tensor NextLayerInput(Tensor sequence, int layer) =>
        Dropout > 0 && IsTraining && layer < NumLayers - 1 ? Ops.Dropout(sequence, Dropout, true, _generator) : sequence;

    /// <summary>
    /// The stacked layers, each one fused <see cref="Ops.RecurrentLayer"/> (input projection of all steps in one GEMM, per step
    /// one GEMM and one fused cell, one backward gate) from the layer's initial state. Returns the last layer's outputs
    /// [T, N, H], every layer's final h [layers, N, H] and, for LSTM, every layer's final c.
    /// </summary>
    private protected (Tensor Output, Tensor HN, Tensor? CN) RunLayers(RecurrentCell cell, Tensor input, Tensor? h0, Tensor? c0)
    {
        var (steps, batch) = CheckInput(input, h0, "h0");
        if (cell == RecurrentCell.Lstm) CheckInput(input, c0, "c0");
        using var scope = new TensorScope();
        var layerInput = input;
        var lastH = new Tensor[NumLayers];
        var lastC = new Tensor[NumLayers];
        for (int layer = 0; layer < NumLayers; layer++)
        {
            var h = InitialState(h0, layer, batch, input);
            var c = cell == RecurrentCell.Lstm ? InitialState(c0, layer, batch, input) : null;
            var packed = Ops.RecurrentLayer(cell, layerInput, h, c, WeightIh(layer), WeightHh(layer), BiasIh(layer), BiasHh(layer));
            lastH[layer] = Ops.Narrow(packed, 0, steps - 1, 1);
            if (cell == RecurrentCell.Lstm) lastC[layer] = Ops.Narrow(packed, 0, steps, 1);
            layerInput = NextLayerInput(Ops.Narrow(packed, 0, 0, steps), layer);
        }
        var hN = scope.Keep(Ops.Concat(lastH, 0));
        var cN = cell == RecurrentCell.Lstm ? scope.Keep(Ops.Concat(lastC, 0)) : null;
        return (scope.Keep(layerInput), hN, cN);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{InputSize}, {HiddenSize}" + (NumLayers != 1 ? $", num_layers={NumLayers}" : "") + (HasBias ? "" : ", bias=False") + (Dropout > 0 ? $", dropout={PyFloat(Dropout)}" : "");
}

/// <summary>
/// Elman RNN with tanh, as PyTorch's <c>nn.RNN</c>: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) per layer.
/// </summary>
public sealed class Rnn(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, double dropout = 0, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(inputSize, hiddenSize, numLayers, bias, dropout, 1, dtype, generator)
{
    /// <summary>The output sequence [T, N, H] (the last layer's h_t) for input [T, N, input] from a zero state.</summary>
    public override Tensor Forward(Tensor input)
    {
        var (output, hN) = Forward(input, null);
        hN.Dispose();
        return output;
    }

    /// <summary>
    /// Runs the sequence [T, N, input] from <paramref name="h0"/> [layers, N, H] (zeros when null); returns the last layer's
    /// outputs [T, N, H] and the final hidden state of every layer h_n [layers, N, H].
    /// </summary>
    public (Tensor Output, Tensor HN) Forward(Tensor input, Tensor? h0)
    {
        var (output, hN, _) = RunLayers(RecurrentCell.Rnn, input, h0, null);
        return (output, hN);
    }
}

/// <summary>
/// Long short-term memory, as PyTorch's <c>nn.LSTM</c>. Gate blocks in the weights in the order i, f, g, o:
/// i = σ(·), f = σ(·), g = tanh(·), o = σ(·) of W_ih x_t + b_ih + W_hh h_{t−1} + b_hh; c_t = f ⊙ c_{t−1} + i ⊙ g (the additive
/// cell path); h_t = o ⊙ tanh(c_t).
/// </summary>
public sealed class Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, double dropout = 0, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(inputSize, hiddenSize, numLayers, bias, dropout, 4, dtype, generator)
{
    /// <summary>The output sequence [T, N, H] for input [T, N, input] from a zero state.</summary>
    public override Tensor Forward(Tensor input)
    {
        var (output, (hN, cN)) = Forward(input, null);
        hN.Dispose();
        cN.Dispose();
        return output;
    }

    /// <summary>
    /// Runs the sequence [T, N, input] from <paramref name="state"/> = (h0, c0), each [layers, N, H] (zeros when null);
    /// returns the last layer's outputs [T, N, H] and the final state (h_n, c_n) of every layer, each [layers, N, H]:
    /// <c>var (output, (hN, cN)) = lstm.Forward(x, (h0, c0));</c>
    /// </summary>
    public (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input, (Tensor H, Tensor C)? state)
    {
        var (output, hN, cN) = RunLayers(RecurrentCell.Lstm, input, state?.H, state?.C);
        return (output, (hN, cN!));
    }
}

/// <summary>
/// Gated recurrent unit, as PyTorch's <c>nn.GRU</c>. Gate blocks in the order r, z, n:
/// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
/// h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.
/// </summary>
public sealed class Gru(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, double dropout = 0, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(inputSize, hiddenSize, numLayers, bias, dropout, 3, dtype, generator)
{
    /// <summary>The output sequence [T, N, H] for input [T, N, input] from a zero state.</summary>
    public override Tensor Forward(Tensor input)
    {
        var (output, hN) = Forward(input, null);
        hN.Dispose();
        return output;
    }

    /// <summary>
    /// Runs the sequence [T, N, input] from <paramref name="h0"/> [layers, N, H] (zeros when null); returns the last layer's
    /// outputs [T, N, H] and h_n [layers, N, H].
    /// </summary>
    public (Tensor Output, Tensor HN) Forward(Tensor input, Tensor? h0)
    {
        var (output, hN, _) = RunLayers(RecurrentCell.Gru, input, h0, null);
        return (output, hN);
    }
}
