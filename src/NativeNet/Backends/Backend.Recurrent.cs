namespace NativeNet.Backends;

// The fused recurrent cells: one pass per time step over the gate block of a batch, after the step's hidden-projection GEMM.
// Every operand is a contiguous tensor of one float dtype; rows are batch entries, gate blocks lie side by side in a row
// (PyTorch's order: LSTM i, f, g, o; GRU r, z, n). The time loop, the GEMMs and the weight gradients live in
// RecurrentLayerGate, written once for every backend.
public abstract partial class Backend
{
    /// <summary>
    /// LSTM step: <paramref name="gates"/> [N, 4H] holds x·W_ihᵀ + h·W_hhᵀ; with <paramref name="bias"/> [4H] (b_ih + b_hh, or
    /// null for none) added they are the pre-activations, and <paramref name="gates"/> is overwritten with the activations
    /// i = σ, f = σ, g = tanh, o = σ; then c = f ⊙ <paramref name="cPrev"/> + i ⊙ g and h = o ⊙ tanh(c), with
    /// <paramref name="cPrev"/>, <paramref name="c"/> and <paramref name="h"/> [N, H].
    /// </summary>
    public abstract void LstmCellForward(Tensor gates, Tensor? bias, Tensor cPrev, Tensor c, Tensor h);

    /// <summary>
    /// Backward of <see cref="LstmCellForward"/> from its saved activations <paramref name="act"/> [N, 4H], c_{t−1} and c_t:
    /// <paramref name="dh"/> is dL/dh_t, <paramref name="dc"/> holds dL/dc_t from the later steps on entry and dL/dc_{t−1}
    /// on return; <paramref name="dGates"/> [N, 4H] receives dL/d(pre-activations). On the CPU backends
    /// <paramref name="dGates"/> may be <paramref name="act"/> itself (each element's activations are read before its
    /// gradients are written).
    /// </summary>
    public abstract void LstmCellBackward(Tensor act, Tensor cPrev, Tensor c, Tensor dh, Tensor dc, Tensor dGates);

    /// <summary>
    /// GRU step: <paramref name="xGates"/> [N, 3H] holds x·W_ihᵀ and is overwritten with the activations r, z, n;
    /// <paramref name="hGates"/> [N, 3H] holds h·W_hhᵀ and its n block is overwritten with h·W_hnᵀ + b_hn (what the backward
    /// needs); the biases b_ih and b_hh [3H] are both given or both null. With x = xGates + b_ih:
    /// r = σ(x_r + h_r + b_hr), z = σ(x_z + h_z + b_hz), n = tanh(x_n + r ⊙ (h_n + b_hn)), h = n + z ⊙ (<paramref name="hPrev"/> − n).
    /// </summary>
    public abstract void GruCellForward(Tensor xGates, Tensor hGates, Tensor? biasIh, Tensor? biasHh, Tensor hPrev, Tensor h);

    /// <summary>
    /// Backward of <see cref="GruCellForward"/> from its saved activations <paramref name="act"/> (r, z, n) and
    /// <paramref name="hGates"/> (n block = h·W_hnᵀ + b_hn): <paramref name="dh"/> is dL/dh_t; adds dh ⊙ z to
    /// <paramref name="dhPrev"/>; writes dL/d(x-side pre-activations) to <paramref name="dXGates"/> and
    /// dL/d(h-side pre-activations, bias included) to <paramref name="dHGates"/>, both [N, 3H]. On the CPU backends
    /// <paramref name="dXGates"/> may be <paramref name="act"/> and <paramref name="dHGates"/> may be <paramref name="hGates"/>
    /// (each element's inputs are read before its outputs are written).
    /// </summary>
    public abstract void GruCellBackward(Tensor act, Tensor hGates, Tensor hPrev, Tensor dh, Tensor dhPrev, Tensor dXGates, Tensor dHGates);

    /// <summary>Checks the operands of a fused cell: contiguous, one float dtype, on this backend's device, [N, G·H] and [N, H]; returns (N, H).</summary>
    protected static (int Batch, int Hidden) CheckCell(string op, int gateBlocks, Tensor[] gateTensors, Tensor[] stateTensors, params Tensor?[] biases)
    {
        var first = stateTensors[0];
        if (!first.DType.IsFloat()) throw new DTypeMismatchException($"{op}: expected Float32 or Float64 operands, got {first.Describe()}");
        if (first.Rank != 2) throw new ShapeMismatchException($"{op}: states must be [N, H], got {first.Describe()}");
        int batch = first.Shape[0], hidden = first.Shape[1];
        void Check(Tensor t, int cols)
        {
            t.ThrowIfDisposed();
            if (t.DType != first.DType || t.Device != first.Device)
                throw new DTypeMismatchException($"{op}: operands differ in dtype or device, {t.Describe()} vs {first.Describe()}");
            if (!t.IsContiguous || t.Rank != 2 || t.Shape[0] != batch || t.Shape[1] != cols)
                throw new ShapeMismatchException($"{op}: expected a contiguous [{batch}, {cols}] operand, got {t.Describe()}");
        }
        foreach (var t in stateTensors) Check(t, hidden);
        foreach (var t in gateTensors) Check(t, gateBlocks * hidden);
        if (biases.Length == 2 && (biases[0] is null) != (biases[1] is null))
            throw new ArgumentException($"{op}: pass both biases or neither");
        foreach (var bias in biases)
            if (bias is not null && (bias.DType != first.DType || bias.Device != first.Device || !bias.IsContiguous || bias.Rank != 1 || bias.Shape[0] != gateBlocks * hidden))
                throw new ShapeMismatchException($"{op}: bias must be a contiguous {first.DType} [{gateBlocks * hidden}] on {first.Device}, got {bias.Describe()}");
        return (batch, hidden);
    }
}
