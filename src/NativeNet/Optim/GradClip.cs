using System.Numerics.Tensors;
using NativeNet.Backends;

namespace NativeNet.Optim;

/// <summary>Gradient clipping (for recurrent nets and unstable starts). Parameters without a gradient are skipped.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales every gradient by <c>maxNorm/(norm + 1e-6)</c> when the global L2 norm over all gradients exceeds
    /// <paramref name="maxNorm"/> (PyTorch's clip_grad_norm_). Returns the norm before clipping.
    /// </summary>
    public static double ByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), $"GradClip.ByGlobalNorm: maxNorm must be non-negative, got {maxNorm}");
        var grads = Gradients(parameters);
        double sumSquares = 0;
        foreach (var g in grads) sumSquares += SumOfSquares(g);
        double norm = Math.Sqrt(sumSquares);
        if (norm > maxNorm)
        {
            double coef = maxNorm / (norm + 1e-6);
            foreach (var g in grads) InPlace(g, UnaryOp.MulScalar, coef, 0);
        }
        return norm;
    }

    /// <summary>Clamps every gradient element to [−<paramref name="clip"/>, <paramref name="clip"/>].</summary>
    public static void ByValue(IEnumerable<Tensor> parameters, double clip)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clip >= 0)) throw new ArgumentOutOfRangeException(nameof(clip), $"GradClip.ByValue: clip must be non-negative, got {clip}");
        foreach (var g in Gradients(parameters)) InPlace(g, UnaryOp.Clip, -clip, clip);
    }

    private static List<Tensor> Gradients(IEnumerable<Tensor> parameters)
    {
        var grads = new List<Tensor>();
        foreach (var p in parameters)
        {
            var g = p.Grad;
            if (g is null) continue;
            g.ThrowIfDisposed();
            if (!g.DType.IsFloat()) throw new DTypeMismatchException($"GradClip: gradient {g.Describe()} is not floating point");
            grads.Add(g);
        }
        return grads;
    }

    private static double SumOfSquares(Tensor g)
    {
        if (g.Device.Kind == DeviceKind.Cpu && g.IsContiguous)
        {
            // Fused host path: one pass, no allocation (Float32 squares are summed in float per vector, then in double).
            if (g.DType == DType.Float32)
            {
                var span = g.HostData<float>().AsSpan(g.Offset, g.Numel);
                double total = 0;
                for (int i = 0; i < span.Length; i += 4096) total += TensorPrimitives.SumOfSquares(span.Slice(i, Math.Min(4096, span.Length - i)));
                return total;
            }
            return TensorPrimitives.SumOfSquares(g.HostData<double>().AsSpan(g.Offset, g.Numel));
        }
        using var squares = Raw.Unary(UnaryOp.Square, g);
        using var sum = Raw.Sum(squares);
        return sum.Item();
    }

    private static void InPlace(Tensor g, UnaryOp op, double a, double b)
    {
        if (g.IsContiguous)
        {
            g.Backend.Unary(op, g, g, a, b);
            return;
        }
        using var result = Raw.Unary(op, g, a, b);
        Raw.CopyInto(result, g);
    }
}
