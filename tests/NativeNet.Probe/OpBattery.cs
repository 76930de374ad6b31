using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Probe;

/// <summary>The outcome of one op on one backend: its values, or the exception it threw.</summary>
/// <param name="Shape">Shape of the result (empty when rejected).</param>
/// <param name="Values">Row-major values read as double (empty when rejected).</param>
/// <param name="Error">The exception thrown, or null.</param>
public sealed record OpOutcome(int[] Shape, double[] Values, Exception? Error);

/// <summary>A mismatch or an unexpected exception found by <see cref="OpBattery"/>.</summary>
/// <param name="Op">The op.</param>
/// <param name="Detail">What differed or what was thrown.</param>
public sealed record OpProblem(string Op, string Detail);

/// <summary>
/// Every elementwise, reduce, GEMM, convolution, pooling and copy op, run on a view under one backend and then another,
/// with the results compared: equal shapes, NaN and ±∞ at the same positions, finite values within a tolerance that
/// scales with the magnitude of the inputs (summation order may differ between backends). An op may reject a view
/// (an <see cref="ArgumentException"/> or <see cref="InvalidOperationException"/> with a message), but it must do so
/// on both backends; any other exception is a problem.
/// </summary>
public static class OpBattery
{
    /// <summary>With PROBE_TRACE set, every op run is written to standard error first (to find the op that killed a process).</summary>
    public static readonly bool Trace = Environment.GetEnvironmentVariable("PROBE_TRACE") is { Length: > 0 };

    /// <summary>The ops, by name, each mapping a view to a new tensor.</summary>
    public static readonly IReadOnlyList<(string Name, Func<Tensor, Tensor> Run)> Ops = Build();

