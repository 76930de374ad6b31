using System.Text.Json;
using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>
/// The tensor ops (Gather, Scatter, ScatterAdd, IndexSelect, MaskedFill, Stack, Split, Chunk, Pad, Tril, Triu, CumSum,
/// TopK) on every backend: PyTorch 1.13 fixtures in Float32 (tests/PyTorchFixtures/make_tensorop_fixtures.py), gradient
/// checks in Float64 (the backend's tape gradient against centred differences), and bad inputs.
/// </summary>
public class TensorOpsTests(string backendName) : BackendTest(backendName)
{
    private const double Atol = 1e-5, Rtol = 1e-5;
    private static readonly FixtureFile s_fixture = new("tensorops.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    private static Tensor? Find(string key) => s_fixture.Tensors.TryGetValue(key, out var t) ? t : null;

    /// <summary>Runs a fixture case's op on <paramref name="t"/>: the output and, for TopK, the indices.</summary>
    private static (Tensor Y, Tensor? Indices) Run(JsonElement m, Dictionary<string, Tensor> t)
    {
        int Int(string key) => m.GetProperty(key).GetInt32();
        switch (m.GetProperty("op").GetString())
        {
            case "gather": return (Ops.Gather(t["x"], Int("axis"), t["index"]), null);
            case "scatter": return (Ops.Scatter(t["x"], Int("axis"), t["index"], t["src"]), null);
            case "scatter_add": return (Ops.ScatterAdd(t["x"], Int("axis"), t["index"], t["src"]), null);
            case "index_select": return (Ops.IndexSelect(t["x"], Int("axis"), t["index"]), null);
            case "masked_fill": return (Ops.MaskedFill(t["x"], t["mask"], m.GetProperty("value").GetDouble()), null);
            case "pad":
                var pad = m.GetProperty("pad").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                return m.GetProperty("mode").GetString() == "reflect"
                    ? (Ops.Pad(t["x"], pad, PadMode.Reflect), null)
                    : (Ops.Pad(t["x"], pad, PadMode.Constant, m.GetProperty("value").GetDouble()), null);
            case "tril": return (Ops.Tril(t["x"], Int("diagonal")), null);
            case "triu": return (Ops.Triu(t["x"], Int("diagonal")), null);
            case "cumsum": return (Ops.CumSum(t["x"], Int("axis")), null);
            case "topk":
                var (v, i) = Ops.TopK(t["x"], Int("k"), Int("axis"), m.GetProperty("largest").GetBoolean());
                return (v, i);
            default: throw new InvalidOperationException("unknown fixture op");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        using var meta = JsonDocument.Parse(s_fixture.Meta[name]);
        var m = meta.RootElement;
        using var scope = new TensorScope();
        var inputs = s_fixture.Tensors.Where(kv => kv.Key.StartsWith($"{name}/input/", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[(name.Length + 7)..], kv => kv.Value.DType.IsFloat() ? kv.Value.To(Dev).RequireGrad() : kv.Value.To(Dev));
        var (y, indices) = Run(m, inputs);
        var expected = Find($"{name}/output/y")!;
        Approx.AreClose(expected, y.To(Device.Cpu), Atol, Rtol);
        bool ties = m.TryGetProperty("ties", out var tiesValue) && tiesValue.GetBoolean();
        if (indices is not null)
        {
            var got = indices.To(Device.Cpu);
            Assert.That(got.ShapeArray, Is.EqualTo(Find($"{name}/output/indices")!.ShapeArray));
            if (!ties) Assert.That(got.ToArray<int>(), Is.EqualTo(Find($"{name}/output/indices")!.ToArray<int>()), "indices");
            else
            {
                // PyTorch leaves the order of ties unspecified: each index must name a distinct element holding its value.
                using var picked = Ops.Gather(inputs["x"], m.GetProperty("axis").GetInt32(), indices);
                Approx.AreClose(expected, picked.To(Device.Cpu), 0, 0);
                var rows = got.ToArray<int>().Chunk(got.Shape[^1]);
                foreach (var row in rows) Assert.That(row.Distinct().Count(), Is.EqualTo(row.Length), "indices are distinct");
            }
        }
        if (ties) return;
        y.Backward(Find($"{name}/upstream/y")!.To(Dev));
        foreach (var (key, input) in inputs.Where(kv => kv.Value.DType.IsFloat()))
            Approx.AreClose(Find($"{name}/grad/{key}")!, input.Grad!.To(Device.Cpu), Atol, Rtol);
    }

    [Test]
    public void TopKTiesComeInIndexOrderAndNaNRanksHighest()
    {
        float[] values = [1, 3, 3, float.NaN, 1, float.NaN, 0f, -0f];
        using var x = F32(values, values.Length);
        // The documented order, by LINQ's stable sort: NaN above every number, ties by index.
        var positions = Enumerable.Range(0, values.Length).ToArray();
        var largestFirst = positions.OrderBy(i => float.IsNaN(values[i]) ? 0 : 1).ThenByDescending(i => float.IsNaN(values[i]) ? 0 : values[i]).ToArray();
        var smallestFirst = positions.OrderBy(i => float.IsNaN(values[i]) ? 1 : 0).ThenBy(i => float.IsNaN(values[i]) ? 0 : values[i]).ToArray();
        var (v, i) = Ops.TopK(x, values.Length);
        Assert.That(i.ToArray<int>(), Is.EqualTo(largestFirst));
        var (vs, ix) = Ops.TopK(x, values.Length, largest: false);
        Assert.That(ix.ToArray<int>(), Is.EqualTo(smallestFirst));
        Assert.That(vs.ToArray<float>(), Is.EqualTo(smallestFirst.Select(p => values[p]).ToArray()));
        v.Dispose(); i.Dispose(); vs.Dispose(); ix.Dispose();
    }

    [Test]
    public void PlainScatterKeepsTheLastOfRepeatedPositions()
    {
        int[] index = [2, 5, 2, 2, 0, 5];
        float[] src = [1, 2, 3, 4, 5, 6];
        var expected = new float[6];
        for (int p = 0; p < index.Length; p++) expected[index[p]] = src[p];
        using var x = F32(new float[6], 6);
        using var y = Ops.Scatter(x, 0, Labels(index), F32(src, src.Length));
        Assert.That(y.ToArray<float>(), Is.EqualTo(expected));
    }

    [Test]
    public void StackSplitAndChunkFollowPyTorch()
    {
        using var a = F32([1, 2, 3], 3);
        using var b = F32([4, 5, 6], 3);
        using var s = Ops.Stack([a, b], -1);
        Assert.That(s.ShapeArray, Is.EqualTo(new[] { 3, 2 }));
        Assert.That(s.ToArray<float>(), Is.EqualTo(new float[] { 1, 4, 2, 5, 3, 6 }));
        using var x = F32([0, 1, 2, 3, 4, 5, 6], 7);
        Assert.That(Ops.Split(x, 3).Select(p => p.Shape[0]), Is.EqualTo(new[] { 3, 3, 1 }));
        Assert.That(Ops.Chunk(x, 3).Select(p => p.Shape[0]), Is.EqualTo(new[] { 3, 3, 1 }));
        Assert.That(Ops.Chunk(F32([0, 1, 2, 3, 4, 5], 6), 4).Select(p => p.Shape[0]), Is.EqualTo(new[] { 2, 2, 2 }));
        Assert.That(Ops.Split(x, [2, 5])[1].ToArray<float>(), Is.EqualTo(new float[] { 2, 3, 4, 5, 6 }));
    }

    [Test]
    public void EmptyIndicesAndAxesGiveEmptyResults()
    {
        using var x = F32([1, 2, 3, 4, 5, 6], 2, 3);
        using var none = Tensor.FromArray(Array.Empty<int>(), 2, 0).To(Dev);
        Assert.That(Ops.Gather(x, 1, none).ShapeArray, Is.EqualTo(new[] { 2, 0 }));
        Assert.That(Ops.ScatterAdd(x, 1, none, x).ToArray<float>(), Is.EqualTo(x.ToArray<float>()));
        Assert.That(Ops.IndexSelect(x, 0, Tensor.FromArray(Array.Empty<int>()).To(Dev)).ShapeArray, Is.EqualTo(new[] { 0, 3 }));
        var (v, i) = Ops.TopK(x, 0);
        Assert.That(v.ShapeArray, Is.EqualTo(new[] { 2, 0 }));
        Assert.That(i.DType, Is.EqualTo(DType.Int32));
        using var empty = F32([], 0, 3);
        Assert.That(Ops.CumSum(empty, 0).ShapeArray, Is.EqualTo(new[] { 0, 3 }));
        Assert.That(Ops.Tril(empty).ShapeArray, Is.EqualTo(new[] { 0, 3 }));
    }

    // ---- gradient checks in Float64: this backend's tape gradient against centred differences (on the CPU) ----

    private void GradCheckOn(string op, Func<Tensor[], Tensor> f, params Tensor[] cpuInputs)
    {
        var onDevice = cpuInputs.Select(t => t.To(Dev).RequireGrad()).ToArray();
        using var output = f(onDevice);
        using var dOut = Tensor.Normal(output.ShapeArray, 0, 1, new Generator(7), DType.Float64);
        output.Backward(dOut.To(Dev));
        using var naive = Backend.Use(NaiveBackend.Instance);
        for (int i = 0; i < cpuInputs.Length; i++)
        {
            using var numeric = GradCheck.NumericalGradient(() => f(cpuInputs), cpuInputs[i], dOut);
            double error = GradCheck.RelativeError(onDevice[i].Grad!.To(Device.Cpu), numeric);
            Assert.That(error, Is.LessThan(1e-7), $"{op}: input {i} relative error {error:E2}");
        }
    }

    private static Tensor R(int seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new Generator(seed), DType.Float64);
    private Tensor I(int[] values, params int[] shape) => Tensor.FromArray(values, shape).To(Dev);

    [Test] public void GatherGradient() => GradCheckOn("Gather", t => Ops.Gather(t[0], 1, I([0, 2, 2, 1, 3, 0], 2, 3)), R(1, 3, 4));
    [Test] public void ScatterGradient() => GradCheckOn("Scatter", t => Ops.Scatter(t[0], 0, I([2, 0, 1, 1, 3, 0], 2, 3), t[1]), R(2, 4, 3), R(3, 2, 4));
    [Test] public void ScatterAddGradient() => GradCheckOn("ScatterAdd", t => Ops.ScatterAdd(t[0], -1, I([1, 1, 0, 2, 2, 2], 2, 3), t[1]), R(4, 2, 3), R(5, 2, 3));
    [Test] public void IndexSelectGradient() => GradCheckOn("IndexSelect", t => Ops.IndexSelect(t[0], 1, I([2, 0, 2], 3)), R(6, 2, 3, 2));
    [Test] public void MaskedFillGradient() => GradCheckOn("MaskedFill", t => Ops.MaskedFill(t[0], I([0, 1, 1], 3), 9), R(7, 2, 3));
    [Test] public void StackGradient() => GradCheckOn("Stack", t => Ops.Stack([t[0], t[1]], 1), R(8, 2, 3), R(9, 2, 3));
    [Test] public void SplitGradient() => GradCheckOn("Split", t => Ops.Mul(Ops.Split(t[0], 2, 1)[1], Ops.Chunk(t[0], 3, 1)[0]), R(10, 2, 4));
    [Test] public void ReflectPadGradient() => GradCheckOn("Pad(reflect)", t => Ops.Pad(t[0], [2, 1, 1, 2], PadMode.Reflect), R(11, 2, 3, 4));
    [Test] public void ConstantPadGradient() => GradCheckOn("Pad(constant)", t => Ops.Pad(t[0], [1, -1, 0, 2], PadMode.Constant, 3), R(12, 2, 3, 4));
    [Test] public void TrilTriuGradient() => GradCheckOn("Tril/Triu", t => Ops.Add(Ops.Tril(t[0], 1), Ops.Triu(t[0], 2)), R(13, 2, 3, 4));
    [Test] public void CumSumGradient() => GradCheckOn("CumSum", t => Ops.CumSum(t[0], 1), R(14, 2, 5, 3));
    [Test] public void TopKGradient() => GradCheckOn("TopK", t => Ops.TopK(t[0], 2, 0, largest: false).Values, R(15, 4, 3));

    // ---- bad input ----

    [Test]
    public void OutOfRangeIndicesNameTheOpTheIndexAndTheSize()
    {
        using var x = F32(new float[12], 3, 4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Gather(x, 1, Labels(0, 1, 4, 2).Reshape(1, 4)))!;
        Assert.That(e.Message, Does.Contain("Gather").And.Contain("index 4").And.Contain("[0, 2]").And.Contain("size 4"));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.IndexSelect(x, 0, Labels(0, -1)))!;
        Assert.That(e.Message, Does.Contain("IndexSelect").And.Contain("index -1").And.Contain("[1]").And.Contain("size 3"));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.ScatterAdd(x, 0, Labels(3, 0, 0, 0).Reshape(1, 4), x))!;
        Assert.That(e.Message, Does.Contain("ScatterAdd").And.Contain("index 3").And.Contain("size 3"));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Scatter(x, 1, Labels(0, 7).Reshape(1, 2), x))!;
        Assert.That(e.Message, Does.Contain("Scatter").And.Contain("index 7"));
    }

    [Test]
    public void BadShapesAndArgumentsAreRejected()
    {
        using var x = F32(new float[12], 3, 4);
        Assert.That(Assert.Throws<DTypeMismatchException>(() => Ops.Gather(x, 0, x))!.Message, Does.Contain("Gather: index must be Int32"));
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.Gather(x, 0, Labels(0, 1)))!.Message, Does.Contain("same rank"));
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.Gather(x, 0, Labels(0, 0, 0, 0, 0).Reshape(1, 5)))!.Message, Does.Contain("larger than input"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.TopK(x, 5));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.Pad(x, [4, 0], PadMode.Reflect))!.Message, Does.Contain("below its size 4"));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.Pad(x, [1]))!.Message, Does.Contain("pairs"));
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.MaskedFill(x, Labels(1, 0, 1), 0))!.Message, Does.Contain("MaskedFill"));
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.Tril(F32([1, 2], 2)))!.Message, Does.Contain("Tril"));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.Split(x, [1, 1], 0))!.Message, Does.Contain("add up"));
        Assert.That(Assert.Throws<ShapeMismatchException>(() => Ops.Stack([x, F32([1, 2], 2)]))!.Message, Does.Contain("Stack"));
    }
}
