using System.Collections.Concurrent;
using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

/// <summary>The cell of a fused recurrent layer (PyTorch's gate order).</summary>
public enum RecurrentCell
{
    /// <summary>Elman RNN with tanh: one gate block.</summary>
    Rnn,
    /// <summary>LSTM: gate blocks i, f, g, o.</summary>
    Lstm,
    /// <summary>GRU: gate blocks r, z, n.</summary>
    Gru,
}

public static partial class Ops
{
    /// <summary>
    /// One fused recurrent layer over a whole sequence, as cuDNN and oneDNN run it: the input projection of every step in one
    /// matrix product, then per step one product with W_hh and one fused cell pass. x [T, N, in], h0 (and c0 for LSTM) [N, H],
    /// weight_ih [G·H, in], weight_hh [G·H, H], biases [G·H] or null (both or neither). Returns the packed sequence
    /// [T, N, H] of h_t, for LSTM [T + 1, N, H] whose last row is c_T. The backward pass is one gate for the layer.
    /// </summary>
    public static Tensor RecurrentLayer(RecurrentCell cell, Tensor x, Tensor h0, Tensor? c0, Tensor weightIh, Tensor weightHh, Tensor? biasIh, Tensor? biasHh)
    {
        var gate = new RecurrentLayerGate(cell);
        var inputs = new List<Tensor> { x, h0 };
        if (cell == RecurrentCell.Lstm) inputs.Add(c0 ?? throw new ArgumentNullException(nameof(c0), "RecurrentLayer: an LSTM layer needs c0"));
        inputs.Add(weightIh);
        inputs.Add(weightHh);
        if ((biasIh is null) != (biasHh is null)) throw new ArgumentException("RecurrentLayer: pass both biases or neither");
        if (biasIh is not null) { inputs.Add(biasIh); inputs.Add(biasHh!); }
        return Apply(gate, () => gate.Forward(x, h0, c0, weightIh, weightHh, biasIh, biasHh), inputs.ToArray());
    }
}

/// <summary>
/// Gate of <see cref="Ops.RecurrentLayer"/>. Forward: X·W_ihᵀ for all steps in one GEMM, then per step h_{t−1}·W_hhᵀ (one GEMM)
/// and the backend's fused cell. Backward: the fused cell backward per step from the last to the first, each followed by one
/// GEMM for dL/dh_{t−1}; then dW_ih, dW_hh and dX in one GEMM each over all steps and the bias gradients as one reduction.
/// </summary>
public sealed class RecurrentLayerGate(RecurrentCell cell) : Gate
{
    private Tensor? _x, _c0, _wIh, _wHh, _bHh, _states, _act, _cs, _hGates;
    private int _steps, _batch, _hidden, _inputSize;
    private bool _hasBias;
    private readonly List<Array> _workspace = [];

    /// <inheritdoc/>
    public override string Name => $"RecurrentLayer({cell})";

    private int Blocks => cell switch { RecurrentCell.Lstm => 4, RecurrentCell.Gru => 3, _ => 1 };

