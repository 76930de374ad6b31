using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>
/// Softmax cross-entropy, log-softmax, softmax and the SVM hinge on logits holding ±∞, ±3e38 and NaN, against PyTorch 1.13
/// (tests/NativeNet.Tests/Fixtures/numerics.safetensors, written by tests/PyTorchFixtures/make_numerics_fixtures.py),
/// in Float32 and Float64 on every backend: NaN and ±∞ at the same places, finite values to rounding.
/// </summary>
public class SpecialLogitTests(string backendName) : BackendTest(backendName)
{
    private static readonly FixtureFile s_fixture = new("numerics.safetensors");

    public static IEnumerable<TestCaseData> Cases() =>
        s_fixture.Cases().SelectMany(c => new[] { "f32", "f64" }.Select(dt => new TestCaseData(c, dt).SetName($"{{m}}({c}, {dt})")));

    private Tensor Ref(string key) => s_fixture.Tensors[key];

    private (Tensor X, Tensor Labels) Inputs(string key)
    {
        var x = Ref(key + "/x").To(Dev);
        var labels = Ref(key + "/labels").To(Dev);
        return (x, labels);
    }

    private static (double Atol, double Rtol) Tol(string dt) => dt == "f32" ? (1e-6, 1e-5) : (1e-12, 1e-10);

    [TestCaseSource(nameof(Cases))]
    public void CrossEntropyMatchesPyTorch(string name, string dt)
    {
        string key = $"{name}/{dt}";
        using var scope = new TensorScope();
        var (x, labels) = Inputs(key);
        x.RequireGrad();
        var loss = Ops.SoftmaxCrossEntropy(x, labels);
        var (atol, rtol) = Tol(dt);
        Approx.AreClose(Ref(key + "/ce").ToArray<double>(), loss, atol, rtol); // the scalar is stored as [1]
        loss.Backward();
        Approx.AreClose(Ref(key + "/ce_grad"), x.Grad!, atol, rtol);
        x.Grad!.Dispose();
    }

    [TestCaseSource(nameof(Cases))]
    public void SoftmaxAndLogSoftmaxMatchPyTorch(string name, string dt)
    {
        string key = $"{name}/{dt}";
        using var scope = new TensorScope();
        var (x, _) = Inputs(key);
        var (atol, rtol) = Tol(dt);
        Approx.AreClose(Ref(key + "/log_softmax"), Ops.LogSoftmax(x, 1), atol, rtol);
        Approx.AreClose(Ref(key + "/softmax"), Ops.Softmax(x, 1), atol, rtol);
        // along a strided axis (inner > 1): the column path of the kernels
        var t = x.T.Contiguous();
        Approx.AreClose(Ref(key + "/log_softmax").T.Contiguous(), Ops.LogSoftmax(t, 0), atol, rtol);
    }

    [TestCaseSource(nameof(Cases))]
    public void SvmHingeMatchesPyTorch(string name, string dt)
    {
        string key = $"{name}/{dt}";
        using var scope = new TensorScope();
        var (x, labels) = Inputs(key);
        x.RequireGrad();
        var loss = Ops.SvmLoss(x, labels);
        var (atol, rtol) = Tol(dt);
        Approx.AreClose(Ref(key + "/svm").ToArray<double>(), loss, atol, rtol);
        loss.Backward();
        Approx.AreClose(Ref(key + "/svm_grad"), x.Grad!, atol, rtol);
        x.Grad!.Dispose();
    }

    [Test]
    public void ConvolutionWithZeroInputChannelsIsTheBias()
    {
        using var scope = new TensorScope();
        var x = Tensor.Zeros([2, 0, 4, 5], DType.Float32, Dev);
        var w = Tensor.Zeros([3, 0, 3, 3], DType.Float32, Dev);
        var bias = F32([0.5f, -1f, 2f], 3);
        var y = Ops.Conv2d(x, w, bias, stride: 1, padding: 1);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 2, 3, 4, 5 }));
        var values = y.ToArray();
        var b = bias.ToArray();
        for (int i = 0; i < values.Length; i++) Assert.That(values[i], Is.EqualTo(b[i / 20 % 3]), $"element {i}");
        var noBias = Ops.Conv2d(x, w, null, stride: 1, padding: 1);
        Assert.That(noBias.ToArray(), Is.All.EqualTo(0f));
    }

    [Test]
    public void MaxPoolTwoByTwoWithALeftoverRowAndColumn()
    {
        // 2×2 stride-2 pooling of odd planes with floor: true drops the last row and column; each output is the max of
        // its own window (the Simd 2×2 path once assumed even planes and overran its output).
        using var scope = new TensorScope();
        var x = Randn([3, 4, 7, 9], seed: 5);
        var y = Ops.MaxPool2d(x, 2, floor: true);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 3, 4, 3, 4 }));
        var xs = x.ToArray();
        var ys = y.ToArray();
        for (int plane = 0; plane < 12; plane++)
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
        {
            float best = float.NegativeInfinity;
            for (int r = 0; r < 2; r++)
            for (int s = 0; s < 2; s++)
                best = Math.Max(best, xs[plane * 63 + (2 * i + r) * 9 + 2 * j + s]);
            Assert.That(ys[(plane * 3 + i) * 4 + j], Is.EqualTo(best), $"plane {plane}, output ({i}, {j})");
        }
    }

    [Test]
    public void UpstreamGradientOfAnotherDtypeOrDeviceIsRejected()
    {
        using var scope = new TensorScope();
        var w = Randn([3], seed: 1).RequireGrad();
        var y = w * 3;
        var f64 = Tensor.Ones([3], DType.Float64, Dev);
        Assert.That(Assert.Throws<DTypeMismatchException>(() => y.Backward(f64))!.Message, Does.Contain("Float64").And.Contain("Float32"));
        if (Dev.Kind == DeviceKind.Cpu)
        {
            Assert.That(w.Grad, Is.Null);
            return; // one device only: the device check is exercised on the cuda backend
        }
        var onCpu = Tensor.Ones(3);
        Assert.That(Assert.Throws<ArgumentException>(() => y.Backward(onCpu))!.Message, Does.Contain("cpu"));
        Assert.That(w.Grad, Is.Null);
    }
}
