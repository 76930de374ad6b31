using System.Text;

namespace NativeNet.Nn;

/// <summary>
/// Base class of layers and models, in the manner of PyTorch's <c>torch.nn.Module</c>: a tree of named parameters,
/// buffers (non-learned state such as running statistics) and child modules, registered explicitly by constructors
/// with <see cref="RegisterParameter"/>, <see cref="RegisterBuffer"/> and <see cref="RegisterModule{T}"/>.
/// A module owns its parameters and buffers (no <see cref="TensorScope"/> does) and disposes them with itself.
/// </summary>
/// <example><code>
/// var model = new Sequential(new Linear(784, 100), new ReLU(), new Linear(100, 10));
/// foreach (var (name, p) in model.NamedParameters()) Console.WriteLine($"{name} {p.Describe()}"); // "0.weight Float32[100, 784] on cpu", ...
/// using (var scope = new TensorScope())
/// {
///     var loss = Ops.SoftmaxCrossEntropy(model.Forward(x), labels);
///     model.ZeroGrad();
///     loss.Backward();
/// }
/// </code></example>
public abstract class Module : IDisposable
{
    private readonly OrderedDictionary<string, Tensor> _parameters = new();
    private readonly OrderedDictionary<string, Tensor> _buffers = new();
    private readonly OrderedDictionary<string, Module> _modules = new();
    private bool _disposed;

    /// <summary>Computes the module's output for <paramref name="input"/>.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>: dropout and batch norm behave differently.</summary>
    public bool IsTraining { get; private set; } = true;

    // ---- registration ----