    /// <summary>Runs the layer; see <see cref="Ops.RecurrentLayer"/>.</summary>
    public Tensor Forward(Tensor x, Tensor h0, Tensor? c0, Tensor weightIh, Tensor weightHh, Tensor? biasIh, Tensor? biasHh)
    {
        Check(x, h0, c0, weightIh, weightHh, biasIh, biasHh);
        int steps = _steps = x.Shape[0], batch = _batch = x.Shape[1], input = _inputSize = x.Shape[2], hidden = _hidden = weightHh.Shape[1];
        int width = Blocks * hidden;
        _hasBias = biasIh is not null;
        var backend = x.Backend;
        var dtype = x.DType;
        var device = x.Device;

        using var xc = Raw.Contiguous(x);
        using var h0c = Raw.Contiguous(h0);
        using var c0c = c0 is null ? null : Raw.Contiguous(c0);
        using var wIh = Raw.Contiguous(weightIh);
        using var wHh = Raw.Contiguous(weightHh);
        using var bIh = biasIh is null ? null : Raw.Contiguous(biasIh);
        using var bHh = biasHh is null ? null : Raw.Contiguous(biasHh);
        // LSTM: the cell adds b_ih + b_hh to its pre-activations; GRU: the cell adds both (b_hn sits inside r ⊙ (·));
        // RNN: the bias is laid down first and the input-projection GEMM adds onto it.
        using var lstmBias = cell == RecurrentCell.Lstm && bIh is not null ? Raw.Add(bIh, bHh!) : null;

        // Input projection of every step in one GEMM.
        using var xw = RecurrentWorkspace.Rent([steps, batch, width], dtype, device, _workspace);
        double beta = 0;
        if (cell == RecurrentCell.Rnn && bIh is not null)
        {
            using var bias = Raw.Add(bIh, bHh!);
            Raw.CopyInto(bias, xw);
            beta = 1;
        }
        using (var x2 = Rows(xc, steps * batch, input))
        using (var xw2 = Rows(xw, steps * batch, width))
            RecurrentGemm.Run(x2, false, wIh, true, xw2, beta);

        // states: slot 0 holds h0, slot t + 1 the h of step t, for LSTM slot T + 1 holds c_T; the returned sequence is slots 1
        // on. With h0 in front, the h_{t−1} of all steps are one contiguous block for the single dW_hh product.
        bool lstm = cell == RecurrentCell.Lstm;
        using var states = Tensor.Empty([lstm ? steps + 2 : steps + 1, batch, hidden], dtype, device);
        using (var first = Slot(states, 0)) backend.Copy(h0c, first);
        var output = states.View([lstm ? steps + 1 : steps, batch, hidden], [batch * hidden, hidden, 1], states.Offset + batch * hidden);
        using var cs = lstm ? RecurrentWorkspace.Rent([steps, batch, hidden], dtype, device, _workspace) : null;
        using var hGates = cell == RecurrentCell.Gru ? RecurrentWorkspace.Rent([steps, batch, width], dtype, device, _workspace) : null;
        // W_hhᵀ is the right operand of every step's product: prepared (on Simd, packed) once for the whole sequence.
        using var wHhT = RecurrentGemm.Prepare(wHh, true);
        // On the CPU each step's h_{t−1}·W_hhᵀ goes into a small buffer that stays in L2 and is then added to the step's slot
        // of the input projection in one sequential pass: a GEMM accumulating into that slot reads it tile by tile from
        // memory (written long before, at the projection of all steps) and stalls (measured: ~6 % of the forward).
        using var hProduct = device.Kind == DeviceKind.Cpu && cell != RecurrentCell.Gru ? Tensor.Empty([batch, width], dtype, device) : null;
        for (int t = 0; t < steps; t++)
        {
            using var hPrev = Slot(states, t);
            using var gates = Slot(xw, t);
            using var h = Slot(states, t + 1);
            switch (cell)
            {
                case RecurrentCell.Lstm:
                {
                    AddHiddenProjection(hPrev, wHhT, gates, hProduct, backend);
                    using var cPrev = t == 0 ? c0c!.Detach() : Slot(cs!, t - 1);
                    using var c = Slot(cs!, t);
                    backend.LstmCellForward(gates, lstmBias, cPrev, c, h);
                    break;
                }
                case RecurrentCell.Gru:
                {
                    using var hg = Slot(hGates!, t);
                    RecurrentGemm.Run(hPrev, false, wHhT, hg, 0);
                    backend.GruCellForward(gates, hg, bIh, bHh, hPrev, h);
                    break;
                }
                default:
                    AddHiddenProjection(hPrev, wHhT, gates, hProduct, backend);
                    backend.Unary(UnaryOp.Tanh, gates, h, 0, 0);
                    break;
            }
        }
        if (cs is not null)
        {
            using var last = Slot(cs, steps - 1);
            using var cT = Slot(states, steps + 1);
            backend.Copy(last, cT);
        }

        _x = Save(xc);
        if (c0c is not null) _c0 = Save(c0c);
        _wIh = Save(wIh);
        _wHh = Save(wHh);
        if (bHh is not null) _bHh = Save(bHh);
        _act = Save(xw);
        if (cs is not null) _cs = Save(cs);
        if (hGates is not null) _hGates = Save(hGates);
        _states = Save(states);
        return output;
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dOut)
    {
        int steps = _steps, batch = _batch, hidden = _hidden, width = Blocks * hidden, rows = steps * batch;
        var backend = _x!.Backend;
        var dtype = _x.DType;
        var device = _x.Device;
        bool lstm = cell == RecurrentCell.Lstm, gru = cell == RecurrentCell.Gru;
        int at = 0;
        int xIndex = at++, h0Index = at++, c0Index = lstm ? at++ : -1, wIhIndex = at++, wHhIndex = at++;
        int bIhIndex = _hasBias ? at++ : -1, bHhIndex = _hasBias ? at++ : -1;
        bool needH0 = NeedsGrad(h0Index);

        var scratch = new List<Array>();
        // dH[t] collects dL/dh_t: the upstream gradient plus what step t + 1 sends back.
        var dH = RecurrentWorkspace.Rent([steps, batch, hidden], dtype, device, scratch);
        using (var upstream = Raw.Narrow(dOut, 0, 0, steps)) backend.Copy(upstream, dH);
        using var dHOwner = dH;
        using var dc = lstm ? Tensor.Empty([batch, hidden], dtype, device) : null;
        if (dc is not null)
        {
            using var dcT = Raw.Narrow(dOut, 0, steps, 1);
            using var dcT2 = Raw.Reshape(dcT, [batch, hidden]);
            backend.Copy(dcT2, dc);
        }
        // dG: gradients of the x-side pre-activations; for GRU dHG holds the h-side ones (they differ in the n block). When
        // this backward is the cache's last use they overwrite the saved activations and h-side gates (each step's cell reads
        // its slot before writing it, and no later step reads it), which keeps two T·N·G·H buffers out of the caches. The CPU
        // cells allow that aliasing; the CUDA kernels take their operands as __restrict__.
        bool inPlace = CacheEndsWithThisBackward && device.Kind == DeviceKind.Cpu;
        var dG = inPlace ? _act!.Detach() : RecurrentWorkspace.Rent([steps, batch, width], dtype, device, scratch);
        var dHG = !gru ? null : inPlace ? _hGates!.Detach() : RecurrentWorkspace.Rent([steps, batch, width], dtype, device, scratch);
        var dh0 = gru || needH0 ? Tensor.Zeros([batch, hidden], dtype, device) : null;
        using var wHh = RecurrentGemm.Prepare(_wHh!, false);
        try
        {
            for (int t = steps - 1; t >= 0; t--)
            {
                using var dh = Slot(dH, t);
                using var dgt = Slot(dG, t);
                using var target = t > 0 ? Slot(dH, t - 1) : dh0?.Detach();
                using var act = Slot(_act!, t);
                switch (cell)
                {
                    case RecurrentCell.Lstm:
                    {
                        using var cPrev = t == 0 ? _c0!.Detach() : Slot(_cs!, t - 1);
                        using var c = Slot(_cs!, t);
                        backend.LstmCellBackward(act, cPrev, c, dh, dc!, dgt);
                        if (target is not null) RecurrentGemm.Run(dgt, false, wHh, target, t > 0 ? 1 : 0);
                        break;
                    }
                    case RecurrentCell.Gru:
                    {
                        using var hPrev = Slot(_states!, t);
                        using var hg = Slot(_hGates!, t);
                        using var dhg = Slot(dHG!, t);
                        backend.GruCellBackward(act, hg, hPrev, dh, target!, dgt, dhg);
                        RecurrentGemm.Run(dhg, false, wHh, target!, 1);
                        break;
                    }
                    default:
                    {
                        using var h = Slot(_states!, t + 1);
                        backend.Binary(BinaryOp.TanhGrad, dh, h, dgt, 0);
                        if (target is not null) RecurrentGemm.Run(dgt, false, wHh, target, t > 0 ? 1 : 0);
                        break;
                    }
                }
            }

            var grads = new Tensor?[at];
            var dGh = dHG ?? dG;
            using var dG2 = Rows(dG, rows, width);
            using var dGh2 = Rows(dGh, rows, width);
            if (NeedsGrad(xIndex))
            {
                var dx = Tensor.Empty([steps, batch, _inputSize], dtype, device);
                using var dx2 = Rows(dx, rows, _inputSize);
                RecurrentGemm.Run(dG2, false, _wIh!, false, dx2, 0);
                grads[xIndex] = dx;
            }
            if (needH0) { grads[h0Index] = dh0; dh0 = null; }
            if (lstm && NeedsGrad(c0Index)) grads[c0Index] = Raw.Clone(dc!);
            if (!gru && NeedsGrad(wIhIndex) && NeedsGrad(wHhIndex))
            {
                // dW_ih = dGᵀ·X and dW_hh = dGᵀ·H_prev share their left operand (LSTM and RNN: dGh is dG): one product
                // against [X | H_prev] packs dGᵀ once, then the two blocks of its columns are the two gradients.
                using var x2 = Rows(_x, rows, _inputSize);
                using var hPrev = Rows(_states!, rows, hidden);
                using var both = RecurrentGemm.Prepare([x2, hPrev]);
                using var dw = RecurrentWorkspace.Rent([width, _inputSize + hidden], dtype, device, scratch);
                RecurrentGemm.Run(dG2, true, both, dw, 0);
                using (var dwIh = Raw.Narrow(dw, 1, 0, _inputSize)) grads[wIhIndex] = Raw.Contiguous(dwIh);
                using (var dwHh = Raw.Narrow(dw, 1, _inputSize, hidden)) grads[wHhIndex] = Raw.Contiguous(dwHh);
            }
            else if (NeedsGrad(wIhIndex))
            {
                var dw = Tensor.Empty([width, _inputSize], dtype, device);
                using var x2 = Rows(_x, rows, _inputSize);
                RecurrentGemm.Run(dG2, true, x2, false, dw, 0);
                grads[wIhIndex] = dw;
            }
            if (NeedsGrad(wHhIndex) && grads[wHhIndex] is null)
            {
                var dw = Tensor.Empty([width, hidden], dtype, device);
                // Σ_t dGh_tᵀ·h_{t−1}, all steps in one GEMM against states slots 0..T−1 (h0 first).
                using var hPrev = Rows(_states!, rows, hidden);
                RecurrentGemm.Run(dGh2, true, hPrev, false, dw, 0);
                grads[wHhIndex] = dw;
            }
            if (_hasBias)
            {
                if (NeedsGrad(bIhIndex)) grads[bIhIndex] = Raw.Sum(dG2, [0]);
                if (NeedsGrad(bHhIndex)) grads[bHhIndex] = gru || grads[bIhIndex] is null ? Raw.Sum(dGh2, [0]) : Raw.Clone(grads[bIhIndex]!);
            }
            return grads;
        }
        finally
        {
            dh0?.Dispose();
            dHOwner.Dispose();
            dG.Dispose();
            dHG?.Dispose();
            RecurrentWorkspace.Return(scratch);
        }
    }

