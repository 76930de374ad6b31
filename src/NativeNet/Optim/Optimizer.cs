using System.Numerics;
using System.Runtime.InteropServices;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>
/// Base of the first-order optimisers. Holds the parameters (optionally named), their per-parameter state
/// (moment buffers, created as zeros at construction), the learning rate and the step counter.
/// </summary>
/// <remarks>
/// Each optimiser writes its update rule twice, side by side in its own file: a fused kernel over
/// <see cref="Vector{T}"/> lanes used for contiguous CPU tensors (one pass over the parameter, gradient and
/// state arrays, no allocation), and a rule built from in-place backend primitives (<see cref="Backend.Unary"/> /
/// <see cref="Backend.Binary"/>) used for every other tensor (CUDA, strided gradients) or when
/// <see cref="UseFusedCpuKernels"/> is off. The backend rule needs one or two scratch buffers that are
/// allocated once and shared by all parameters of the same dtype and device.
/// Weight decay is the L2 (coupled) form <c>g += wd·p</c> except in <see cref="AdamW"/>, which decays the
/// weights directly; it applies only to the parameters the <c>decayWhere</c> predicate selects.
/// </remarks>
public abstract class Optimizer : IDisposable
{
    private readonly Tensor[] _params;
    private readonly string[] _names;
    private readonly bool[] _decays;
    private readonly string[] _slotNames;
    private readonly Tensor[][] _state;
    private readonly long[] _paramSteps;
    private Tensor[][]? _scratch;
    private double _learningRate;
    private bool _disposed;

