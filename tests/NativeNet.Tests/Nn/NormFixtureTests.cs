using System.Globalization;
using System.Text.Json;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// LayerNorm, GroupNorm, the smooth activations and the losses against PyTorch 1.13 (tests/NativeNet.Tests/Fixtures/norms.safetensors,
/// written by tests/PyTorchFixtures/make_norm_fixtures.py): forward and backward of the fixture's upstream gradient in Float32 on every
/// backend; outputs and the gradients of the input and of every parameter must match to 1e-5 + 1e-5·|ref|.
/// </summary>
public class NormFixtureTests(string backendName) : BackendTest(backendName)
{
    private const double Atol = 1e-5, Rtol = 1e-5;

    private static readonly FixtureFile s_fixture = new("norms.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    private static LossReduction Reduction(JsonElement hp) => hp.GetProperty("reduction").GetString() switch
    {
        "mean" => LossReduction.Mean,
        "sum" => LossReduction.Sum,
        "none" => LossReduction.None,
        "batchmean" => LossReduction.BatchMean,
        var other => throw new InvalidOperationException($"unknown reduction {other}"),
    };

    private static Module BuildModule(JsonElement hp)
    {
        double Real(string key, double fallback) => hp.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        bool Flag(string key) => !hp.TryGetProperty(key, out var v) || v.GetBoolean();
        int Int(string key) => hp.GetProperty(key).GetInt32();
        return hp.GetProperty("name").GetString() switch
        {
            "LayerNorm" => new LayerNorm(hp.GetProperty("normalized_shape").EnumerateArray().Select(e => e.GetInt32()).ToArray(), Real("eps", 1e-5), Flag("elementwise_affine")),
            "GroupNorm" => new GroupNorm(Int("num_groups"), Int("num_channels"), Real("eps", 1e-5), Flag("affine")),
            "GELU" => new GELU(hp.GetProperty("approximate").GetString()!),
            "SiLU" => new SiLU(),
            "Softplus" => new Softplus(Real("beta", 1), Real("threshold", 20)),
            var other => throw new InvalidOperationException($"unknown fixture module {other}"),
        };
    }

    /// <summary>The CS231n hinge loss, which has no Nn criterion: Ops.SvmLoss with the fixture's reduction.</summary>
    private sealed class SvmCriterion(LossReduction reduction, double margin, bool squared) : Loss(reduction)
    {
        public override Tensor Forward(Tensor input, Tensor target) => Ops.SvmLoss(input, target, Reduction, margin, squared);
    }

    private Loss BuildLoss(JsonElement hp, Dictionary<string, Tensor> constants)
    {
        var r = Reduction(hp);
        var weight = constants.TryGetValue("weight", out var w) ? w : null;
        double Real(string key, double fallback) => hp.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        return hp.GetProperty("name").GetString() switch
        {
            "NllLoss" => new NLLLoss(weight, reduction: r),
            "CrossEntropy" => new CrossEntropyLoss(weight, reduction: r, labelSmoothing: Real("label_smoothing", 0)),
            "HuberLoss" => new HuberLoss(r, Real("delta", 1)),
            "SmoothL1Loss" => new SmoothL1Loss(r, Real("beta", 1)),
            "KlDivLoss" => new KLDivLoss(r, hp.GetProperty("log_target").GetBoolean()),
            "MseLoss" => new MSELoss(r),
            "L1Loss" => new L1Loss(r),
            "BinaryCrossEntropy" => new BCELoss(r),
            "BinaryCrossEntropyWithLogits" => new BCEWithLogitsLoss(r),
            "SvmLoss" => new SvmCriterion(r, Real("margin", 1), hp.GetProperty("squared").GetBoolean()),
            var other => throw new InvalidOperationException($"unknown fixture loss {other}"),
        };
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        using var hp = JsonDocument.Parse(s_fixture.Meta[name]);
        var root = hp.RootElement;
        using var scope = new TensorScope();
        var x = s_fixture.Group(name, "input")["x"].To(Dev).RequireGrad();
        var constants = s_fixture.Group(name, "const").ToDictionary(kv => kv.Key, kv => kv.Value.To(Dev));
        var actual = new Dictionary<string, Tensor>();
        Module? module = null;
        Tensor y;
        if (root.GetProperty("kind").GetString() == "module")
        {
            module = BuildModule(root);
            var parameters = s_fixture.Group(name, "param");
            var mine = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            Assert.That(mine.Keys, Is.EquivalentTo(parameters.Keys), $"{name}: parameter names are PyTorch's");
            foreach (var (key, p) in mine) Raw.CopyInto(parameters[key], p);
            module.To(Dev);
            y = module.Forward(x);
        }
        else
        {
            var loss = BuildLoss(root, constants);
            y = loss.Forward(x, constants.TryGetValue("labels", out var labels) ? labels : constants["target"]);
        }
        var upstream = s_fixture.Group(name, "upstream");
        if (upstream.TryGetValue("y", out var dy)) y.Backward(dy.To(Dev));
        else
        {
            Assert.That(y.Rank, Is.EqualTo(0), $"{name}: a reduced loss is a scalar");
            y.Backward();
        }
        actual["output/y"] = y.Rank == 0 ? Ops.Reshape(y, 1) : y;
        actual["grad/x"] = x.Grad!;
        if (module is not null)
            foreach (var (key, p) in module.NamedParameters()) actual[$"grad/{key}"] = p.Grad!;

        var expectedKeys = s_fixture.Tensors.Keys.Where(k => k.StartsWith(name + "/", StringComparison.Ordinal))
            .Select(k => k[(name.Length + 1)..]).Where(k => k.StartsWith("output/", StringComparison.Ordinal) || k.StartsWith("grad/", StringComparison.Ordinal)).ToArray();
        Assert.That(actual.Keys, Is.EquivalentTo(expectedKeys), $"{name}: every reference is compared");
        double worstOfTolerance = 0;
        foreach (var key in expectedKeys.Order(StringComparer.Ordinal))
        {
            var expected = s_fixture.Tensors[$"{name}/{key}"];
            var got = actual[key];
            Assert.That(got.ShapeArray, Is.EqualTo(expected.ShapeArray), $"{name}: shape of {key}");
            Assert.That(got.DType, Is.EqualTo(DType.Float32), $"{name}: dtype of {key}");
            var e = expected.ToArray<double>();
            var a = got.ToArray<double>();
            for (int i = 0; i < e.Length; i++)
            {
                double diff = Math.Abs(a[i] - e[i]);
                worstOfTolerance = Math.Max(worstOfTolerance, diff / (Atol + Rtol * Math.Abs(e[i])));
                Assert.That(diff, Is.LessThanOrEqualTo(Atol + Rtol * Math.Abs(e[i])),
                    $"{name} on {BackendName}: {key}[{i}] expected {e[i].ToString("R", CultureInfo.InvariantCulture)}, got {a[i].ToString("R", CultureInfo.InvariantCulture)}");
            }
        }
        TestContext.Out.WriteLine(FormattableString.Invariant($"{name} on {BackendName}: {expectedKeys.Length} tensors, {worstOfTolerance:P0} of the tolerance"));
        module?.Dispose();
    }
}
