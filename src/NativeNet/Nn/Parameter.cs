namespace NativeNet.Nn;

/// <summary>
/// Learnable parameters. A parameter is an ordinary <see cref="Tensor"/> that requires a gradient and that no
/// <see cref="TensorScope"/> owns, so it outlives every training step; its <see cref="Module"/> disposes it.
/// </summary>
public static class Parameter
{
    /// <summary>Takes ownership of <paramref name="data"/> (a floating-point leaf) and marks it as a parameter; returns it.</summary>
    public static Tensor Create(Tensor data, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.ThrowIfDisposed();
        if (!data.IsLeaf) throw new ArgumentException($"Parameter.Create: {data.Describe()} was produced by a recorded op; pass a leaf (e.g. the result of Detach or a creation function)");
        TensorScope.Unregister(data);
        data.RequireGrad();
        if (name is not null) data.Name = name;
        return data;
    }
}
