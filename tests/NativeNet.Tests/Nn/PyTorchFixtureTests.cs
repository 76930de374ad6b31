using System.Globalization;
using System.Text.Json;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// Layers against PyTorch 1.13 (tests/NativeNet.Tests/Fixtures/layers.safetensors, written by
/// tests/PyTorchFixtures/make_layer_fixtures.py): the same module with the fixture's parameters (copied by PyTorch's names)
/// runs forward and backward of the fixture's upstream gradient in Float32 on every backend; outputs, gradients of the
/// inputs and of every parameter, and batch norm's running statistics after the step must match.
/// </summary>
public class PyTorchFixtureTests(string backendName) : BackendTest(backendName)
{
    // |actual − expected| ≤ Atol + Rtol·|expected|. The references are float32 PyTorch results that the script checks
    // against float64 PyTorch to 2e-6, so this leaves room for NativeNet's own float32 rounding only.
    private const double Atol = 1e-5, Rtol = 1e-5;

    private static readonly FixtureFile s_fixture = new("layers.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    private static Module Build(JsonElement hp)
    {
        int Int(string key) => hp.GetProperty(key).GetInt32();
        return hp.GetProperty("module").GetString() switch
        {
            "Linear" => new Linear(Int("in_features"), Int("out_features")),
            "Conv2d" => new Conv2d(Int("in_channels"), Int("out_channels"), Int("kernel_size"), Int("stride"), Int("padding")),
            "MaxPool2d" => new MaxPool2d(Int("kernel_size"), Int("stride"), Int("padding")),
            "AvgPool2d" => new AvgPool2d(Int("kernel_size"), Int("stride"), Int("padding")),
            "BatchNorm2d" => new BatchNorm2d(Int("num_features"), hp.GetProperty("eps").GetDouble(), hp.GetProperty("momentum").GetDouble())
                .Train(hp.GetProperty("training").GetBoolean()),
            "LSTM" => new Lstm(Int("input_size"), Int("hidden_size"), Int("num_layers")),
            "GRU" => new Gru(Int("input_size"), Int("hidden_size"), Int("num_layers")),
            var other => throw new InvalidOperationException($"unknown fixture module {other}"),
        };
    }

    /// <summary>Copies the fixture's parameters and buffers into <paramref name="module"/> (on the CPU) by PyTorch's names.</summary>
    private static void CopyState(Module module, string name)
    {
        var parameters = s_fixture.Group(name, "param");
        var mine = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        Assert.That(mine.Keys, Is.EquivalentTo(parameters.Keys), $"{name}: parameter names are PyTorch's");
        foreach (var (key, p) in mine) Raw.CopyInto(parameters[key], p);
        var buffers = s_fixture.Group(name, "buffer");
        var myBuffers = module.NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer);
        foreach (var (key, b) in buffers)
        {
            Assert.That(myBuffers, Contains.Key(key), $"{name}: buffer names are PyTorch's");
            Raw.CopyInto(b, myBuffers[key]);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void LayerMatchesPyTorch(string name)
    {
        var meta = s_fixture.Meta;
        using var hp = JsonDocument.Parse(meta[name]);
        string kind = hp.RootElement.GetProperty("module").GetString()!;
        using var scope = new TensorScope();
        var inputs = s_fixture.Group(name, "input").ToDictionary(kv => kv.Key, kv =>
            kv.Value.DType.IsFloat() ? kv.Value.To(Dev).RequireGrad() : kv.Value.To(Dev));
        var upstream = s_fixture.Group(name, "upstream").ToDictionary(kv => kv.Key, kv => kv.Value.To(Dev));
        var actual = new Dictionary<string, Tensor>();
        var x = inputs["x"];

        using var module = kind == "SoftmaxCrossEntropy" ? null : Build(hp.RootElement);
        if (module is not null)
        {
            CopyState(module, name);
            module.To(Dev);
        }
        switch (module)
        {
            case null:
                var loss = Ops.SoftmaxCrossEntropy(x, inputs["labels"]);
                loss.Backward();
                actual["output/loss"] = Ops.Reshape(loss, 1);
                break;
            case Lstm lstm:
            {
                var (output, (hN, cN)) = lstm.Forward(x, (inputs["h0"], inputs["c0"]));
                (actual["output/output"], actual["output/h_n"], actual["output/c_n"]) = (output, hN, cN);
                // One Backward of the upstream gradients of all three outputs, stacked along the first axis.
                Ops.Concat([output, hN, cN], 0).Backward(Ops.Concat([upstream["output"], upstream["h_n"], upstream["c_n"]], 0));
                break;
            }
            case Gru gru:
            {
                var (output, hN) = gru.Forward(x, inputs["h0"]);
                (actual["output/output"], actual["output/h_n"]) = (output, hN);
                Ops.Concat([output, hN], 0).Backward(Ops.Concat([upstream["output"], upstream["h_n"]], 0));
                break;
            }
            default:
            {
                var y = module.Forward(x);
                actual["output/y"] = y;
                y.Backward(upstream["y"]);
                break;
            }
        }
        foreach (var (key, input) in inputs.Where(kv => kv.Value.RequiresGrad)) actual[$"grad/{key}"] = input.Grad!;
        if (module is not null)
        {
            foreach (var (key, p) in module.NamedParameters()) actual[$"grad/{key}"] = p.Grad!;
            if (module.IsTraining)
                foreach (var (key, b) in module.NamedBuffers().Where(b => b.Buffer.DType.IsFloat())) actual[$"after/{key}"] = b;
        }

        var expectedKeys = s_fixture.Tensors.Keys.Where(k => k.StartsWith(name + "/", StringComparison.Ordinal))
            .Select(k => k[(name.Length + 1)..]).Where(k => k.StartsWith("output/", StringComparison.Ordinal)
                || k.StartsWith("grad/", StringComparison.Ordinal) || k.StartsWith("after/", StringComparison.Ordinal)).ToArray();
        Assert.That(actual.Keys, Is.EquivalentTo(expectedKeys), $"{name}: every reference is compared");

        double worstRelative = 0, worstAbsolute = 0, worstOfTolerance = 0;
        foreach (var key in expectedKeys.Order(StringComparer.Ordinal))
        {
            var expected = s_fixture.Tensors[$"{name}/{key}"];
            var got = actual[key];
            Assert.That(got, Is.Not.Null, $"{name}: {key} was not computed");
            Assert.That(got.ShapeArray, Is.EqualTo(expected.ShapeArray), $"{name}: shape of {key}");
            Assert.That(got.DType, Is.EqualTo(DType.Float32), $"{name}: dtype of {key}");
            var e = expected.ToArray<double>();
            var a = got.ToArray<double>();
            for (int i = 0; i < e.Length; i++)
            {
                double diff = Math.Abs(a[i] - e[i]);
                worstAbsolute = Math.Max(worstAbsolute, diff);
                worstOfTolerance = Math.Max(worstOfTolerance, diff / (Atol + Rtol * Math.Abs(e[i])));
                if (Math.Abs(e[i]) >= 1e-3) worstRelative = Math.Max(worstRelative, diff / Math.Abs(e[i]));
                Assert.That(diff, Is.LessThanOrEqualTo(Atol + Rtol * Math.Abs(e[i])),
                    $"{name} on {BackendName}: {key}[{i}] expected {e[i].ToString("R", CultureInfo.InvariantCulture)}, got {a[i].ToString("R", CultureInfo.InvariantCulture)}");
            }
        }
        TestContext.Out.WriteLine(FormattableString.Invariant(
            $"{name} on {BackendName}: {expectedKeys.Length} tensors, max abs error {worstAbsolute:E2}, max rel error {worstRelative:E2} (|ref| ≥ 1e-3), {worstOfTolerance:P0} of the tolerance"));
    }
}
