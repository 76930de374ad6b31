using NativeNet.OnnxIO;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.OnnxInterop;

/// <summary>
/// Models exported by PyTorch 1.13's torch.onnx.export (tests/NativeNet.Tests/Fixtures/onnx, written by
/// tests/PyTorchFixtures/make_onnx_fixtures.py: narrow versions of the zoo's mlp, cnn, resnet and charlstm, a GRU character
/// model and a mix of the other layers) are loaded with Onnx.Load and must reproduce PyTorch's outputs on every backend;
/// a loaded model fine-tunes through its ordinary parameters; unsupported graphs fail at load naming the operator and node.
/// </summary>
public class OnnxImportTests(string backendName) : BackendTest(backendName)
{
    // The references are PyTorch float32 results; this leaves room for float32 rounding in a different summation order.
    private const double Atol = 1e-5, Rtol = 1e-5;

    private static readonly FixtureFile s_expected = new(Path.Combine("onnx", "expected.safetensors"));

    // Reading the cases loads the fixture outside any test's TensorScope, so its tensors live for the whole run.
    public static IEnumerable<string> Cases() => s_expected.Cases();

    private static string FixturePath(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", "onnx", name + ".onnx");

    [Test]
    public void FixtureCoversTheZooModels() => Assert.That(Cases(), Is.SupersetOf(new[] { "mlp", "cnn", "resnet", "charlstm" }));

    [TestCaseSource(nameof(Cases))]
    public void PyTorchExportMatchesPyTorch(string name)
    {
        using var scope = new TensorScope();
        using var model = Onnx.Load(FixturePath(name));
        model.To(Dev).Eval();
        var output = model.Forward(s_expected.Tensors[name + "/input"].To(Dev));
        OnnxErrorReport.Write($"import {name} on {BackendName} PyTorch vs NativeNet", s_expected.Tensors[name + "/output"], output);
        Approx.AreClose(s_expected.Tensors[name + "/output"], output, Atol, Rtol);
    }

    [Test]
    public void LoadedResNetFineTunes()
    {
        using var scope = new TensorScope();
        using var model = Onnx.Load(FixturePath("resnet"));
        model.To(Dev);
        Assert.That(model.Parameters().Count(), Is.GreaterThan(10), "every float initializer is a parameter");
        var x = s_expected.Tensors["resnet/input"].To(Dev);
        var labels = Labels(3, 7);
        using var optimizer = new Sgd(model.Parameters(), 0.05);
        double Loss()
        {
            using var step = new TensorScope();
            return Ops.SoftmaxCrossEntropy(model.Forward(x), labels).Item();
        }
        double before = Loss();
        using (var step = new TensorScope())
        {
            model.ZeroGrad();
            Ops.SoftmaxCrossEntropy(model.Forward(x), labels).Backward();
            Assert.That(model.Parameters().All(p => p.Grad is not null), "every parameter gets a gradient");
            optimizer.Step();
        }
        double after = Loss();
        Assert.That(after, Is.LessThan(before), $"one SGD step on the loaded weights: loss {before} -> {after}");
    }

    [Test]
    public void LoadedCharGruFineTunesItsRecurrentWeights()
    {
        using var scope = new TensorScope();
        using var model = Onnx.Load(FixturePath("chargru"));
        model.To(Dev);
        var x = s_expected.Tensors["chargru/input"].To(Dev);
        var labels = Labels(Enumerable.Range(0, 15).Select(i => i % 11).ToArray());
        var recurrent = model.NamedParameters().First(p => p.Parameter.Rank == 3).Parameter;
        using var before = Raw.Clone(recurrent);
        using var optimizer = new Sgd(model.Parameters(), 0.1);
        model.ZeroGrad();
        Ops.SoftmaxCrossEntropy(model.Forward(x), labels).Backward();
        optimizer.Step();
        using var change = Raw.Sub(recurrent, before);
        Assert.That(change.ToArray<double>().Max(Math.Abs), Is.GreaterThan(0), "the GRU's W/R parameters are updated");
    }

    private static OnnxModelProto Graph(params OnnxNodeProto[] nodes)
    {
        var model = new OnnxModelProto();
        model.OpsetImports.Add(("", 17));
        model.Graph.Inputs.Add(new OnnxValueInfoProto { Name = "x", ElemType = OnnxDataType.Float, HasShape = false });
        model.Graph.Outputs.Add(new OnnxValueInfoProto { Name = "y", ElemType = OnnxDataType.Float, HasShape = false });
        model.Graph.Nodes.AddRange(nodes);
        return model;
    }

    private static OnnxNodeProto Node(string op, string name, string[] inputs, string[] outputs, params OnnxAttributeProto[] attributes)
    {
        var n = new OnnxNodeProto { OpType = op, Name = name };
        n.Inputs.AddRange(inputs);
        n.Outputs.AddRange(outputs);
        n.Attributes.AddRange(attributes);
        return n;
    }

    [Test]
    public void UnsupportedOperatorIsNamedWithItsNode()
    {
        var model = Graph(Node("Relu", "first", ["x"], ["h"]), Node("Einsum", "the_einsum", ["h"], ["y"], OnnxAttributeProto.Of("equation", "i->i")));
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Load(model));
        Assert.That(e!.Message, Does.Contain("'Einsum'").And.Contain("'the_einsum'"));
    }

    [Test]
    public void UnsupportedAttributeIsNamedWithItsNode()
    {
        var model = Graph(Node("Conv", "uneven", ["x", "w"], ["y"], OnnxAttributeProto.Of("pads", 0L, 0L, 1L, 1L)));
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Load(model));
        Assert.That(e!.Message, Does.Contain("pads [0, 0, 1, 1]").And.Contain("'uneven'"));
    }

    [Test]
    public void NewerOpsetIsRejected()
    {
        var model = Graph(Node("Relu", "r", ["x"], ["y"]));
        model.OpsetImports[0] = ("", 18);
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Load(model));
        Assert.That(e!.Message, Does.Contain("opset 18"));
    }

    [Test]
    public void ProtobufRoundTripsAndRejectsGarbage()
    {
        var model = Graph(Node("LeakyRelu", "leaky", ["x"], ["y"], OnnxAttributeProto.Of("alpha", 0.25f)));
        var parsed = OnnxModelProto.Parse(model.ToBytes());
        Assert.That(parsed.Graph.Nodes.Single().Attribute("alpha")!.F, Is.EqualTo(0.25f));
        using var loaded = Onnx.Load(parsed);
        using var scope = new TensorScope();
        Approx.AreClose([-0.5, 3], loaded.Forward(F32([-2f, 3f], 2)));
        Assert.Throws<InvalidDataException>(() => OnnxModelProto.Parse([0x0A, 0x7F, 0x01]));
    }
}
