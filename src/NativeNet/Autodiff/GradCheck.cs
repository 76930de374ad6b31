namespace NativeNet.Autodiff;

/// <summary>
/// Numerical gradient checking in Float64, as CS231n's <c>eval_numerical_gradient_array</c>: centred differences
/// (f(x+h) − f(x−h)) / 2h contracted with an upstream gradient, compared by relative error. With <c>order: 4</c> the
/// five-point stencil (−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h (Richardson extrapolation of the centred
/// difference) cuts the truncation error from O(h²) to O(h⁴): through deep compositions (LayerNorm, GELU, attention)
/// the h² term is what keeps the two-point check above 1e-7 for the smaller gradient elements, while a smaller h
/// trades it for rounding error (~ε·|f|/h).
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// d(Σ f(x)·dOut)/dx by centred differences of accuracy <paramref name="order"/> (2: two points, 4: five-point
    /// stencil), perturbing each element of <paramref name="x"/> in place (x must be a contiguous Float64 CPU tensor; it
    /// is restored afterwards).
    /// </summary>
    public static Tensor NumericalGradient(Func<Tensor> f, Tensor x, Tensor dOut, double h = 1e-5, int order = 2)
    {
        if (x.DType != DType.Float64 || x.Device.Kind != DeviceKind.Cpu || !x.IsContiguous)
            throw new ArgumentException($"NumericalGradient: x must be a contiguous Float64 CPU tensor, got {x.Describe()}");
        CheckOrder(order);
        if (!(h > 0 && double.IsFinite(h))) throw new ArgumentOutOfRangeException(nameof(h), $"NumericalGradient: the step h must be positive and finite, got {h}");
        var data = x.HostData<double>();
        var upstream = dOut.ToArray<double>();
        var grad = new double[x.Numel];
        using var noGrad = GradMode.Disable();
        for (int i = 0; i < x.Numel; i++)
        {
            int at = x.Offset + i;
            double old = data[at];
            double At(double offset)
            {
                data[at] = old + offset;
                return Contract(f, upstream);
            }
            try
            {
                grad[i] = order == 2
                    ? (At(h) - At(-h)) / (2 * h)
                    : (8 * (At(h) - At(-h)) - (At(2 * h) - At(-2 * h))) / (12 * h);
            }
            finally
            {
                data[at] = old;
            }
        }
        return Tensor.FromHost(grad, x.ShapeArray);
    }

    private static void CheckOrder(int order)
    {
        if (order is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(order), $"NumericalGradient: order must be 2 (two-point) or 4 (five-point stencil), got {order}");
    }

    private static double Contract(Func<Tensor> f, double[] upstream)
    {
        using var y = f();
        var values = y.ToArray<double>();
        if (values.Length != upstream.Length)
            throw new ArgumentException($"NumericalGradient: f returned {values.Length} elements but the upstream gradient has {upstream.Length}");
        double sum = 0;
        for (int i = 0; i < values.Length; i++) sum += values[i] * upstream[i];
        return sum;
    }

    /// <summary>CS231n's relative error max |a − n| / max(1e-8, |a| + |n|) over all elements.</summary>
    public static double RelativeError(Tensor analytic, Tensor numeric)
    {
        if (!ShapeUtil.SameShape(analytic.Shape, numeric.Shape))
            throw new ShapeMismatchException($"RelativeError: shapes {ShapeUtil.Format(analytic.Shape)} and {ShapeUtil.Format(numeric.Shape)} differ");
        var a = analytic.ToArray<double>();
        var n = numeric.ToArray<double>();
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
            worst = Math.Max(worst, Math.Abs(a[i] - n[i]) / Math.Max(1e-8, Math.Abs(a[i]) + Math.Abs(n[i])));
        return worst;
    }

    /// <summary>
    /// Checks every input's tape gradient against centred differences for f(inputs) contracted with a seeded random
    /// upstream gradient; returns the worst relative error per input. <paramref name="order"/> is the numerical
    /// gradient's (see <see cref="NumericalGradient"/>).
    /// </summary>
    public static double[] Check(Func<Tensor[], Tensor> f, Tensor[] inputs, int seed = 0, double h = 1e-5, int order = 2)
    {
        CheckOrder(order);
        foreach (var x in inputs) x.RequireGrad().Grad = null;
        Tensor output = f(inputs);
        using var dOut = output.Numel == 1
            ? Tensor.Ones(output.ShapeArray, DType.Float64)
            : Tensor.Normal(output.ShapeArray, 0, 1, new Generator(seed), DType.Float64);
        output.Backward(dOut);
        output.Dispose();
        var errors = new double[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            using var numeric = NumericalGradient(() => f(inputs), inputs[i], dOut, h, order);
            var analytic = inputs[i].Grad ?? throw new InvalidOperationException($"GradCheck: input {i} ({inputs[i].Describe()}) received no gradient");
            errors[i] = RelativeError(analytic, numeric);
        }
        return errors;
    }
}
