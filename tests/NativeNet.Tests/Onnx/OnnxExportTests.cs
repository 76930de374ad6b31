using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NativeNet.Models;
using NativeNet.Nn;
using NativeNet.OnnxIO;
using NUnit.Framework;

namespace NativeNet.Tests.OnnxInterop;

/// <summary>
/// Every model the zoo and the Nn layers build is exported, run in ONNX Runtime (at the sample's batch and at another batch,
/// the batch axis being symbolic) and compared with NativeNet's own output; the file is loaded back with Onnx.Load too, and
/// python3-onnx's checker must accept it. NativeNet runs on the default CPU backend here; the importer's backend coverage is
/// in OnnxImportTests.
/// </summary>
public class OnnxExportTests
{
    private const double Atol = 1e-5, Rtol = 1e-5;
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = Directory.CreateTempSubdirectory("nativenet-onnx").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    /// <summary>Random running statistics and shifted vector parameters (batch norm's γ and β start at 1 and 0), so eval-mode batch norm is not the identity.</summary>
    private static void RandomiseStatistics(Module model, int seed)
    {
        var g = new Generator(seed);
        foreach (var (name, b) in model.NamedBuffers())
        {
            if (!b.DType.IsFloat()) continue;
            using var r = name.EndsWith("running_var", StringComparison.Ordinal)
                ? Tensor.Uniform(b.ShapeArray, 0.5, 1.5, g) : Tensor.Normal(b.ShapeArray, 0, 0.2, g);
            Raw.CopyInto(r, b);
        }
        foreach (var (name, p) in model.NamedParameters())
            if (p.Rank == 1)
            {
                using var r = Tensor.Normal(p.ShapeArray, 0, 0.3, g);
                using var shifted = Raw.Add(p, r);
                Raw.CopyInto(shifted, p);
            }
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        static Tensor Images(int n, int c, int size, int seed) => Tensor.Normal([n, c, size, size], 0, 1, new Generator(seed));
        static Tensor Chars(int t, int n, int vocab, int seed)
        {
            var g = new Generator(seed);
            using var u = Tensor.Uniform([t * n], 0, vocab, g);
            return Tensor.FromArray(u.ToArray<float>().Select(v => Math.Min((int)v, vocab - 1)).ToArray(), t, n);
        }
        yield return new TestCaseData("mlp", (Func<Module>)(() => ModelZoo.Mlp(new Generator(1))), (Func<int, Tensor>)(n => Images(n, 1, 28, 10 + n)));
        yield return new TestCaseData("cnn", (Func<Module>)(() => ModelZoo.Cnn(new Generator(2))), (Func<int, Tensor>)(n => Images(n, 1, 28, 20 + n)));
        yield return new TestCaseData("resnet", (Func<Module>)(() => ModelZoo.ResNet(new Generator(3))), (Func<int, Tensor>)(n => Images(n, 1, 28, 30 + n)));
        yield return new TestCaseData("charlstm", (Func<Module>)(() => new CharLstm(13, 8, 16, 2, new Generator(4))), (Func<int, Tensor>)(n => Chars(5, n, 13, 40 + n)));
        yield return new TestCaseData("layers", (Func<Module>)(() => new Sequential(
            new Conv2d(3, 4, 3, stride: 2, padding: 1, generator: new Generator(5)), new PReLU(4), new AvgPool2d(3, 2, 1),
            new BatchNorm2d(4), new Conv2d(4, 6, 2, bias: false, generator: new Generator(6)), new LeakyReLU(0.1), new MaxPool2d(3, 1, 1), new ELU(0.5),
            new Flatten(), new Dropout(0.3), new Linear(24, 12, generator: new Generator(7)), new BatchNorm1d(12), new Tanh(),
            new Maxout(12, 6, 3, generator: new Generator(8)), new PReLU(), new Linear(6, 5, bias: false, generator: new Generator(9)), new Sigmoid())),
            (Func<int, Tensor>)(n => Images(n, 3, 9, 50 + n)));
        yield return new TestCaseData("gap_and_linear_on_images", (Func<Module>)(() => new Sequential(
            new Conv2d(2, 3, 1, generator: new Generator(10)), new ReLU(), new Linear(3 * 4 * 4, 4, generator: new Generator(11)))),
            (Func<int, Tensor>)(n => Images(n, 2, 4, 60 + n)));
        yield return new TestCaseData("conv_dilation_groups_per_axis", (Func<Module>)(() => new Sequential(
            new Conv2d(4, 6, (3, 2), (2, 1), (1, 0), (2, 1), groups: 2, generator: new Generator(15)), new ReLU(),
            new Conv2d(6, 6, 3, padding: "same", groups: 6, generator: new Generator(16)))),
            (Func<int, Tensor>)(n => Images(n, 4, 9, 100 + n)));
        yield return new TestCaseData("lstm", (Func<Module>)(() => new Lstm(4, 6, 2, generator: new Generator(12))), (Func<int, Tensor>)(n => Tensor.Normal([5, n, 4], 0, 1, new Generator(70 + n))));
        yield return new TestCaseData("gru", (Func<Module>)(() => new Gru(4, 6, 2, generator: new Generator(13))), (Func<int, Tensor>)(n => Tensor.Normal([5, n, 4], 0, 1, new Generator(80 + n))));
        yield return new TestCaseData("rnn_no_bias", (Func<Module>)(() => new Rnn(4, 6, 1, bias: false, generator: new Generator(14))), (Func<int, Tensor>)(n => Tensor.Normal([3, n, 4], 0, 1, new Generator(90 + n))));
    }