    /// <inheritdoc/>
    protected override void OnRelease() => RecurrentWorkspace.Return(_workspace);

    private void Check(Tensor x, Tensor h0, Tensor? c0, Tensor wIh, Tensor wHh, Tensor? bIh, Tensor? bHh)
    {
        foreach (var t in new[] { x, h0, c0, wIh, wHh, bIh, bHh })
        {
            if (t is null) continue;
            Raw.CheckFloat(Name, t);
            Raw.CheckSameKind(Name, x, t);
        }
        if (x.Rank != 3 || x.Shape[0] == 0)
            throw new ShapeMismatchException($"{Name}: input must be a non-empty sequence [T, N, input], got {x.Describe()}");
        if (wHh.Rank != 2 || wHh.Shape[0] != Blocks * wHh.Shape[1])
            throw new ShapeMismatchException($"{Name}: weight_hh must be [{Blocks}·H, H], got {wHh.Describe()}");
        int hidden = wHh.Shape[1], width = Blocks * hidden, batch = x.Shape[1];
        if (wIh.Rank != 2 || wIh.Shape[0] != width || wIh.Shape[1] != x.Shape[2])
            throw new ShapeMismatchException($"{Name}: weight_ih must be [{width}, {x.Shape[2]}] for input {x.Describe()}, got {wIh.Describe()}");
        foreach (var (state, name) in new[] { (h0, "h0"), (c0, "c0") })
            if (state is not null && (state.Rank != 2 || state.Shape[0] != batch || state.Shape[1] != hidden))
                throw new ShapeMismatchException($"{Name}: {name} must be [{batch}, {hidden}], got {state.Describe()}");
        foreach (var (bias, name) in new[] { (bIh, "bias_ih"), (bHh, "bias_hh") })
            if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != width))
                throw new ShapeMismatchException($"{Name}: {name} must be [{width}], got {bias.Describe()}");
    }

    /// <summary>gates += hPrev·W_hhᵀ, through <paramref name="product"/> when there is one (see the forward).</summary>
    private static void AddHiddenProjection(Tensor hPrev, PreparedGemmB wHhT, Tensor gates, Tensor? product, Backend backend)
    {
        if (product is null)
        {
            RecurrentGemm.Run(hPrev, false, wHhT, gates, 1);
            return;
        }
        RecurrentGemm.Run(hPrev, false, wHhT, product, 0);
        backend.Binary(BinaryOp.Add, gates, product, gates, 0);
    }

    /// <summary>Step <paramref name="t"/> of a contiguous sequence [T, N, F] as a [N, F] view.</summary>
    private static Tensor Slot(Tensor sequence, int t)
    {
        int batch = sequence.Shape[1], features = sequence.Shape[2];
        return sequence.View([batch, features], [features, 1], sequence.Offset + t * batch * features);
    }

    /// <summary>The first <paramref name="rows"/> rows of a contiguous tensor, as [rows, features].</summary>
    private static Tensor Rows(Tensor t, int rows, int features) =>
        t.View([rows, features], [features, 1], t.Offset);
}

