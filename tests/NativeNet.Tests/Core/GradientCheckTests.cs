using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>
/// A numerical gradient check for every gate and loss (Float64, Naive backend, centred differences with h = 1e-5,
/// CS231n's relative error). Inputs are drawn away from kinks (ReLU at 0, ties in max, |x| at 0, hinge margins at 0).
/// </summary>
public class GradientCheckTests
{
    private const double Threshold = 1e-7;
    private IDisposable? _use;

    [SetUp] public void UseNaive() => _use = Backend.Use(NaiveBackend.Instance);
    [TearDown] public void Restore() => _use?.Dispose();

    private static Tensor Randn(int seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new Generator(seed), DType.Float64);

    /// <summary>Standard normal values pushed at least <paramref name="gap"/> away from zero (kinks at 0).</summary>
    private static Tensor AwayFromZero(int seed, double gap, params int[] shape)
    {
        var values = Randn(seed, shape).ToArray<double>().Select(v => v >= 0 ? v + gap : v - gap).ToArray();
        return Tensor.FromArray(values, shape);
    }

    private static Tensor Positive(int seed, params int[] shape) =>
        Tensor.FromArray(Randn(seed, shape).ToArray<double>().Select(v => 0.5 + Math.Abs(v)).ToArray(), shape);

    private static void Check(string gate, Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(gate, Threshold, f, inputs);

    private static void Check(string gate, double threshold, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var errors = GradCheck.Check(f, inputs);
        TestContext.Out.WriteLine($"gradcheck {gate,-28} worst relative error {errors.Max():E2}  (per input: {string.Join(", ", errors.Select(e => e.ToString("E1")))})");
        Assert.That(errors.Max(), Is.LessThan(threshold), $"{gate}: relative errors {string.Join(", ", errors)}");
    }

    [Test] public void Neg() => Check("Neg", t => Ops.Neg(t[0]), Randn(1, 3, 4));
    [Test] public void Abs() => Check("Abs", t => Ops.Abs(t[0]), AwayFromZero(2, 0.1, 3, 4));
    [Test] public void Exp() => Check("Exp", t => Ops.Exp(t[0]), Randn(3, 3, 4));
    [Test] public void Log() => Check("Log", t => Ops.Log(t[0]), Positive(4, 3, 4));
    [Test] public void Sqrt() => Check("Sqrt", t => Ops.Sqrt(t[0]), Positive(5, 3, 4));
    [Test] public void Reciprocal() => Check("Reciprocal", t => Ops.Reciprocal(t[0]), Positive(6, 3, 4));
    [Test] public void Sigmoid() => Check("Sigmoid", t => Ops.Sigmoid(t[0]), Randn(7, 3, 4));
    [Test] public void Tanh() => Check("Tanh", t => Ops.Tanh(t[0]), Randn(8, 3, 4));
    [Test] public void Relu() => Check("Relu", t => Ops.Relu(t[0]), AwayFromZero(9, 0.1, 3, 4));
    [Test] public void LeakyRelu() => Check("LeakyRelu", t => Ops.LeakyRelu(t[0], 0.1), AwayFromZero(10, 0.1, 3, 4));
    [Test] public void Elu() => Check("Elu", t => Ops.Elu(t[0], 1.3), AwayFromZero(11, 0.1, 3, 4));
    [Test] public void Square() => Check("Square", t => Ops.Square(t[0]), Randn(12, 3, 4));
    [Test] public void PowScalar() => Check("Pow(scalar)", t => Ops.Pow(t[0], 2.5), Positive(13, 3, 4));
    [Test] public void AddScalar() => Check("AddScalar", t => Ops.AddScalar(t[0], 3), Randn(14, 3, 4));
    [Test] public void MulScalar() => Check("MulScalar", t => Ops.MulScalar(t[0], -2), Randn(15, 3, 4));
    [Test] public void Clip() => Check("Clip", t => Ops.Clip(t[0], -0.5, 0.5),
        Tensor.FromArray(Randn(16, 12).ToArray<double>().Select(v => Math.Abs(Math.Abs(v) - 0.5) < 0.05 ? v + 0.2 : v).ToArray(), 3, 4));

    [Test] public void AddBroadcast() => Check("Add (broadcast)", t => Ops.Add(t[0], t[1]), Randn(20, 3, 4), Randn(21, 4));
    [Test] public void SubBroadcast() => Check("Sub (broadcast)", t => Ops.Sub(t[0], t[1]), Randn(22, 3, 1), Randn(23, 1, 4));
    [Test] public void MulBroadcast() => Check("Mul (broadcast)", t => Ops.Mul(t[0], t[1]), Randn(24, 2, 3, 4), Randn(25, 3, 1));
    [Test] public void DivBroadcast() => Check("Div (broadcast)", t => Ops.Div(t[0], t[1]), Randn(26, 3, 4), Positive(27, 4));
    [Test] public void PowTensor() => Check("Pow (tensor)", t => Ops.Pow(t[0], t[1]), Positive(28, 3, 4), Randn(29, 3, 4));
    [Test] public void Maximum() => Check("Maximum", t => Ops.Maximum(t[0], t[1]), Randn(30, 3, 4), Randn(31, 3, 4));
    [Test] public void Minimum() => Check("Minimum", t => Ops.Minimum(t[0], t[1]), Randn(32, 3, 4), Randn(33, 3, 4));
    [Test] public void Where()
    {
        using var cond = Tensor.FromArray(new double[] { 1, 0, 1, 0 }, 4);
        Check("Where", t => Ops.Where(cond, t[0], t[1]), Randn(34, 3, 4), Randn(35, 4));
    }

    [Test] public void Reshape() => Check("Reshape", t => Ops.Reshape(t[0], 4, 3), Randn(40, 3, 4));
    [Test] public void Permute() => Check("Permute", t => Ops.Permute(t[0], 2, 0, 1), Randn(41, 2, 3, 4));
    [Test] public void Narrow() => Check("Narrow", t => Ops.Narrow(t[0], 1, 1, 2), Randn(42, 3, 4));
    [Test] public void Expand() => Check("Expand", t => Ops.Expand(t[0], 2, 3, 4), Randn(43, 3, 1));
    [Test] public void Concat() => Check("Concat", t => Ops.Concat([t[0], t[1]], 1), Randn(44, 2, 3), Randn(45, 2, 2));
    [Test] public void Contiguous() => Check("Contiguous/Clone", t => Ops.Clone(Ops.Contiguous(Ops.Transpose(t[0], 0, 1))), Randn(46, 3, 4));
    [Test]
    public void Cast()
    {
        // Centred differences cannot see through a Float32 round trip (h = 1e-5 is quantised), so the rule is checked
        // directly: the gradient of a cast is the upstream gradient converted back to the input's dtype.
        var x = Randn(47, 3, 4).RequireGrad();
        using var y = Ops.Cast(x, DType.Float32);
        using var upstream = Tensor.Normal([3, 4], 0, 1, new Generator(48));
        y.Backward(upstream);
        Assert.That(x.Grad!.DType, Is.EqualTo(DType.Float64));
        Assert.That(x.Grad.ToArray<double>(), Is.EqualTo(upstream.ToArray<double>()));
        TestContext.Out.WriteLine("gradcheck Cast                         exact (upstream gradient converted back)");
    }

    [Test] public void Sum() => Check("Sum", t => Ops.Sum(t[0], [0, 2]), Randn(50, 2, 3, 4));
    [Test] public void Mean() => Check("Mean", t => Ops.Mean(t[0], [1], keepDims: true), Randn(51, 2, 3, 4));
    [Test] public void Max() => Check("Max", t => Ops.Max(t[0], [1]), Randn(52, 3, 5));
    [Test] public void Min() => Check("Min", t => Ops.Min(t[0]), Randn(53, 3, 5));
    [Test] public void Var() => Check("Var/Std", t => Ops.Std(t[0], [1], unbiased: true), Randn(54, 3, 5));

    [Test] public void MatMul() => Check("MatMul", t => Ops.MatMul(t[0], t[1]), Randn(60, 3, 4), Randn(61, 4, 5));
    [Test] public void MatMulTransposed() => Check("MatMul (transposed)", t => Ops.MatMul(t[0], t[1], true, true), Randn(62, 4, 3), Randn(63, 5, 4));
    [Test] public void MatMulBatched() => Check("MatMul (batched, shared B)", t => Ops.MatMul(t[0], t[1]), Randn(64, 2, 3, 4), Randn(65, 4, 5));
    [Test] public void Affine() => Check("Affine", t => Ops.Affine(t[0], t[1], t[2]), Randn(66, 3, 2, 2), Randn(67, 4, 5), Randn(68, 5));
    [Test] public void Linear() => Check("Linear", t => Ops.Linear(t[0], t[1], t[2]), Randn(69, 3, 4), Randn(70, 5, 4), Randn(71, 5));

    [Test] public void Softmax() => Check("Softmax", t => Ops.Softmax(t[0], 1), Randn(80, 3, 4));
    [Test] public void LogSoftmax() => Check("LogSoftmax", t => Ops.LogSoftmax(t[0], 0), Randn(81, 3, 4));

    [Test] public void Conv2d() => Check("Conv2d (stride 2, pad 1)", t => Ops.Conv2d(t[0], t[1], t[2], 2, 1), Randn(90, 2, 3, 5, 5), Randn(91, 4, 3, 3, 3), Randn(92, 4));
    [Test] public void Conv2dNoBias() => Check("Conv2d (no bias)", t => Ops.Conv2d(t[0], t[1], null), Randn(93, 1, 2, 4, 4), Randn(94, 3, 2, 2, 2));
    [Test] public void MaxPool() => Check("MaxPool2d", t => Ops.MaxPool2d(t[0], 2), Randn(95, 2, 2, 4, 4));
    [Test] public void MaxPoolOverlapping() => Check("MaxPool2d (3x3 stride 2)", t => Ops.MaxPool2d(t[0], 3, 2), Randn(96, 1, 2, 5, 5));
    [Test] public void AvgPool() => Check("AvgPool2d (pad 1)", t => Ops.AvgPool2d(t[0], 3, 2, 1), Randn(97, 2, 2, 5, 5));

    [Test] public void SoftmaxCrossEntropy()
    {
        using var y = Tensor.FromArray(new[] { 0, 3, 1, 3, 2 });
        Check("SoftmaxCrossEntropy", t => Ops.SoftmaxCrossEntropy(t[0], y), Randn(100, 5, 4));
    }

    [Test] public void SvmLoss()
    {
        using var y = Tensor.FromArray(new[] { 0, 3, 1 });
        // margins s_j - s_y + 1 are kept away from 0, where the hinge has a kink
        var scores = Tensor.FromArray(new double[] { 2, 0.3, 1.6, -0.2, 0.1, 0.9, 2.5, 1.7, 1.1, 3, 0.4, 2.2 }, 3, 4);
        Check("SvmLoss", t => Ops.SvmLoss(t[0], y), scores);
        Check("SvmLoss (squared)", t => Ops.SvmLoss(t[0], y, squared: true), scores);
    }

    [Test] public void BinaryCrossEntropy()
    {
        var targets = Tensor.FromArray(new double[] { 0, 1, 1, 0, 0.3, 1 }, 2, 3);
        Check("BCEWithLogits", t => Ops.BinaryCrossEntropyWithLogits(t[0], targets), Randn(110, 2, 3));
        var probabilities = Tensor.FromArray(new double[] { 0.2, 0.7, 0.9, 0.4, 0.5, 0.6 }, 2, 3);
        Check("BCE (probabilities)", t => Ops.BinaryCrossEntropy(t[0], targets), probabilities);
    }

    [Test] public void Mse() => Check("MseLoss", t => Ops.MseLoss(t[0], t[1]), Randn(120, 3, 4), Randn(121, 3, 4));
    [Test] public void Penalties() => Check("L1 + L2 penalty", t => Ops.Add(Ops.L2Penalty(t[0]), Ops.L1Penalty(t[0])), AwayFromZero(122, 0.1, 3, 4));

    [Test]
    public void NumericalGradientMatchesCs231nExample()
    {
        // f(x) = x^2 elementwise with upstream 1 gives 2x
        var x = Tensor.FromArray(new double[] { 1, -2, 3 });
        using var ones = Tensor.Ones([3], DType.Float64);
        using var g = GradCheck.NumericalGradient(() => Ops.Square(x), x, ones);
        Approx.AreClose([2, -4, 6], g, 1e-8, 1e-8);
        Assert.That(GradCheck.RelativeError(Tensor.FromArray(new double[] { 1, 2 }), Tensor.FromArray(new double[] { 1, 2.0000002 })), Is.EqualTo(5e-8).Within(1e-9));
    }

    [Test]
    public void FivePointStencilCutsTheTruncationError()
    {
        // d exp(x)/dx = exp(x). The two-point error is exp(x)·h²/6 (+ O(h⁴)), the five-point one exp(x)·h⁴/30 (+ O(h⁶)):
        // halving h divides them by 4 and 16. h = 1e-2 … 5e-3 keeps the rounding (~1e-16/h relative) far below both.
        var x = Tensor.FromArray(new double[] { -0.7, 0.2, 1.3 });
        using var ones = Tensor.Ones([3], DType.Float64);
        var exact = x.ToArray<double>().Select(Math.Exp).ToArray();
        double WorstRelative(double h, int order)
        {
            using var g = GradCheck.NumericalGradient(() => Ops.Exp(x), x, ones, h, order);
            return g.ToArray<double>().Zip(exact).Max(p => Math.Abs(p.First - p.Second) / p.Second);
        }
        double two = WorstRelative(1e-2, 2), twoHalf = WorstRelative(5e-3, 2);
        double four = WorstRelative(1e-2, 4), fourHalf = WorstRelative(5e-3, 4);
        TestContext.Out.WriteLine($"exp'(x) relative error: two-point {two:E2} → {twoHalf:E2}, five-point {four:E2} → {fourHalf:E2} (h 1e-2 → 5e-3)");
        Assert.That(two, Is.EqualTo(1e-4 / 6).Within(1e-4 / 6 * 0.01), "two-point error h²/6");
        Assert.That(four, Is.EqualTo(1e-8 / 30).Within(1e-8 / 30 * 0.05), "five-point error h⁴/30");
        Assert.That(two / twoHalf, Is.EqualTo(4).Within(0.01), "two-point: O(h²)");
        Assert.That(four / fourHalf, Is.EqualTo(16).Within(0.3), "five-point: O(h⁴)");
        Assert.That(x.ToArray<double>(), Is.EqualTo(new[] { -0.7, 0.2, 1.3 }), "x restored");
        Assert.Throws<ArgumentOutOfRangeException>(() => GradCheck.NumericalGradient(() => Ops.Exp(x), x, ones, 1e-3, order: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradCheck.NumericalGradient(() => Ops.Exp(x), x, ones, 0));
    }
}
