using System.Globalization;
using System.Text.Json;
using NativeNet.Autodiff;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// The convolution family beyond the classic Conv2d (dilation, groups, per-axis sizes, "same", Conv1d, ConvTranspose2d,
/// Upsample, MaxUnpool2d)
/// on every backend: gradient checks in Float64, PyTorch 1.13 fixtures in Float32 (tests/NativeNet.Tests/Fixtures/conv.safetensors,
/// written by tests/PyTorchFixtures/make_conv_fixtures.py) and the errors of bad input.
/// </summary>
public class ConvFamilyTests(string backendName) : BackendTest(backendName)
{
    private const double GradThreshold = 1e-7;
    private const double Atol = 1e-5, Rtol = 1e-5;
    private static readonly FixtureFile s_fixture = new("conv.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    private Tensor R64(int seed, params int[] shape) => Randn(shape, seed, DType.Float64);

    /// <summary>
    /// Tape gradients on this backend against centred differences. GradCheck perturbs CPU tensors in place, so on the
    /// GPU the analytic gradients come from the device and the numerical ones from CPU copies of the same inputs.
    /// </summary>
    private void Check(string name, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        double[] errors;
        if (Dev.Kind == DeviceKind.Cpu) errors = GradCheck.Check(f, inputs, seed: 3, h: 1e-5);
        else
        {
            var cpu = inputs.Select(t => t.To(Device.Cpu)).ToArray();
            foreach (var x in inputs) x.RequireGrad().Grad = null;
            var output = f(inputs);
            using var dOut = Tensor.Normal(output.ShapeArray, 0, 1, new Generator(3), DType.Float64);
            output.Backward(dOut.To(Dev));
            errors = new double[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                using var numeric = GradCheck.NumericalGradient(() => f(cpu), cpu[i], dOut, 1e-5);
                errors[i] = GradCheck.RelativeError(inputs[i].Grad!.To(Device.Cpu), numeric);
            }
        }
        TestContext.Out.WriteLine($"GRADCHECK {name} on {BackendName}: worst {errors.Max():E2}");
        Assert.That(errors.Max(), Is.LessThan(GradThreshold), name);
    }

    [Test]
    public void Conv2dDilatedGroupedPerAxisGradients()
    {
        Check("Conv2d dilation (2, 1), groups 2, stride (2, 1), padding (1, 2)",
            t => Ops.Conv2d(t[0], t[1], t[2], (2, 1), (1, 2), (2, 1), groups: 2, floor: true), R64(1, 2, 4, 7, 6), R64(2, 6, 2, 3, 2), R64(3, 6));
        Check("Conv2d depthwise 3x3", t => Ops.Conv2d(t[0], t[1], t[2], 1, 1, groups: 3), R64(4, 2, 3, 5, 5), R64(5, 3, 1, 3, 3), R64(6, 3));
        Check("Conv2d same, kernel (3, 5), dilation (2, 1)", t => Ops.Conv2d(t[0], t[1], null, "same", (2, 1)), R64(7, 1, 2, 6, 7), R64(8, 3, 2, 3, 5));
    }

    [Test]
    public void Conv1dGradients() =>
        Check("Conv1d stride 2, dilation 2, groups 2", t => Ops.Conv1d(t[0], t[1], t[2], stride: 2, padding: 1, dilation: 2, groups: 2, floor: true),
            R64(9, 2, 4, 11), R64(10, 6, 2, 3), R64(11, 6));

    [Test]
    public void ConvTranspose2dGradients()
    {
        Check("ConvTranspose2d stride 2, padding 1, output padding 1",
            t => Ops.ConvTranspose2d(t[0], t[1], t[2], stride: 2, padding: 1, outputPadding: 1), R64(12, 2, 3, 3, 4), R64(13, 3, 2, 3, 3), R64(14, 2));
        Check("ConvTranspose2d groups 2, dilation (1, 2), stride (2, 1)",
            t => Ops.ConvTranspose2d(t[0], t[1], null, (2, 1), (1, 0), (1, 0), (1, 2), groups: 2), R64(15, 1, 4, 3, 4), R64(16, 4, 3, 3, 2));
    }

    [Test]
    public void UpsampleAndUnpoolGradients()
    {
        Check("Upsample nearest to (5, 7)", t => Ops.Upsample(t[0], size: (5, 7)), R64(40, 2, 2, 3, 4));
        Check("Upsample nearest x(1.5, 2)", t => Ops.Upsample(t[0], scaleFactor: (1.5, 2)), R64(41, 1, 2, 4, 3));
        Check("Upsample bilinear x2", t => Ops.Upsample(t[0], scaleFactor: (2, 2), mode: UpsampleMode.Bilinear), R64(42, 2, 2, 3, 4));
        Check("Upsample bilinear align corners to (2, 5)", t => Ops.Upsample(t[0], size: (2, 5), mode: UpsampleMode.Bilinear, alignCorners: true), R64(43, 1, 3, 4, 3));
        // indices of a 2x2 max pool of a 4x4 plane, one per window
        var indices = Tensor.FromArray(new[] { 0, 3, 9, 14, 5, 2, 12, 15 }, 1, 2, 2, 2).To(Dev);
        Check("MaxUnpool2d 2x2", t => Ops.MaxUnpool2d(t[0], indices, 2), R64(44, 1, 2, 2, 2));
    }

    [Test]
    public void MaxUnpoolPutsValuesAtTheirIndices()
    {
        var x = F64([1, 2, 3, 4], 1, 1, 2, 2);
        var y = Ops.MaxUnpool2d(x, Tensor.FromArray(new[] { 0, 3, 9, 14 }, 1, 1, 2, 2).To(Dev), 2);
        var expected = new double[16];
        (expected[0], expected[3], expected[9], expected[14]) = (1, 2, 3, 4);
        Assert.That(y.ToArray<double>(), Is.EqualTo(expected));
    }

    [Test]
    public void ConvTransposeIsTheAdjointOfConv()
    {
        // <conv(x, w), y> = <x, convᵀ(y, w)> with the same geometry: the two gates share the two primitives.
        var x = R64(20, 2, 4, 7, 7); var w = R64(21, 6, 2, 3, 3); var y = R64(22, 2, 6, 4, 4);
        double lhs = Ops.Sum(Ops.Mul(Ops.Conv2d(x, w, null, (2, 2), (1, 1), (1, 1), groups: 2, floor: true), y)).Item();
        var xt = Ops.ConvTranspose2d(y, w, null, (2, 2), (1, 1), (0, 0), (1, 1), groups: 2);
        Assert.That(xt.ShapeArray, Is.EqualTo(new[] { 2, 4, 7, 7 }));
        double rhs = Ops.Sum(Ops.Mul(x, xt)).Item();
        Assert.That(rhs, Is.EqualTo(lhs).Within(1e-9 * Math.Abs(lhs)));
    }

    [Test]
    public void BadInputNamesTheOpAndShapes()
    {
        var x = R64(30, 1, 4, 6, 6);
        var ex = Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(x, R64(31, 6, 3, 3, 3), null, 1, 1, groups: 2))!;
        Assert.That(ex.Message, Does.Contain("Conv2d").And.Contain("[1, 4, 6, 6]").And.Contain("2 groups"));
        ex = Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(x, R64(32, 5, 2, 3, 3), null, 1, 1, groups: 2))!;
        Assert.That(ex.Message, Does.Contain("Conv2d").And.Contain("groups 2 must divide"));
        var arg = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, R64(33, 2, 4, 2, 2), null, "same"))!;
        Assert.That(arg.Message, Does.Contain("Conv2d").And.Contain("'same'").And.Contain("kernel (2, 2)"));
        arg = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, R64(34, 2, 4, 3, 3), null, "full"))!;
        Assert.That(arg.Message, Does.Contain("'same' or 'valid'"));
        arg = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, R64(35, 2, 4, 3, 3), null, 1, 1, dilation: 0))!;
        Assert.That(arg.Message, Does.Contain("Conv2d: dilation"));
        // the CS231n rule holds with dilation: the window is the dilated one, 5 wide here, and (6 - 5) / 2 leaves a column over
        ex = Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(x, R64(36, 2, 4, 3, 3), null, 2, 0, dilation: 2))!;
        Assert.That(ex.Message, Does.Contain("Conv2d: invalid stride 2").And.Contain("window 5"));
        Assert.That(Ops.Conv2d(x, R64(36, 2, 4, 3, 3), null, 2, 0, floor: true, dilation: 2).ShapeArray, Is.EqualTo(new[] { 1, 2, 1, 1 }));
        ex = Assert.Throws<ShapeMismatchException>(() => Ops.Conv1d(x, R64(37, 2, 4, 3), null))!;
        Assert.That(ex.Message, Does.Contain("Conv1d").And.Contain("[1, 4, 6, 6]"));
        arg = Assert.Throws<ArgumentException>(() => Ops.ConvTranspose2d(x, R64(38, 4, 2, 3, 3), null, stride: 2, outputPadding: 2))!;
        Assert.That(arg.Message, Does.Contain("ConvTranspose2d: output padding (2, 2)"));
        ex = Assert.Throws<ShapeMismatchException>(() => Ops.ConvTranspose2d(x, R64(39, 3, 2, 3, 3), null))!;
        Assert.That(ex.Message, Does.Contain("ConvTranspose2d").And.Contain("[1, 4, 6, 6]").And.Contain("[3, 2, 3, 3]"));
        Assert.Throws<ArgumentException>(() => _ = new Conv2d(4, 6, 3, groups: 4));
        arg = Assert.Throws<ArgumentException>(() => Ops.Upsample(x))!;
        Assert.That(arg.Message, Does.Contain("Upsample: give exactly one of size and scale factor"));
        arg = Assert.Throws<ArgumentException>(() => Ops.Upsample(x, scaleFactor: (2, 2), alignCorners: true))!;
        Assert.That(arg.Message, Does.Contain("Upsample: align corners applies to bilinear"));
        ex = Assert.Throws<ShapeMismatchException>(() => Ops.Upsample(R64(40, 4, 6, 6), size: (3, 3)))!;
        Assert.That(ex.Message, Does.Contain("Upsample").And.Contain("[4, 6, 6]"));
        var small = R64(41, 1, 1, 2, 2);
        var oor = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.MaxUnpool2d(small, Tensor.FromArray(new[] { 0, 3, 16, 14 }, 1, 1, 2, 2).To(Dev), 2))!;
        Assert.That(oor.Message, Does.Contain("MaxUnpool2d: index 16 at flat position 2").And.Contain("4x4"));
        ex = Assert.Throws<ShapeMismatchException>(() => Ops.MaxUnpool2d(small, Tensor.FromArray(new[] { 0, 3, 9 }, 1, 1, 3).To(Dev), 2))!;
        Assert.That(ex.Message, Does.Contain("MaxUnpool2d").And.Contain("[1, 1, 2, 2]"));
        Assert.Throws<NotSupportedException>(() => new MaxUnpool2d(2).Forward(small));
    }

    private static (int, int) Pair(JsonElement hp, string key) =>
        hp.GetProperty(key) is { ValueKind: JsonValueKind.Array } a ? (a[0].GetInt32(), a[1].GetInt32()) : (hp.GetProperty(key).GetInt32(), hp.GetProperty(key).GetInt32());

    private static UpsampleMode Mode(JsonElement hp) => hp.GetProperty("mode").GetString() == "bilinear" ? UpsampleMode.Bilinear : UpsampleMode.Nearest;

    private static bool AlignCorners(JsonElement hp) => hp.TryGetProperty("align_corners", out var a) && a.ValueKind == JsonValueKind.True;

    private static Module Build(JsonElement hp)
    {
        int Int(string key) => hp.GetProperty(key).GetInt32();
        return hp.GetProperty("module").GetString() switch
        {
            "Conv2d" when hp.GetProperty("padding").ValueKind == JsonValueKind.String =>
                new Conv2d(Int("in_channels"), Int("out_channels"), Pair(hp, "kernel_size"), hp.GetProperty("padding").GetString()!, Pair(hp, "dilation"), Int("groups")),
            "Conv2d" => new Conv2d(Int("in_channels"), Int("out_channels"), Pair(hp, "kernel_size"), Pair(hp, "stride"), Pair(hp, "padding"), Pair(hp, "dilation"), Int("groups")),
            "Conv1d" when hp.GetProperty("padding").ValueKind == JsonValueKind.String =>
                new Conv1d(Int("in_channels"), Int("out_channels"), Int("kernel_size"), hp.GetProperty("padding").GetString()!, Int("dilation"), Int("groups")),
            "Conv1d" => new Conv1d(Int("in_channels"), Int("out_channels"), Int("kernel_size"), Int("stride"), Int("padding"), Int("dilation"), Int("groups")),
            "ConvTranspose2d" => new ConvTranspose2d(Int("in_channels"), Int("out_channels"), Pair(hp, "kernel_size"), Pair(hp, "stride"), Pair(hp, "padding"),
                Pair(hp, "output_padding"), Int("groups"), bias: true, Pair(hp, "dilation")),
            "Upsample" => hp.TryGetProperty("size", out var size)
                ? new Upsample((size[0].GetInt32(), size[1].GetInt32()), Mode(hp), AlignCorners(hp))
                : new Upsample((hp.GetProperty("scale_factor")[0].GetDouble(), hp.GetProperty("scale_factor")[1].GetDouble()), Mode(hp), AlignCorners(hp)),
            "MaxPoolUnpool" => new Sequential(new MaxPool2d(Int("kernel_size"), Int("stride"))), // followed by the unpool, which takes two inputs
            var other => throw new InvalidOperationException($"unknown fixture module {other}"),
        };
    }

    [TestCaseSource(nameof(Cases))]
    public void LayerMatchesPyTorch(string name)
    {
        using var hp = JsonDocument.Parse(s_fixture.Meta[name]);
        using var scope = new TensorScope();
        Tensor Stored(string key) => s_fixture.Tensors[$"{name}/{key}"];
        using var module = Build(hp.RootElement);
        var mine = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var stored = s_fixture.Tensors.Keys.Where(k => k.StartsWith($"{name}/param/", StringComparison.Ordinal)).Select(k => k[(name.Length + 7)..]).ToArray();
        Assert.That(mine.Keys, Is.EquivalentTo(stored), $"{name}: parameter names are PyTorch's");
        foreach (var (key, p) in mine) Raw.CopyInto(Stored($"param/{key}"), p);
        module.To(Dev);
        var x = Stored("input/x").To(Dev).RequireGrad();
        Tensor y;
        if (hp.RootElement.GetProperty("module").GetString() == "MaxPoolUnpool")
        {
            int k = hp.RootElement.GetProperty("kernel_size").GetInt32(), st = hp.RootElement.GetProperty("stride").GetInt32();
            var (pooled, indices) = ((MaxPool2d)((Sequential)module)[0]).ForwardWithIndices(x);
            Assert.That(indices.ToArray<int>(), Is.EqualTo(Stored("input/indices").ToArray<int>()), $"{name}: the pool's indices are PyTorch's");
            y = new MaxUnpool2d(k, st).Forward(pooled, indices);
        }
        else y = module.Forward(x);
        y.Backward(Stored("upstream/y").To(Dev));
        var actual = new Dictionary<string, Tensor> { ["output/y"] = y, ["grad/x"] = x.Grad! };
        foreach (var (key, p) in module.NamedParameters()) actual[$"grad/{key}"] = p.Grad!;
        var expectedKeys = s_fixture.Tensors.Keys.Where(k => k.StartsWith(name + "/", StringComparison.Ordinal)).Select(k => k[(name.Length + 1)..])
            .Where(k => k.StartsWith("output/", StringComparison.Ordinal) || k.StartsWith("grad/", StringComparison.Ordinal)).ToArray();
        Assert.That(actual.Keys, Is.EquivalentTo(expectedKeys), $"{name}: every reference is compared");
        foreach (var key in expectedKeys)
        {
            var expected = Stored(key);
            Assert.That(actual[key].ShapeArray, Is.EqualTo(expected.ShapeArray), $"{name}: shape of {key}");
            var e = expected.ToArray<double>();
            var a = actual[key].ToArray<double>();
            for (int i = 0; i < e.Length; i++)
                Assert.That(Math.Abs(a[i] - e[i]), Is.LessThanOrEqualTo(Atol + Rtol * Math.Abs(e[i])),
                    $"{name} on {BackendName}: {key}[{i}] expected {e[i].ToString("R", CultureInfo.InvariantCulture)}, got {a[i].ToString("R", CultureInfo.InvariantCulture)}");
        }
    }
}