/// <summary>
/// Reuses the large CPU scratch buffers of recurrent layers (projected gates, cell states, their gradients: tens of MB per
/// call) from one call to the next, so training loops do not churn the large-object heap and its gen-2 collections.
/// A buffer is returned only once every tensor over it is disposed; none of them ever leaves the gate.
/// </summary>
internal static class RecurrentWorkspace
{
    private const int KeptPerSize = 4;
    private static readonly ConcurrentDictionary<(DType, int), ConcurrentBag<Array>> s_free = new();

    /// <summary>An uninitialised contiguous tensor; CPU buffers are recorded in <paramref name="rented"/> for <see cref="Return"/>.</summary>
    public static Tensor Rent(int[] shape, DType dtype, Device device, List<Array> rented)
    {
        if (device.Kind != DeviceKind.Cpu || !dtype.IsFloat()) return Tensor.Empty(shape, dtype, device);
        int length = ShapeUtil.Numel(shape);
        Array data = s_free.TryGetValue((dtype, length), out var bag) && bag.TryTake(out var reused)
            ? reused
            : dtype == DType.Float32 ? GC.AllocateUninitializedArray<float>(length) : GC.AllocateUninitializedArray<double>(length);
        rented.Add(data);
        Storage storage = data is float[] f ? new CpuStorage<float>(f) : new CpuStorage<double>((double[])data);
        return new Tensor(storage, shape);
    }