    /// <summary>Registers <paramref name="value"/> as a parameter called <paramref name="name"/> (taking ownership, see <see cref="Parameter.Create"/>); returns it.</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckNewName(name);
        var p = Parameter.Create(value);
        _parameters.Add(name, p);
        return p;
    }

    /// <summary>Registers <paramref name="value"/> as a buffer called <paramref name="name"/>: state saved with the module and moved by <see cref="To(Device)"/> but not learned.</summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckNewName(name);
        ArgumentNullException.ThrowIfNull(value);
        value.ThrowIfDisposed();
        TensorScope.Unregister(value);
        _buffers.Add(name, value);
        return value;
    }

    /// <summary>Registers <paramref name="module"/> as a child called <paramref name="name"/> (its parameters are named "name.…"); returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckNewName(name);
        ArgumentNullException.ThrowIfNull(module);
        if (ReferenceEquals(module, this)) throw new ArgumentException($"{GetType().Name}: a module cannot be its own child");
        _modules.Add(name, module);
        return module;
    }

    private void CheckNewName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('.')) throw new ArgumentException($"{GetType().Name}: name '{name}' must not contain '.'");
        if (_parameters.ContainsKey(name) || _buffers.ContainsKey(name) || _modules.ContainsKey(name))
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered");
    }

    /// <summary>The parameter registered as <paramref name="name"/> (the current tensor: <see cref="To(Device)"/> replaces tensors).</summary>
    protected Tensor GetParameter(string name) =>
        _parameters.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"{GetType().Name}: no parameter '{name}'");

    /// <summary>The parameter registered as <paramref name="name"/>, or null when there is none (e.g. an optional bias).</summary>
    protected Tensor? FindParameter(string name) => _parameters.TryGetValue(name, out var p) ? p : null;

    /// <summary>The buffer registered as <paramref name="name"/>.</summary>
    protected Tensor GetBuffer(string name) =>
        _buffers.TryGetValue(name, out var b) ? b : throw new KeyNotFoundException($"{GetType().Name}: no buffer '{name}'");

    /// <summary>The child registered as <paramref name="name"/>.</summary>
    protected Module GetModule(string name) =>
        _modules.TryGetValue(name, out var m) ? m : throw new KeyNotFoundException($"{GetType().Name}: no child module '{name}'");

    // ---- traversal ----

    /// <summary>
    /// Every parameter of this module and its descendants with its dotted path ("fc1.weight"), in registration order
    /// (depth first). A parameter or module reachable twice (shared weights) is listed once, as in PyTorch.
    /// </summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (path, module) in NamedModules())
            foreach (var (name, p) in module._parameters)
                if (seen.Add(p)) yield return (prefix + Join(path, name), p);
    }

    /// <summary>Every parameter of this module and its descendants (what an optimiser updates), each once.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every buffer of this module and its descendants with its dotted path ("bn1.running_mean"), each once.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (path, module) in NamedModules())
            foreach (var (name, b) in module._buffers)
                if (seen.Add(b)) yield return (prefix + Join(path, name), b);
    }

    /// <summary>Every buffer of this module and its descendants.</summary>
    public IEnumerable<Tensor> Buffers() => NamedBuffers().Select(b => b.Buffer);

    /// <summary>The direct children with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _modules.Select(kv => (kv.Key, kv.Value));

    /// <summary>This module ("") and every descendant with its dotted path, depth first, each module once.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules() => NamedModules("", new HashSet<Module>(ReferenceEqualityComparer.Instance));

    private IEnumerable<(string Name, Module Module)> NamedModules(string path, HashSet<Module> seen)
    {
        if (!seen.Add(this)) yield break;
        yield return (path, this);
        foreach (var (name, child) in _modules)
            foreach (var item in child.NamedModules(Join(path, name), seen)) yield return item;
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    /// <summary>Total number of learnable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Numel);

    // ---- state ----

    /// <summary>Sets training (<paramref name="mode"/> true) or evaluation mode on this module and every descendant; returns this.</summary>
    public Module Train(bool mode = true)
    {
        IsTraining = mode;
        foreach (var child in _modules.Values) child.Train(mode);
        return this;
    }

    /// <summary>Evaluation mode (dropout off, batch norm on running statistics); returns this.</summary>
    public Module Eval() => Train(false);

    /// <summary>Disposes and clears the gradient of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    /// <summary>
    /// Moves every parameter (with its gradient) and buffer to <paramref name="device"/>; returns this.
    /// Tensors already there are kept; moved ones are new tensor objects (the old ones are disposed), so take
    /// <see cref="Parameters"/> for an optimiser after moving.
    /// </summary>
    public Module To(Device device)
    {
        Replace(_parameters, p => p.Device == device ? null : p.To(device), keepGrad: g => g.To(device));
        Replace(_buffers, b => b.Device == device ? null : b.To(device), keepGrad: null);
        foreach (var child in _modules.Values) child.To(device);
        return this;
    }

    /// <summary>Converts every floating-point parameter and buffer to <paramref name="dtype"/> (gradients are dropped); returns this.</summary>
    public Module To(DType dtype)
    {
        if (!dtype.IsFloat()) throw new ArgumentException($"{GetType().Name}.To: parameters must stay floating-point, not {dtype}");
        Replace(_parameters, p => p.DType == dtype ? null : Raw.CastTo(p, dtype), keepGrad: null);
        Replace(_buffers, b => !b.DType.IsFloat() || b.DType == dtype ? null : Raw.CastTo(b, dtype), keepGrad: null);
        foreach (var child in _modules.Values) child.To(dtype);
        return this;
    }

    private static void Replace(OrderedDictionary<string, Tensor> tensors, Func<Tensor, Tensor?> convert, Func<Tensor, Tensor>? keepGrad)
    {
        foreach (var name in tensors.Keys.ToArray())
        {
            var old = tensors[name];
            var converted = convert(old);
            if (converted is null) continue;
            TensorScope.Unregister(converted);
            converted.RequiresGrad = old.RequiresGrad;
            converted.Name = old.Name;
            if (old.Grad is not null)
            {
                if (keepGrad is not null)
                {
                    converted.Grad = keepGrad(old.Grad);
                    TensorScope.Unregister(converted.Grad);
                }
                old.Grad.Dispose();
                old.Grad = null;
            }
            tensors[name] = converted;
            old.Dispose();
        }
    }

    // ---- state ----

    /// <summary>
    /// The parameters and buffers by dotted name ("0.weight", "bn.running_mean"), as PyTorch's <c>state_dict()</c>.
    /// The values are the module's own tensors (not copies): read them, save them, do not dispose them.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in NamedParameters()) state[name] = p;
        foreach (var (name, b) in NamedBuffers()) state[name] = b;
        return state;
    }

    /// <summary>
    /// Copies <paramref name="state"/> into the module's parameters and buffers in place (any device; same dtype and
    /// shape). With <paramref name="strict"/> every entry of <see cref="StateDict"/> must be present and no other;
    /// otherwise missing and unexpected names are allowed and reported in the result. A dtype or shape mismatch is always
    /// an error. On any error nothing is modified and the <see cref="ArgumentException"/> lists every problem by name.
    /// </summary>
    /// <returns>The names missing from <paramref name="state"/> and the unexpected names in it (both empty when strict).</returns>
    public (IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected) LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        string op = $"{GetType().Name}.LoadStateDict";
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var problems = new List<string>();
        if (strict)
        {
            problems.AddRange(missing.Select(n => $"missing '{n}' (in the module, not in the state)"));
            problems.AddRange(unexpected.Select(n => $"unexpected '{n}' (in the state, not in the module)"));
        }
        foreach (var (name, dst) in own)
        {
            if (!state.TryGetValue(name, out var src)) continue;
            if (src is null) { problems.Add($"'{name}' is null"); continue; }
            if (src.IsDisposed) { problems.Add($"'{name}' is a disposed tensor"); continue; }
            if (src.DType != dst.DType || !ShapeUtil.SameShape(src.Shape, dst.Shape))
                problems.Add($"'{name}' is {src.DType}{ShapeUtil.Format(src.Shape)} in the state but {dst.DType}{ShapeUtil.Format(dst.Shape)} in the module");
        }
        if (problems.Count > 0) throw new ArgumentException($"{op}: the state does not fit the module: {string.Join("; ", problems)}");
        using (Autodiff.GradMode.Disable())
            foreach (var (name, dst) in own)
                if (state.TryGetValue(name, out var src)) dst.CopyFrom(src);
        return (missing, unexpected);
    }

    // ---- text ----

    /// <summary>The arguments shown inside the parentheses of <see cref="ToString"/>, e.g. "in_features=3, out_features=4, bias=True".</summary>
    protected virtual string ExtraRepr() => "";

    /// <summary>A tree like PyTorch's <c>print(model)</c>.</summary>
    public override string ToString()
    {
        string extra = ExtraRepr();
        if (_modules.Count == 0) return $"{GetType().Name}({extra})";
        var sb = new StringBuilder(GetType().Name).Append('(');
        if (extra.Length > 0) sb.Append("\n  ").Append(extra);
        foreach (var (name, child) in _modules)
            sb.Append("\n  (").Append(name).Append("): ").Append(child.ToString().Replace("\n", "\n  ", StringComparison.Ordinal));
        return sb.Append("\n)").ToString();
    }

    /// <summary>"True"/"False" as PyTorch prints booleans, for <see cref="ExtraRepr"/>.</summary>
    protected static string PyBool(bool value) => value ? "True" : "False";

    /// <summary>A number as Python prints a float ("0.1", "1e-05", "1.0"), for <see cref="ExtraRepr"/>.</summary>
    protected static string PyFloat(double value)
    {
        string text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
        return double.IsFinite(value) && !text.Contains('.') && !text.Contains('e') ? text + ".0" : text;
    }

    // ---- lifetime ----

    /// <summary>Disposes every parameter, gradient and buffer of this module and its descendants.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters.Values)
        {
            p.Grad?.Dispose();
            p.Grad = null;
            p.Dispose();
        }
        foreach (var b in _buffers.Values) b.Dispose();
        foreach (var child in _modules.Values) child.Dispose();
        GC.SuppressFinalize(this);
    }
}
