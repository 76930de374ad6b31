namespace NativeNet;

/// <summary>
/// Disposes, when itself disposed, every tensor created on this thread while it was the innermost scope,
/// except those handed out with <see cref="Keep"/>. Scopes nest. Typical use: one scope per training step.
/// </summary>
/// <example><code>
/// using (var scope = new TensorScope())
/// {
///     var loss = model.Forward(x).CrossEntropy(y);
///     loss.Backward();                  // parameter gradients are never owned by a scope
///     optimizer.Step();
///     lossValue = loss.Item();
/// }                                     // activations and temporaries are freed here
/// </code></example>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;

    private readonly HashSet<Tensor> _tensors = new(ReferenceEqualityComparer.Instance);
    private readonly TensorScope? _parent;
    private bool _disposed;

    /// <summary>Opens a scope that becomes the innermost on this thread.</summary>
    public TensorScope()
    {
        _parent = t_current;
        t_current = this;
    }

    /// <summary>Tensors this scope will dispose.</summary>
    public int Count => _tensors.Count;

    internal static void Register(Tensor t) => t_current?._tensors.Add(t);

    /// <summary>Removes <paramref name="t"/> from whichever scope on this thread owns it (used for gradients and parameters).</summary>
    internal static void Unregister(Tensor t)
    {
        for (var s = t_current; s is not null; s = s._parent)
            if (s._tensors.Remove(t)) return;
    }

    /// <summary>Moves <paramref name="t"/> out of this scope to the enclosing one (or to no scope) and returns it.</summary>
    public Tensor Keep(Tensor t)
    {
        if (_tensors.Remove(t)) _parent?._tensors.Add(t);
        return t;
    }

    /// <summary>Disposes the tensors still owned and closes the scope.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!ReferenceEquals(t_current, this))
            throw new InvalidOperationException("TensorScope: scopes must be disposed in the reverse order of creation, on the thread that created them");
        t_current = _parent;
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }
}