    private static List<(string, Func<Tensor, Tensor>)> Build()
    {
        var ops = new List<(string, Func<Tensor, Tensor>)>();
        foreach (var (name, f) in new (string, Func<Tensor, Tensor>)[]
                 {
                     ("Relu", NativeNet.Ops.Relu), ("Exp", NativeNet.Ops.Exp), ("Log", NativeNet.Ops.Log), ("Tanh", NativeNet.Ops.Tanh),
                     ("Sigmoid", NativeNet.Ops.Sigmoid), ("Abs", NativeNet.Ops.Abs), ("Neg", NativeNet.Ops.Neg), ("Sqrt", NativeNet.Ops.Sqrt),
                     ("Square", NativeNet.Ops.Square), ("Sign", NativeNet.Ops.Sign), ("Reciprocal", NativeNet.Ops.Reciprocal),
                     ("LeakyRelu", x => NativeNet.Ops.LeakyRelu(x, 0.1)), ("Elu", x => NativeNet.Ops.Elu(x)), ("Clip", x => NativeNet.Ops.Clip(x, -1, 1)),
                     ("PowScalar", x => NativeNet.Ops.Pow(x, 3)), ("AddScalar", x => NativeNet.Ops.AddScalar(x, 0.5)), ("MulScalar", x => NativeNet.Ops.MulScalar(x, -2)),
                 })
            ops.Add((name, f));
        ops.Add(("Add(x, x)", x => NativeNet.Ops.Add(x, x)));
        ops.Add(("Mul(x, contiguous x)", x => { using var c = x.Contiguous(); return NativeNet.Ops.Mul(x, c); }));
        ops.Add(("Sub(x, row 0)", x => { using var r = RowZero(x); return NativeNet.Ops.Sub(x, r); }));
        ops.Add(("Div(x, 3)", x => { using var s = Tensor.Scalar(3, x.DType); return NativeNet.Ops.Div(x, s); }));
        ops.Add(("Maximum(x, x^T)", x => { using var t = Flip(x); return NativeNet.Ops.Maximum(x, t); }));
        ops.Add(("Minimum(x, 0)", x => { using var z = Tensor.Scalar(0, x.DType); return NativeNet.Ops.Minimum(x, z); }));
        ops.Add(("Pow(x, x)", x => NativeNet.Ops.Pow(x, x)));
        ops.Add(("Greater(x, 0)", x => { using var z = Tensor.Scalar(0, x.DType); return NativeNet.Ops.Greater(x, z); }));
        ops.Add(("Where(x > 0, x, -x)", x =>
        {
            using var z = Tensor.Scalar(0, x.DType);
            using var c = NativeNet.Ops.Greater(x, z);
            using var n = NativeNet.Ops.Neg(x);
            return NativeNet.Ops.Where(c, x, n);
        }));
        ops.Add(("Sum()", x => NativeNet.Ops.Sum(x)));
        ops.Add(("Sum(-1)", x => NativeNet.Ops.Sum(x, [-1])));
        ops.Add(("Sum(0, keep)", x => NativeNet.Ops.Sum(x, [0], keepDims: true)));
        ops.Add(("Mean()", x => NativeNet.Ops.Mean(x)));
        ops.Add(("Max(0)", x => NativeNet.Ops.Max(x, [0])));
        ops.Add(("Min(-1)", x => NativeNet.Ops.Min(x, [-1])));
        ops.Add(("Var(-1)", x => NativeNet.Ops.Var(x, [-1])));
        ops.Add(("ArgMax(-1)", x => NativeNet.Ops.ArgMax(x, -1)));
        ops.Add(("Softmax(-1)", x => NativeNet.Ops.Softmax(x, -1)));
        ops.Add(("Softmax(0)", x => NativeNet.Ops.Softmax(x, 0)));
        ops.Add(("LogSoftmax(-1)", x => NativeNet.Ops.LogSoftmax(x, -1)));
        ops.Add(("MatMul(x2, x2^T)", x => { using var m = AsMatrix(x); using var t = m.Transpose(-1, -2); return NativeNet.Ops.MatMul(m, t); }));
        ops.Add(("MatMul(x2^T, x2)", x => { using var m = AsMatrix(x); return NativeNet.Ops.MatMul(m, m, transA: true); }));
        ops.Add(("MatMul(x, x)", x => NativeNet.Ops.MatMul(x, x)));
        ops.Add(("Conv2d 3x3 p1", x => Conv(x, 3, 1, 1)));
        ops.Add(("Conv2d 1x1", x => Conv(x, 1, 1, 0)));
        ops.Add(("Conv2d 2x2 s2 floor", x => Conv(x, 2, 2, 0)));
        ops.Add(("MaxPool2d 2 floor", x => NativeNet.Ops.MaxPool2d(x, 2, floor: true)));
        ops.Add(("MaxPool2d 3 s1 p1", x => NativeNet.Ops.MaxPool2d(x, 3, 1, 1)));
        ops.Add(("AvgPool2d 2 floor", x => NativeNet.Ops.AvgPool2d(x, 2, floor: true)));
        ops.Add(("GlobalAvgPool2d", NativeNet.Ops.GlobalAvgPool2d));
        ops.Add(("Contiguous", x => x.Contiguous()));
        ops.Add(("Clone", x => x.Clone()));
        ops.Add(("Cast", x => x.To(x.DType == DType.Float32 ? DType.Float64 : DType.Float32)));
        ops.Add(("Concat(x, x; 0)", x => NativeNet.Ops.Concat([x, x], 0)));
        ops.Add(("Reshape(-1)", x => x.Reshape(-1).Contiguous()));
        foreach (var (name, f) in new (string, Func<Tensor, Tensor>)[]
                 {
                     ("Conv2d 3x3 p1", x => Conv(x, 3, 1, 1)), ("Conv2d 2x2 s2 floor", x => Conv(x, 2, 2, 0)),
                     ("MaxPool2d 2 floor", x => NativeNet.Ops.MaxPool2d(x, 2, floor: true)), ("MaxPool2d 3 s1 p1", x => NativeNet.Ops.MaxPool2d(x, 3, 1, 1)),
                     ("AvgPool2d 2 floor", x => NativeNet.Ops.AvgPool2d(x, 2, floor: true)),
                     ("MatMul(x2, x2^T)", x => { using var m = AsMatrix(x); using var t = m.Transpose(-1, -2); return NativeNet.Ops.MatMul(m, t); }),
                     ("Softmax(-1)", x => NativeNet.Ops.Softmax(x, -1)), ("LogSoftmax(0)", x => NativeNet.Ops.LogSoftmax(x, 0)),
                     ("Max(0)", x => NativeNet.Ops.Max(x, [0])), ("Mean(-1)", x => NativeNet.Ops.Mean(x, [-1])),
                     ("Tanh", NativeNet.Ops.Tanh), ("Sigmoid", NativeNet.Ops.Sigmoid), ("Expand+Narrow", x => x.Unsqueeze(0).Expand([2, .. x.ShapeArray]).Narrow(0, 1, 1)),
                 })
            ops.Add((name + " backward", x => Backward(x, f)));
        ops.Add(("Sum(Relu(x)) backward", x =>
        {
            using var leaf = x.Clone().RequireGrad();
            using var y = NativeNet.Ops.Relu(leaf);
            using var s = NativeNet.Ops.Sum(y);
            s.Backward();
            return leaf.Grad!.Clone();
        }));
        return ops;
    }