    /// <summary>Hands the buffers back (all tensors over them must be disposed) and clears the list.</summary>
    public static void Return(List<Array> rented)
    {
        foreach (var data in rented)
        {
            var key = (data is float[] ? DType.Float32 : DType.Float64, data.Length);
            var bag = s_free.GetOrAdd(key, _ => []);
            if (bag.Count < KeptPerSize) bag.Add(data);
        }
        rented.Clear();
    }
}

/// <summary>C = op(A)·op(B) + beta·C on contiguous rank-2 operands, straight through the backend's GEMM.</summary>
internal static class RecurrentGemm
{
    public static void Run(Tensor a, bool transA, Tensor b, bool transB, Tensor c, double beta)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        var opA = new MatrixOperand(a.Storage, a.Offset, a.Shape[1], 0, transA);
        var opB = new MatrixOperand(b.Storage, b.Offset, b.Shape[1], 0, transB);
        c.Backend.Gemm(c.DType, 1, m, n, k, opA, opB, c.Storage, c.Offset, n, 0, beta);
    }

    /// <summary>op(B) = [B₀ | B₁ | …] of contiguous k-row matrices side by side, prepared for <see cref="Run(Tensor, bool, PreparedGemmB, Tensor, double)"/>.</summary>
    public static PreparedGemmB Prepare(Tensor[] blocks)
    {
        var operands = blocks.Select(b => new MatrixOperand(b.Storage, b.Offset, b.Shape[1], 0, false)).ToArray();
        return blocks[0].Backend.PrepareGemmB(blocks[0].DType, blocks[0].Shape[0], operands, blocks.Select(b => b.Shape[1]).ToArray());
    }

    /// <summary>op(B) of <see cref="Run(Tensor, bool, PreparedGemmB, Tensor, double)"/>, prepared once for many products.</summary>
    public static PreparedGemmB Prepare(Tensor b, bool transB)
    {
        int k = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        return b.Backend.PrepareGemmB(b.DType, k, n, new MatrixOperand(b.Storage, b.Offset, b.Shape[1], 0, transB));
    }

    /// <summary>C = op(A)·B + beta·C with B prepared by <see cref="Prepare(Tensor, bool)"/> or <see cref="Prepare(Tensor[])"/>.</summary>
    public static void Run(Tensor a, bool transA, PreparedGemmB b, Tensor c, double beta)
    {
        int m = c.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        if (k != b.K || c.Shape[1] != b.N || (transA ? a.Shape[1] : a.Shape[0]) != m)
            throw new ShapeMismatchException($"RecurrentLayer: product {a.Describe()} × prepared [{b.K}, {b.N}] into {c.Describe()}");
        var opA = new MatrixOperand(a.Storage, a.Offset, a.Shape[1], 0, transA);
        c.Backend.GemmPrepared(c.DType, m, opA, b, c.Storage, c.Offset, c.Shape[1], beta);
    }
}
