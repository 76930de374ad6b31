using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NUnit.Framework;

namespace NativeNet.Tests.Core;

/// <summary>
/// The tensor ops on this backend against the Naive reference over random shapes, axes and indices (Float32): outputs,
/// TopK's indices and the gradients of a random upstream gradient. Ties and NaN are the business of the fixture tests.
/// </summary>
public class TensorOpsAgreementTests(string backendName) : BackendTest(backendName)
{
    private const int Trials = 12;

    private sealed record Trial(int[] Shape, int Axis, Random Rng)
    {
        public int[] IndexShape(bool within)
        {
            var shape = Shape.Select(d => within ? 1 + Rng.Next(d) : d).ToArray();
            shape[Axis] = 1 + Rng.Next(Shape[Axis] + 2);
            return shape;
        }

        public int[] Indices(int count, int high) => Enumerable.Range(0, count).Select(_ => Rng.Next(high)).ToArray();
    }

    private static Trial NewTrial(int seed)
    {
        var rng = new Random(seed);
        var shape = Enumerable.Range(0, 1 + rng.Next(4)).Select(_ => 1 + rng.Next(5)).ToArray();
        return new Trial(shape, rng.Next(shape.Length), rng);
    }

    /// <summary>Runs <paramref name="op"/> on this backend and on Naive from the same CPU inputs; compares outputs and gradients of every float input.</summary>
    private void Agree(string what, Func<Tensor[], Tensor[]> op, params Tensor[] cpuInputs)
    {
        (double[][] Outputs, double[][] Grads) RunOn(Device device)
        {
            using var scope = new TensorScope();
            var inputs = cpuInputs.Select(t => t.DType.IsFloat() ? t.To(device).RequireGrad() : t.To(device)).ToArray();
            var outputs = op(inputs);
            var floats = outputs.Where(o => o.DType.IsFloat()).ToArray();
            using var upstream = Tensor.Normal(floats[0].ShapeArray, 0, 1, new Generator(3));
            floats[0].Backward(upstream.To(device));
            return (outputs.Select(o => o.To(Device.Cpu).ToArray<double>()).ToArray(),
                inputs.Where(t => t.DType.IsFloat()).Select(t => t.Grad!.To(Device.Cpu).ToArray<double>()).ToArray());
        }

        var mine = RunOn(Dev);
        (double[][] Outputs, double[][] Grads) reference;
        using (Backend.Use(NaiveBackend.Instance)) reference = RunOn(Device.Cpu);
        for (int i = 0; i < mine.Outputs.Length; i++)
            Assert.That(mine.Outputs[i], Is.EqualTo(reference.Outputs[i]).Within(1e-6), $"{what}: output {i}");
        for (int i = 0; i < mine.Grads.Length; i++)
            Assert.That(mine.Grads[i], Is.EqualTo(reference.Grads[i]).Within(1e-5), $"{what}: gradient of input {i}");
    }

    private static Tensor Normal(int[] shape, int seed) => Tensor.Normal(shape, 0, 1, new Generator(seed));

    [Test]
    public void GatherAndScatterAddAgree()
    {
        for (int s = 0; s < Trials; s++)
        {
            var t = NewTrial(s);
            var indexShape = t.IndexShape(within: true);
            var index = Tensor.FromArray(t.Indices(ShapeUtil.Numel(indexShape), t.Shape[t.Axis]), indexShape);
            string what = $"trial {s}: x {ShapeUtil.Format(t.Shape)}, axis {t.Axis}, index {ShapeUtil.Format(indexShape)}";
            Agree("Gather " + what, x => [Ops.Gather(x[0], t.Axis, x[1])], Normal(t.Shape, s), index);
            Agree("ScatterAdd " + what, x => [Ops.ScatterAdd(x[0], t.Axis, x[1], x[2])], Normal(t.Shape, s), index, Normal(indexShape, s + 100));
        }
    }

    [Test]
    public void IndexSelectCumSumAndTopKAgree()
    {
        for (int s = 0; s < Trials; s++)
        {
            var t = NewTrial(s + 50);
            int n = t.Shape[t.Axis];
            var index = Tensor.FromArray(t.Indices(1 + t.Rng.Next(6), n));
            string what = $"trial {s}: x {ShapeUtil.Format(t.Shape)}, axis {t.Axis}";
            Agree("IndexSelect " + what, x => [Ops.IndexSelect(x[0], t.Axis, x[1])], Normal(t.Shape, s), index);
            Agree("CumSum " + what, x => [Ops.CumSum(x[0], t.Axis)], Normal(t.Shape, s));
            int k = t.Rng.Next(n + 1);
            bool largest = s % 2 == 0;
            Agree($"TopK k={k} largest={largest} " + what, x =>
            {
                var (v, i) = Ops.TopK(x[0], k, t.Axis, largest);
                return [Ops.MulScalar(v, 1), i];
            }, Normal(t.Shape, s));
        }
    }

    [Test]
    public void PadTriangleAndMaskAgree()
    {
        for (int s = 0; s < Trials; s++)
        {
            var t = NewTrial(s + 200);
            int axes = 1 + t.Rng.Next(t.Shape.Length);
            var reflect = Enumerable.Range(0, 2 * axes).Select(i => t.Rng.Next(t.Shape[^(1 + i / 2)])).ToArray();
            var constant = Enumerable.Range(0, 2 * axes).Select(i => t.Rng.Next(-1, 3)).ToArray();
            string what = $"trial {s}: x {ShapeUtil.Format(t.Shape)}, pads [{string.Join(", ", reflect)}] / [{string.Join(", ", constant)}]";
            Agree("Pad(reflect) " + what, x => [Ops.Pad(x[0], reflect, PadMode.Reflect)], Normal(t.Shape, s));
            if (constant.Select((p, i) => (p, i)).GroupBy(q => q.i / 2).All(g => t.Shape[^(1 + g.Key)] + g.Sum(q => Math.Min(0, q.p)) >= 0))
                Agree("Pad(constant) " + what, x => [Ops.Pad(x[0], constant, PadMode.Constant, 0.25)], Normal(t.Shape, s));
            var mask = Tensor.FromArray(t.Indices(t.Shape[^1], 2));
            Agree("MaskedFill " + what, x => [Ops.MaskedFill(x[0], x[1], -1)], Normal(t.Shape, s), mask);
            if (t.Shape.Length >= 2)
            {
                int diagonal = t.Rng.Next(-2, 3);
                Agree($"Tril/Triu({diagonal}) " + what, x => [Ops.Add(Ops.Tril(x[0], diagonal), Ops.MulScalar(Ops.Triu(x[0], diagonal), 3))], Normal(t.Shape, s));
            }
        }
    }
}