    /// <summary>The gradient of Σ f(x)·u with respect to x for a fixed pseudo-random upstream u (the weights' gradient too, for convolutions).</summary>
    private static Tensor Backward(Tensor x, Func<Tensor, Tensor> f)
    {
        using var leaf = x.Clone().RequireGrad();
        using var y = f(leaf);
        using var upstream = Tensor.Normal(y.ShapeArray, 0, 1, new Generator(11), y.DType);
        y.Backward(upstream);
        return leaf.Grad!.Clone();
    }

    private static Tensor RowZero(Tensor x) => x.Rank == 0 ? x.Clone() : x.Narrow(0, 0, Math.Min(1, x.Shape[0]));
    private static Tensor Flip(Tensor x) => x.Rank >= 2 && x.Shape[0] == x.Shape[^1] ? x.Transpose(0, -1) : x.Clone();
    private static Tensor AsMatrix(Tensor x) => x.Rank switch { 0 => x.Reshape(1, 1), 1 => x.Reshape(1, -1), 2 or 3 => x.Reshape(x.ShapeArray), _ => x.Reshape(x.Shape[0], -1) };

    private static Tensor Conv(Tensor x, int kernel, int stride, int padding)
    {
        int channels = x.Rank == 4 ? x.Shape[1] : 1;
        using var w = Tensor.Normal([2, channels, kernel, kernel], 0, 1, new Generator(7), x.DType);
        using var b = Tensor.Normal([2], 0, 1, new Generator(8), x.DType);
        return NativeNet.Ops.Conv2d(x, w, b, stride, padding, floor: true);
    }

    /// <summary>True for the exceptions an op may throw on bad input: argument and state errors that carry a message.</summary>
    /// <remarks>An <see cref="OutOfMemoryException"/> counts as clean too: a valid view may name more elements than the machine holds (stride-0 expansion), and copying it is a legitimate out-of-memory.</remarks>
    public static bool IsCleanRejection(Exception e) =>
        (e is ArgumentException or InvalidOperationException or OutOfMemoryException) && e is not ObjectDisposedException && !string.IsNullOrWhiteSpace(e.Message);

    /// <summary>Runs <paramref name="run"/> on <paramref name="x"/> under <paramref name="backend"/>.</summary>
    public static OpOutcome RunOne(Backend backend, Func<Tensor, Tensor> run, Tensor x)
    {
        using var use = Backend.Use(backend);
        var scope = new TensorScope();
        OpOutcome outcome;
        try
        {
            var y = run(x);
            outcome = new OpOutcome(y.ShapeArray, y.ToArray<double>(), null);
        }
        catch (Exception e)
        {
            outcome = new OpOutcome([], [], e);
        }
        try { scope.Dispose(); }
        catch (Exception e) { throw new InvalidProgramException($"disposing the temporaries after {(outcome.Error is null ? "success" : outcome.Error.GetType().Name + ": " + outcome.Error.Message)} failed: {e}\nop error: {outcome.Error}"); }
        return outcome;
    }

