namespace NativeNet.Autodiff;

/// <summary>
/// The unit of differentiation, in the CS231n shape: a gate's forward computes its output and caches what
/// backward needs; <see cref="Backward"/> takes the upstream gradient and returns one gradient per input.
/// The same gate objects serve hand-written backprop (<c>Affine.Backward(dout, cache)</c>) and the <see cref="Tape"/>.
/// </summary>
public interface IGate
{
    /// <summary>Name used in messages, e.g. "Affine".</summary>
    string Name { get; }

    /// <summary>Gradients of the inputs, in input order; null for an input that needs none.</summary>
    Tensor?[] Backward(Tensor dOut);

    /// <summary>Drops the cached tensors; <see cref="Backward"/> afterwards throws.</summary>
    void Release();
}

/// <summary>Base class of gates: keeps the cache and makes <see cref="Release"/> and use-after-release checks uniform.</summary>
public abstract class Gate : IGate
{
    private readonly List<Tensor> _owned = [];
    private bool[]? _needsGrad;
    private bool _released;

    /// <summary>Whether input <paramref name="index"/> needs a gradient: always true for hand use; the tape narrows it so no work is wasted on inputs without one.</summary>
    protected bool NeedsGrad(int index) => _needsGrad is null || (index < _needsGrad.Length && _needsGrad[index]);

    internal void SetNeedsGrad(bool[] needs) => _needsGrad = needs;

    /// <summary>
    /// Whether the running backward is the last use of the cache (the tape frees it right after, no retained graph), so
    /// the gate may overwrite its saved buffers with gradients. Always false for hand use, which may call backward again.
    /// </summary>
    protected bool CacheEndsWithThisBackward { get; private set; }

    internal void SetCacheEndsWithThisBackward(bool last) => CacheEndsWithThisBackward = last;

    /// <inheritdoc/>
    public virtual string Name => GetType().Name.Replace("Gate", "", StringComparison.Ordinal);

    /// <summary>Keeps <paramref name="t"/> alive for backward (as a detached view: caches never hold history) and returns it.</summary>
    protected Tensor Save(Tensor t)
    {
        var view = t.Detach();
        TensorScope.Unregister(view);
        _owned.Add(view);
        return view;
    }

    /// <inheritdoc/>
    public Tensor?[] Backward(Tensor dOut)
    {
        if (_released)
            throw new InvalidOperationException($"{Name}.Backward: this gate's cache was freed after an earlier Backward; pass retainGraph: true to the first Backward to differentiate twice");
        using var noGrad = GradMode.Disable();
        return BackwardCore(dOut);
    }

    /// <summary>The gate's backward rule, run with recording off.</summary>
    protected abstract Tensor?[] BackwardCore(Tensor dOut);

    /// <inheritdoc/>
    public void Release()
    {
        if (_released) return;
        _released = true;
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
        OnRelease();
    }

    /// <summary>Extra cleanup for gates that cache something other than saved tensors.</summary>
    protected virtual void OnRelease() { }
}