    private static Tensor RunOrt(InferenceSession session, Tensor input)
    {
        var shape = input.ShapeArray;
        NamedOnnxValue value = input.DType == DType.Int32
            ? NamedOnnxValue.CreateFromTensor("input", new DenseTensor<int>(input.ToArray<int>(), shape))
            : NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input.ToArray<float>(), shape));
        using var results = session.Run([value]);
        var output = results.Single(r => r.Name == "output").AsTensor<float>();
        return Tensor.FromArray(output.ToArray(), output.Dimensions.ToArray());
    }

    [TestCaseSource(nameof(Cases))]
    public void ExportRunsInOnnxRuntimeAndMatches(string name, Func<Module> build, Func<int, Tensor> input)
    {
        using var scope = new TensorScope();
        using var model = build();
        RandomiseStatistics(model, 7);
        model.Eval();
        string path = Path.Combine(_dir, name + ".onnx");
        Onnx.Export(model, input(2), path);
        using var session = new InferenceSession(path);
        using var loaded = Onnx.Load(path);
        foreach (int batch in new[] { 2, 3 })
        {
            var x = input(batch);
            var expected = model.Forward(x);
            var ort = RunOrt(session, x);
            var back = loaded.Forward(x);
            OnnxErrorReport.Write($"export {name} batch {batch} NativeNet vs ONNX Runtime", expected, ort);
            OnnxErrorReport.Write($"export {name} batch {batch} NativeNet vs Onnx.Load", expected, back);
            Approx.AreClose(expected, ort, Atol, Rtol);
            Approx.AreClose(expected, back, Atol, Rtol);
        }
    }

    [Test]
    public void ExportKeepsTheTrainingModeAndRejectsUnknownModules()
    {
        using var model = ModelZoo.Mlp(new Generator(0));
        using var x = Tensor.Zeros([1, 1, 28, 28]);
        Onnx.Export(model, x, Path.Combine(_dir, "m.onnx"));
        Assert.That(model.IsTraining, Is.True, "Export switches to eval mode only while it runs");
        using var odd = new Sequential(new Flatten(), new Custom());
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(odd, x, Path.Combine(_dir, "odd.onnx")));
        Assert.That(e!.Message, Does.Contain("'1'").And.Contain("Custom"));
        using var transposed = new Sequential(new ConvTranspose2d(1, 2, 3));
        e = Assert.Throws<NotSupportedException>(() => Onnx.Export(transposed, x, Path.Combine(_dir, "t.onnx")));
        Assert.That(e!.Message, Does.Contain("ConvTranspose2d"));
    }

    private sealed class Custom : Module
    {
        public override Tensor Forward(Tensor input) => Ops.Contiguous(input);
    }

    [Test]
    public void PythonOnnxCheckerAcceptsEveryExport()
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python) || Python("-c \"import onnx\"").Code != 0)
            Assert.Ignore("python3-onnx is not installed (apt-get install python3-onnx): the ONNX checker cannot run");
        var paths = new List<string>();
        foreach (var data in Cases())
        {
            string name = (string)data.Arguments[0]!;
            using var model = ((Func<Module>)data.Arguments[1]!)();
            using var x = ((Func<int, Tensor>)data.Arguments[2]!)(2);
            string path = Path.Combine(_dir, name + ".onnx");
            Onnx.Export(model, x, path);
            paths.Add(path);
        }
        string script = Path.Combine(_dir, "check.py");
        File.WriteAllText(script, "import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n    print('ok', p)\n");
        var (code, output) = Python($"\"{script}\" " + string.Join(" ", paths.Select(p => $"\"{p}\"")));
        Assert.That(code, Is.Zero, output);
        Assert.That(output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)), Is.EqualTo(paths.Count), output);

        static (int Code, string Output) Python(string arguments)
        {
            using var process = Process.Start(new ProcessStartInfo(python, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
    }
}
