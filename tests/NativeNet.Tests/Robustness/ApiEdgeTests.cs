using NativeNet.Backends;
using NativeNet.Nn;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>Regression tests of issue 12's API edges: no silent narrowing, CopyFrom, state dicts, optimisers and backends.</summary>
public class ApiEdgeTests
{
    [Test]
    public void ToArrayWithoutATypeArgumentRefusesToNarrow()
    {
        using var f64 = Tensor.FromArray(new[] { 1.0 + 1e-12, 2 });
        var e = Assert.Throws<DTypeMismatchException>(() => f64.ToArray());
        Assert.That(e!.Message, Does.Contain("Float64").And.Contain("ToArray<double>()"));
        Assert.That(f64.ToArray<double>(), Is.EqualTo(new[] { 1.0 + 1e-12, 2 }));
        using var labels = Tensor.FromArray(new[] { 3, 4 });
        Assert.That(Assert.Throws<DTypeMismatchException>(() => labels.ToArray())!.Message, Does.Contain("ToArray<int>()"));
        using var f32 = Tensor.FromArray(new float[] { 1, 2 });
        Assert.That(f32.ToArray(), Is.EqualTo(new float[] { 1, 2 }));
    }

    [Test]
    public void CopyFromWritesInPlaceAndChecksEverything()
    {
        using var dst = Tensor.Zeros(2, 3);
        using (var src = Tensor.Arange(6).Reshape(2, 3)) dst.CopyFrom(src);
        Assert.That(dst.ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5 }));
        using (var row = Tensor.FromArray(new float[] { 7, 8, 9 })) dst.CopyFrom(row);
        Assert.That(dst.ToArray(), Is.EqualTo(new float[] { 7, 8, 9, 7, 8, 9 }), "broadcast");
        using (var column = dst.Narrow(1, 1, 1)) column.CopyFrom(new float[] { -1, -2 });
        Assert.That(dst.ToArray(), Is.EqualTo(new float[] { 7, -1, 9, 7, -2, 9 }), "a strided destination");
        using var f64 = Tensor.Zeros([3], DType.Float64);
        f64.CopyFrom(new[] { 0.1, 0.2, 0.3 });
        Assert.That(f64.ToArray<double>(), Is.EqualTo(new[] { 0.1, 0.2, 0.3 }));
        f64.CopyFrom(new float[] { 1, 2, 3 });
        Assert.That(f64.ToArray<double>(), Is.EqualTo(new[] { 1.0, 2, 3 }));

        Assert.That(Assert.Throws<ShapeMismatchException>(() => dst.CopyFrom(new float[5]))!.Message, Does.Contain("CopyFrom").And.Contain("5 values"));
        using (var other = Tensor.Zeros(4)) Assert.Throws<ShapeMismatchException>(() => dst.CopyFrom(other));
        using (var wrongType = Tensor.Zeros([2, 3], DType.Float64)) Assert.That(Assert.Throws<DTypeMismatchException>(() => dst.CopyFrom(wrongType))!.Message, Does.Contain("Float64"));
        using (var one = Tensor.Zeros(1, 3))
        using (var expanded = one.Expand(2, 3))
            Assert.That(Assert.Throws<InvalidOperationException>(() => expanded.CopyFrom(dst))!.Message, Does.Contain("expanded"));
        using var leaf = Tensor.Ones(3).RequireGrad();
        using var y = leaf * 2;
        Assert.That(Assert.Throws<InvalidOperationException>(() => y.CopyFrom(new float[3]))!.Message, Does.Contain("recorded"));
        leaf.CopyFrom(new float[] { 4, 5, 6 });
        Assert.That(leaf.ToArray(), Is.EqualTo(new float[] { 4, 5, 6 }), "a parameter (leaf) can be overwritten");
    }

    private static Sequential Net(int seed) =>
        new(new Linear(3, 4, generator: new Generator(seed)), new BatchNorm1dLike(4), new ReLU(), new Linear(4, 2, generator: new Generator(seed + 1)));

    /// <summary>A module with a buffer, to show buffers travel in the state dict too.</summary>
    private sealed class BatchNorm1dLike : Module
    {
        public BatchNorm1dLike(int n)
        {
            RegisterParameter("scale", Tensor.Ones(n).RequireGrad());
            RegisterBuffer("count", Tensor.Zeros(1));
        }

        public override Tensor Forward(Tensor input) => input * Parameters().First();
    }

    [Test]
    public void LoadStateDictCopiesEveryParameterAndBuffer()
    {
        using var source = Net(1);
        using var target = Net(100);
        source.StateDict()["1.count"].CopyFrom(new float[] { 42 });
        var state = source.StateDict();
        Assert.That(state.Keys, Is.EquivalentTo(new[] { "0.weight", "0.bias", "1.scale", "1.count", "3.weight", "3.bias" }));
        var (missing, unexpected) = target.LoadStateDict(state);
        Assert.That(missing, Is.Empty);
        Assert.That(unexpected, Is.Empty);
        foreach (var (name, t) in target.StateDict())
            Assert.That(t.ToArray(), Is.EqualTo(state[name].ToArray()), name);
        Assert.That(target.StateDict()["0.weight"], Is.Not.SameAs(state["0.weight"]), "copied, not shared");
    }

    [Test]
    public void LoadStateDictNamesMissingUnexpectedAndMisShapedEntries()
    {
        using var source = Net(1);
        using var target = Net(100);
        var before = target.StateDict()["0.weight"].ToArray();
        using var wrong = Tensor.Zeros(5, 3);
        using var extra = Tensor.Zeros(1);
        var state = source.StateDict().Where(kv => kv.Key != "3.bias").ToDictionary();
        state["0.weight"] = wrong;
        state["head.weight"] = extra;
        var e = Assert.Throws<ArgumentException>(() => target.LoadStateDict(state));
        Assert.That(e!.Message, Does.Contain("missing '3.bias'").And.Contain("unexpected 'head.weight'").And.Contain("'0.weight' is Float32[5, 3] in the state but Float32[4, 3]"));
        Assert.That(target.StateDict()["0.weight"].ToArray(), Is.EqualTo(before), "nothing is modified on error");

        state["0.weight"] = source.StateDict()["0.weight"];
        var (missing, unexpected) = target.LoadStateDict(state, strict: false);
        Assert.That(missing, Is.EqualTo(new[] { "3.bias" }));
        Assert.That(unexpected, Is.EqualTo(new[] { "head.weight" }));
        Assert.That(target.StateDict()["0.weight"].ToArray(), Is.EqualTo(source.StateDict()["0.weight"].ToArray()));
        using var f64 = Tensor.Zeros([4, 3], DType.Float64);
        state["0.weight"] = f64;
        Assert.That(Assert.Throws<ArgumentException>(() => target.LoadStateDict(state, strict: false))!.Message, Does.Contain("Float64[4, 3] in the state"));
    }

    [Test]
    public void OptimisersFollowTheNaiveBackendAndSayWhichPathTheyTake()
    {
        using var p = Tensor.Ones(37).RequireGrad();
        using var opt = new Adam([p], 0.1);
        using (Backend.Use(Backend.FromName("naive"))) Assert.That(opt.UsesFusedCpuKernels, Is.False);
        using (Backend.Use(Backend.FromName("simd"))) Assert.That(opt.UsesFusedCpuKernels, Is.True);
        opt.UseFusedCpuKernels = false;
        using (Backend.Use(Backend.FromName("simd"))) Assert.That(opt.UsesFusedCpuKernels, Is.False);

        // the two paths agree: one step of each from the same state
        double[] Step(string backend)
        {
            using var q = Tensor.FromArray(Enumerable.Range(0, 37).Select(i => (float)Math.Sin(i)).ToArray()).RequireGrad();
            q.Grad = Tensor.FromArray(Enumerable.Range(0, 37).Select(i => (float)Math.Cos(i)).ToArray());
            using var o = new Adam([q], 0.1);
            using (Backend.Use(Backend.FromName(backend))) o.Step();
            q.Grad.Dispose();
            return q.ToArray<double>();
        }
        var naive = Step("naive");
        var simd = Step("simd");
        for (int i = 0; i < naive.Length; i++) Assert.That(simd[i], Is.EqualTo(naive[i]).Within(1e-6), $"element {i}");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TheTwoNesterovFormsAgreeAtAConstantRateAndDifferUnderASchedule(bool schedule)
    {
        double[] Run(Func<Tensor, Optimizer> make)
        {
            using var p = Tensor.FromArray(new[] { 1.0, -2.0, 0.5 }).RequireGrad();
            using var opt = make(p);
            for (int step = 0; step < 4; step++)
            {
                if (schedule && step == 2) opt.LearningRate = 0.01;
                p.Grad?.Dispose();
                using (Autodiff.GradMode.Disable()) p.Grad = Ops.MulScalar(p, 2); // the gradient of Σ p²
                opt.Step();
            }
            p.Grad?.Dispose();
            return p.ToArray<double>();
        }
        var cs231n = Run(p => new Nesterov([p], 0.1, momentum: 0.9));
        var pytorch = Run(p => new Momentum([p], 0.1, momentum: 0.9, nesterov: true));
        double gap = cs231n.Zip(pytorch, (a, b) => Math.Abs(a - b)).Max();
        if (schedule) Assert.That(gap, Is.GreaterThan(1e-3), "after the rate changes the CS231n velocity still carries the old rate");
        else Assert.That(gap, Is.LessThan(1e-12), "with a constant rate the two forms are the same update");
    }
}