    /// <summary>Creates the optimiser over named parameters.</summary>
    /// <param name="parameters">The tensors to update (floating point, contiguous; names unique).</param>
    /// <param name="learningRate">Initial learning rate (non-negative).</param>
    /// <param name="weightDecay">Weight-decay coefficient (non-negative; 0 turns it off).</param>
    /// <param name="decayWhere">Selects the parameters that decay (null: all). See <see cref="WeightsOnly"/>.</param>
    /// <param name="slotNames">Names of the per-parameter state buffers (e.g. "exp_avg").</param>
    protected Optimizer(IEnumerable<(string Name, Tensor Tensor)> parameters, double learningRate, double weightDecay,
        Func<string, Tensor, bool>? decayWhere, params string[] slotNames)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.ToList();
        string op = GetType().Name;
        if (list.Count == 0) throw new ArgumentException($"{op}: no parameters given");
        if (!(weightDecay >= 0) || double.IsInfinity(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), $"{op}: weight decay must be a finite non-negative number, got {weightDecay}");
        var seenNames = new HashSet<string>();
        var seenTensors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (name, t) in list)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException($"{op}: a parameter has an empty name");
            ArgumentNullException.ThrowIfNull(t, name);
            t.ThrowIfDisposed();
            if (!seenNames.Add(name)) throw new ArgumentException($"{op}: parameter name '{name}' appears twice");
            if (!seenTensors.Add(t)) throw new ArgumentException($"{op}: parameter '{name}' is the same tensor as an earlier parameter");
            if (!t.DType.IsFloat()) throw new DTypeMismatchException($"{op}: parameter '{name}' is {t.Describe()}; only Float32/Float64 parameters can be optimised");
            if (!t.IsContiguous) throw new ArgumentException($"{op}: parameter '{name}' ({t.Describe()}) must be contiguous to be updated in place");
        }
        _params = list.Select(p => p.Tensor).ToArray();
        _names = list.Select(p => p.Name).ToArray();
        _decays = list.Select(p => decayWhere?.Invoke(p.Name, p.Tensor) ?? true).ToArray();
        _slotNames = slotNames;
        _paramSteps = new long[_params.Length];
        _state = _params.Select(p => slotNames.Select(_ => Owned(Tensor.ZerosLike(p))).ToArray()).ToArray();
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>Creates the optimiser over unnamed parameters; they are named "0", "1", ... in state dictionaries.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, double learningRate, double weightDecay,
        Func<string, Tensor, bool>? decayWhere, params string[] slotNames)
        : this(Named(parameters), learningRate, weightDecay, decayWhere, slotNames) { }

    /// <summary>A <c>decayWhere</c> predicate that decays weights (rank ≥ 2) but not biases or other vectors (rank ≤ 1).</summary>
    public static Func<string, Tensor, bool> WeightsOnly { get; } = (_, t) => t.Rank >= 2;

    /// <summary>The parameters, in the order given.</summary>
    public IReadOnlyList<Tensor> Parameters => _params;

    /// <summary>The parameter names, in the order given.</summary>
    public IReadOnlyList<string> ParameterNames => _names;

    /// <summary>Whether weight decay applies to parameter <paramref name="index"/>.</summary>
    public bool Decays(int index) => _decays[index];

    /// <summary>
    /// Whether parameters on a device whose backend has fused optimiser kernels (Cuda: <c>kernels/optim.cu</c>) are updated
    /// by one kernel per parameter (default true), performing the operations of the fused CPU kernel in its order; when false
    /// they go through backend primitives. Contiguous gradients only; others always take the primitives.
    /// </summary>
    public bool UseFusedDeviceKernels { get; set; } = true;

    /// <summary>The learning rate used by the next <see cref="Step"/> (schedules set it between epochs).</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(nameof(value), $"{GetType().Name}: learning rate must be a finite non-negative number, got {value}");
            _learningRate = value;
        }
    }

    /// <summary>The weight-decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>
    /// Whether contiguous CPU parameters use the fused vectorised kernels (default true) when the CPU backend in force
    /// (<see cref="Backend.Cpu"/>, set by <see cref="Backend.Use"/> or <see cref="Backend.DefaultCpu"/>) is a fast one.
    /// Under the <see cref="Backends.Naive.NaiveBackend"/> the optimisers follow the backend and run their rule on its
    /// primitives, whatever this says; set it to false to do the same under every backend. Both paths give the same
    /// results up to rounding.
    /// </summary>
    public bool UseFusedCpuKernels { get; set; } = true;

    /// <summary>True when the next <see cref="Step"/> runs the fused host kernels for contiguous CPU parameters (see <see cref="UseFusedCpuKernels"/>).</summary>
    public bool UsesFusedCpuKernels => UseFusedCpuKernels && Backend.Cpu.GetType() != typeof(Backends.Naive.NaiveBackend); // SimdBackend derives from NaiveBackend: compare the exact type

    /// <summary>True when weight decay is applied to the weights directly (AdamW) instead of added to the gradient.</summary>
    private protected virtual bool DecoupledWeightDecay => false;

    /// <summary>Updates every parameter that has a gradient; parameters whose <see cref="Tensor.Grad"/> is null are skipped.</summary>
    public void Step()
    {
        ThrowIfDisposed();
        StepCount++;
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var g = p.Grad;
            if (g is null) continue;
            p.ThrowIfDisposed();
            g.ThrowIfDisposed();
            if (!ShapeUtil.SameShape(p.Shape, g.Shape) || p.DType != g.DType || p.Device != g.Device)
                throw new InvalidOperationException($"{GetType().Name}.Step: gradient {g.Describe()} does not match parameter '{_names[i]}' {p.Describe()}");
            _paramSteps[i]++;
            var ctx = new StepContext(LearningRate, _decays[i] ? WeightDecay : 0, _paramSteps[i]);
            if (UsesFusedCpuKernels && p.Device.Kind == DeviceKind.Cpu && g.IsContiguous)
            {
                if (p.DType == DType.Float32) RunFused<float>(i, g, ctx);
                else RunFused<double>(i, g, ctx);
            }
            else
            {
                RunWithBackend(i, g, ctx);
            }
        }
    }

    /// <summary>
    /// Clears the gradients: fills them with zeros in place (no allocation), or with <paramref name="setToNull"/>
    /// disposes them and sets <see cref="Tensor.Grad"/> to null so the next backward allocates fresh ones.
    /// </summary>
    public void ZeroGrad(bool setToNull = false)
    {
        ThrowIfDisposed();
        foreach (var p in _params)
        {
            var g = p.Grad;
            if (g is null) continue;
            if (setToNull)
            {
                p.Grad = null;
                g.Dispose();
            }
            else
            {
                g.Backend.Fill(g, 0);
            }
        }
    }

    /// <summary>
    /// The optimiser state as named tensors for a checkpoint: "step" (Int32 scalar, <see cref="StepCount"/>),
    /// "lr" (Float64 scalar), and per parameter "NAME.step" (Int32 scalar) and "NAME.SLOT" for each state buffer.
    /// The buffers are views of the live state: read or save them, do not write to them.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        ThrowIfDisposed();
        var dict = new Dictionary<string, Tensor>
        {
            ["step"] = Tensor.FromHost(new[] { checked((int)StepCount) }, []),
            ["lr"] = Tensor.FromHost(new[] { LearningRate }, []),
        };
        for (int i = 0; i < _params.Length; i++)
        {
            dict[$"{_names[i]}.step"] = Tensor.FromHost(new[] { checked((int)_paramSteps[i]) }, []);
            for (int s = 0; s < _slotNames.Length; s++) dict[$"{_names[i]}.{_slotNames[s]}"] = _state[i][s].Detach();
        }
        return dict;
    }

    /// <summary>
    /// Restores the state written by <see cref="StateDict"/> (the same keys, shapes and dtypes; buffers are copied in place).
    /// Throws <see cref="ArgumentException"/> listing missing, unexpected and mismatched entries, changing nothing.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(state);
        var expected = new Dictionary<string, (int[] Shape, DType DType)>
        {
            ["step"] = ([], DType.Int32),
            ["lr"] = ([], DType.Float64),
        };
        for (int i = 0; i < _params.Length; i++)
        {
            expected[$"{_names[i]}.step"] = ([], DType.Int32);
            foreach (var slot in _slotNames) expected[$"{_names[i]}.{slot}"] = (_params[i].ShapeArray, _params[i].DType);
        }
        var problems = new List<string>();
        foreach (var key in expected.Keys.Where(k => !state.ContainsKey(k))) problems.Add($"missing '{key}'");
        foreach (var key in state.Keys.Where(k => !expected.ContainsKey(k))) problems.Add($"unexpected '{key}'");
        foreach (var (key, want) in expected)
        {
            if (!state.TryGetValue(key, out var t)) continue;
            if (t.IsDisposed) problems.Add($"'{key}' is disposed");
            else if (!ShapeUtil.SameShape(t.Shape, want.Shape) || t.DType != want.DType)
                problems.Add($"'{key}' is {t.DType}{ShapeUtil.Format(t.Shape)}, expected {want.DType}{ShapeUtil.Format(want.Shape)}");
        }
        if (problems.Count > 0)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: the state does not fit this optimiser: {string.Join("; ", problems)}");

        int stepValue = ScalarInt(state["step"]);
        if (stepValue < 0) throw new ArgumentException($"{GetType().Name}.LoadStateDict: 'step' is negative ({stepValue})");
        LearningRate = state["lr"].Item();
        StepCount = stepValue;
        for (int i = 0; i < _params.Length; i++)
        {
            _paramSteps[i] = ScalarInt(state[$"{_names[i]}.step"]);
            for (int s = 0; s < _slotNames.Length; s++)
            {
                var src = state[$"{_names[i]}.{_slotNames[s]}"];
                if (src.Device == _state[i][s].Device) Raw.CopyInto(src, _state[i][s]);
                else
                {
                    using var moved = src.To(_state[i][s].Device);
                    Raw.CopyInto(moved, _state[i][s]);
                }
            }
        }
    }

    private static int ScalarInt(Tensor t) => t.ToArray<int>()[0];

    /// <summary>The state buffers of parameter <paramref name="index"/>, in slot order (for tests and diagnostics).</summary>
    internal IReadOnlyList<Tensor> State(int index) => _state[index];

    /// <summary>Disposes the state and scratch buffers (not the parameters or their gradients).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var slots in _state) foreach (var t in slots) t.Dispose();
        if (_scratch is not null) foreach (var views in _scratch) foreach (var t in views) t?.Dispose();
        GC.SuppressFinalize(this);
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(GetType().Name);
    }

    // ---- the two execution paths ----

    /// <summary>Hyper-parameters of one parameter's update: learning rate, effective weight decay, its 1-based step number.</summary>
    private protected readonly record struct StepContext(double LearningRate, double WeightDecay, long Step);

    /// <summary>The fused rule on contiguous host spans. <paramref name="s0"/>/<paramref name="s1"/> are the state slots (empty when absent).</summary>
    private protected abstract void UpdateHost<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, StepContext c)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>
    /// The rule from in-place backend primitives. <paramref name="grad"/> already includes coupled weight decay
    /// (and <paramref name="p"/> decoupled decay); <paramref name="scratch"/> is a buffer shaped like <paramref name="p"/>
    /// whose contents the rule may overwrite.
    /// </summary>
    private protected abstract void UpdateWithBackend(Tensor p, Tensor grad, IReadOnlyList<Tensor> state, Tensor scratch, StepContext c);

    /// <summary>
    /// The fused rule on a device backend (<see cref="Backend.TryFusedUpdate"/>) with the scalars the host kernel splats;
    /// <paramref name="g"/> is the raw gradient (weight decay is part of the rule). False where the backend has no kernel.
    /// </summary>
    private protected abstract bool TryUpdateFused(Tensor p, Tensor g, IReadOnlyList<Tensor> state, StepContext c);

    private void RunFused<T>(int i, Tensor g, StepContext c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = _params[i];
        var slots = _state[i];
        var body = new FusedUpdateBody<T>
        {
            Optimizer = this, Context = c,
            P = p.HostData<T>(), POffset = p.Offset, G = g.HostData<T>(), GOffset = g.Offset,
            S0 = slots.Length > 0 ? slots[0].HostData<T>() : null, S1 = slots.Length > 1 ? slots[1].HostData<T>() : null,
        };
        Backends.Simd.SimdParallel.ForRanges(p.Numel, Backends.Simd.SimdParallel.PartsFor(p.Numel), ref body);
    }

    /// <summary>
    /// One contiguous range of a fused update, for the Simd worker pool: the rules are elementwise and lane-wise (a range's
    /// tail goes through the same vector math), so the result does not depend on how the parameter is split.
    /// </summary>
    private struct FusedUpdateBody<T> : Backends.Simd.IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Optimizer Optimizer;
        public StepContext Context;
        public T[] P, G;
        public T[]? S0, S1;
        public int POffset, GOffset;

        public readonly void Run(long start, long end)
        {
            int from = (int)start, n = (int)(end - start);
            Optimizer.UpdateHost(P.AsSpan(POffset + from, n), G.AsSpan(GOffset + from, n),
                S0 is null ? Span<T>.Empty : S0.AsSpan(from, n), S1 is null ? Span<T>.Empty : S1.AsSpan(from, n), Context);
        }
    }

    private void RunWithBackend(int i, Tensor g, StepContext c)
    {
        var p = _params[i];
        if (UseFusedDeviceKernels && p.Device.Kind != DeviceKind.Cpu && g.IsContiguous && TryUpdateFused(p, g, _state[i], c)) return;
        var b = p.Backend;
        var scratch = Scratch(i);
        var grad = g;
        if (c.WeightDecay != 0)
        {
            if (DecoupledWeightDecay)
            {
                b.Unary(UnaryOp.MulScalar, p, p, 1 - c.LearningRate * c.WeightDecay, 0);
            }
            else
            {
                // grad' = g + wd·p in the second scratch buffer; g itself is left untouched.
                grad = scratch[1];
                b.Unary(UnaryOp.MulScalar, p, grad, c.WeightDecay, 0);
                b.Binary(BinaryOp.Add, g, grad, grad, 0);
            }
        }
        UpdateWithBackend(p, grad, _state[i], scratch[0], c);
    }

    /// <summary>Scratch views for parameter <paramref name="i"/>, carved from one storage per (dtype, device) and scratch index.</summary>
    private Tensor[] Scratch(int i)
    {
        if (_scratch is null)
        {
            // One buffer for the rule's temporaries, one more for the decayed gradient g + wd·p when coupled decay is on.
            int count = WeightDecay > 0 && !DecoupledWeightDecay ? 2 : 1;
            _scratch = new Tensor[_params.Length][];
            foreach (var group in Enumerable.Range(0, _params.Length).GroupBy(k => (_params[k].DType, _params[k].Device)))
            {
                int max = group.Max(k => _params[k].Numel);
                var storages = Enumerable.Range(0, count).Select(_ => Backend.For(group.Key.Device).Allocate(group.Key.DType, max, zeroed: false)).ToArray();
                foreach (int k in group) _scratch[k] = storages.Select(s => Owned(new Tensor(s, _params[k].ShapeArray))).ToArray();
            }
        }
        return _scratch[i];
    }

    /// <summary>Keeps optimiser-owned tensors out of any <see cref="TensorScope"/> open while the optimiser is built or used.</summary>
    private static Tensor Owned(Tensor t)
    {
        TensorScope.Unregister(t);
        return t;
    }

    private static IEnumerable<(string, Tensor)> Named(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return parameters.Select((t, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), t));
    }

    // ---- helpers for the backend rules (all in place, y may alias an input) ----

    /// <summary>t *= s.</summary>
    private protected static void Scale(Tensor t, double s) => t.Backend.Unary(UnaryOp.MulScalar, t, t, s, 0);

    /// <summary>dst += s·src, through <paramref name="scratch"/>.</summary>
    private protected static void AddScaled(Tensor dst, Tensor src, double s, Tensor scratch)
    {
        dst.Backend.Unary(UnaryOp.MulScalar, src, scratch, s, 0);
        dst.Backend.Binary(BinaryOp.Add, dst, scratch, dst, 0);
    }

    /// <summary>scratch = g / (√sq·sqScale + eps), the shared denominator of the adaptive methods.</summary>
    private protected static void RatioToRootPlusEps(Tensor g, Tensor sq, double sqScale, double eps, Tensor scratch)
    {
        var b = g.Backend;
        b.Unary(UnaryOp.Sqrt, sq, scratch, 0, 0);
        if (sqScale != 1) b.Unary(UnaryOp.MulScalar, scratch, scratch, sqScale, 0);
        b.Unary(UnaryOp.AddScalar, scratch, scratch, eps, 0);
        b.Binary(BinaryOp.Div, g, scratch, scratch, 0);
    }

    // ---- helpers for the fused kernels ----

    /// <summary>The per-lane body of a fused update: p, the gradient and two state lanes.</summary>
    private protected interface IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>Updates one vector of lanes in place.</summary>
        void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> s0, ref Vector<T> s1);
    }

    /// <summary>Runs <paramref name="kernel"/> over the spans a vector at a time; the tail goes through a zero-padded stack copy so the math exists once.</summary>
    private protected static void Run<T, TKernel>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, TKernel kernel)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IKernel<T>
    {
        int n = p.Length, w = Vector<T>.Count, i = 0;
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty;
        if (g.Length != n || (has0 && s0.Length != n) || (has1 && s1.Length != n))
            throw new ArgumentException($"fused update: spans of {n} (parameter), {g.Length} (gradient), {s0.Length} and {s1.Length} (state) elements");
        Vector<T> a = default, b = default;
        // unchecked loads: the lengths are checked above (the sliced Vector constructors cost a third of the update)
        ref T pr = ref MemoryMarshal.GetReference(p), gr = ref MemoryMarshal.GetReference(g);
        ref T ar = ref MemoryMarshal.GetReference(s0), br = ref MemoryMarshal.GetReference(s1);
        for (; i <= n - w; i += w)
        {
            nuint at = (nuint)i;
            var pv = Vector.LoadUnsafe(ref pr, at);
            var gv = Vector.LoadUnsafe(ref gr, at);
            if (has0) a = Vector.LoadUnsafe(ref ar, at);
            if (has1) b = Vector.LoadUnsafe(ref br, at);
            kernel.Apply(ref pv, gv, ref a, ref b);
            pv.StoreUnsafe(ref pr, at);
            if (has0) a.StoreUnsafe(ref ar, at);
            if (has1) b.StoreUnsafe(ref br, at);
        }
        int rest = n - i;
        if (rest == 0) return;
        Span<T> tmp = stackalloc T[4 * w];
        tmp.Clear();
        var tp = tmp.Slice(0, w); var tg = tmp.Slice(w, w); var t0 = tmp.Slice(2 * w, w); var t1 = tmp.Slice(3 * w, w);
        p.Slice(i).CopyTo(tp);
        g.Slice(i).CopyTo(tg);
        if (has0) s0.Slice(i).CopyTo(t0);
        if (has1) s1.Slice(i).CopyTo(t1);
        var vp = new Vector<T>(tp); a = new Vector<T>(t0); b = new Vector<T>(t1);
        kernel.Apply(ref vp, new Vector<T>(tg), ref a, ref b);
        vp.CopyTo(tp); a.CopyTo(t0); b.CopyTo(t1);
        tp.Slice(0, rest).CopyTo(p.Slice(i));
        if (has0) t0.Slice(0, rest).CopyTo(s0.Slice(i));
        if (has1) t1.Slice(0, rest).CopyTo(s1.Slice(i));
    }

    /// <summary>A lane vector filled with <paramref name="value"/> converted to <typeparamref name="T"/>.</summary>
    private protected static Vector<T> Splat<T>(double value) where T : unmanaged, IFloatingPointIeee754<T> => new(T.CreateTruncating(value));
}