    /// <summary>Runs every op on <paramref name="x"/> under both backends; returns the problems and counts the op runs compared.</summary>
    public static List<OpProblem> Compare(Tensor x, Backend reference, Backend candidate, ref long compared, ref long rejected, Func<string, bool>? include = null)
    {
        var problems = new List<OpProblem>();
        foreach (var (name, run) in Ops)
        {
            if (include is not null && !include(name)) continue;
            if (Trace) Console.Error.WriteLine($"  op {name} on {x.Describe()} strides {ShapeUtil.Format(x.Strides)} offset {x.Offset} storage {x.Storage.Length}");
            var want = RunOne(reference, run, x);
            var got = RunOne(candidate, run, x);
            var p = Check(name, x, want, got, reference.Name, candidate.Name);
            if (p is not null) problems.Add(p);
            else if (want.Error is null) compared++;
            else rejected++;
        }
        return problems;
    }

    /// <summary>Null when the two outcomes agree (see the class summary), else the problem.</summary>
    public static OpProblem? Check(string name, Tensor x, OpOutcome want, OpOutcome got, string refName, string candName)
    {
        if (want.Error is not null && !IsCleanRejection(want.Error)) return new OpProblem(name, $"{refName} threw {want.Error.GetType().Name}: {want.Error.Message}\n{want.Error.StackTrace}");
        if (got.Error is not null && !IsCleanRejection(got.Error)) return new OpProblem(name, $"{candName} threw {got.Error.GetType().Name}: {got.Error.Message}\n{got.Error.StackTrace}");
        if ((want.Error is null) != (got.Error is null))
            return new OpProblem(name, $"{refName} {(want.Error is null ? "accepted" : "rejected: " + want.Error.Message)}, {candName} {(got.Error is null ? "accepted" : "rejected: " + got.Error.Message)}");
        if (want.Error is not null) return null;
        if (!want.Shape.SequenceEqual(got.Shape)) return new OpProblem(name, $"shapes {ShapeUtil.Format(want.Shape)} vs {ShapeUtil.Format(got.Shape)}");
        double rel = x.DType == DType.Float32 ? 2e-4 : 1e-9;
        double scale = Scale(x, name);
        // A sum of terms near the dtype's largest value overflows in some orders and not in others: where the input
        // holds such values, a summing op's non-finite or near-overflow results may legitimately differ by backend.
        double nearOverflow = (x.DType == DType.Float32 ? float.MaxValue : double.MaxValue) / 1e3;
        bool orderSensitive = IsSumming(name) && x.ToArray<double>().Any(v => double.IsFinite(v) && Math.Abs(v) > nearOverflow / Math.Max(1, x.Numel) / 1e3);
        for (int i = 0; i < want.Values.Length; i++)
        {
            double w = want.Values[i], g = got.Values[i];
            if (orderSensitive && (!double.IsFinite(w) || !double.IsFinite(g) || Math.Abs(w) > nearOverflow || Math.Abs(g) > nearOverflow)) continue;
            bool ok = double.IsNaN(w) ? double.IsNaN(g)
                : double.IsInfinity(w) || double.IsInfinity(g) ? w == g
                : w == g || Math.Abs(w - g) <= rel * (Math.Abs(w) + scale) + (x.DType == DType.Float32 ? 1e-6 : 1e-13);
            if (!ok) return new OpProblem(name, $"element {i} of {want.Values.Length}: {refName} {w:R} vs {candName} {g:R} (input {x.Describe()}, strides {ShapeUtil.Format(x.Strides)}, offset {x.Offset})");
        }
        return null;
    }

    /// <summary>True for ops whose result sums several input terms (reductions, products, convolutions, average pooling, softmax).</summary>
    public static bool IsSumming(string name) =>
        new[] { "Sum", "Mean", "Var", "MatMul", "Conv", "AvgPool", "GlobalAvgPool", "Softmax", "LogSoftmax" }.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    /// <summary>The size of the terms summed by the op: the largest finite |x| times the count (squared for products).</summary>
    private static double Scale(Tensor x, string name)
    {
        double max = 0;
        foreach (var v in x.ToArray<double>()) if (double.IsFinite(v)) max = Math.Max(max, Math.Abs(v));
        bool product = name.StartsWith("MatMul", StringComparison.Ordinal) || name.StartsWith("Conv", StringComparison.Ordinal) || name.StartsWith("Var", StringComparison.Ordinal) || name.StartsWith("Pow", StringComparison.Ordinal);
        double terms = Math.Max(1, x.Numel) * (name.StartsWith("Conv", StringComparison.Ordinal) ? 20 : 1);
        return (product ? max * max : max) * terms;
    }
}
