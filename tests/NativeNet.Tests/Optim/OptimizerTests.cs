using NativeNet.Backends;
using NativeNet.IO;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Optim;

public class OptimizerTests
{
    private static Tensor P(params float[] v) => Tensor.FromArray(v);

    [Test]
    public void SgdIsOneSubtraction()
    {
        var p = P(1, 2, 3);
        p.Grad = P(10, -10, 0.5f);
        using var opt = new Sgd([p], 0.1);
        opt.Step();
        Assert.That(p.ToArray(), Is.EqualTo(new[] { 0f, 3f, 2.95f }).Within(1e-6));
    }

    [Test]
    public void MomentumFollowsTheCs231nFormByHand()
    {
        // v1 = g1 = 1; x = 1 − 0.1 = 0.9; v2 = 0.9·1 + 2 = 2.9; x = 0.9 − 0.29 = 0.61
        var p = P(1);
        using var opt = new Momentum([p], 0.1, 0.9);
        p.Grad = P(1);
        opt.Step();
        Assert.That(p.ToArray()[0], Is.EqualTo(0.9f).Within(1e-6));
        p.Grad = P(2);
        opt.Step();
        Assert.That(p.ToArray()[0], Is.EqualTo(0.61f).Within(1e-6));
        Assert.That(opt.State(0)[0].ToArray()[0], Is.EqualTo(2.9f).Within(1e-6));
    }

    [Test]
    public void NesterovFollowsTheConceptsFormByHand()
    {
        // v = 0.9·0 − 0.1·1 = −0.1; x += −0.9·0 + 1.9·(−0.1) → 0.81
        // v_old = −0.1; v = −0.09 − 0.1·2 = −0.29; x += 0.09 + 1.9·(−0.29) = 0.09 − 0.551 → 0.349
        var p = P(1);
        using var opt = new Nesterov([p], 0.1, 0.9);
        p.Grad = P(1);
        opt.Step();
        Assert.That(p.ToArray()[0], Is.EqualTo(0.81f).Within(1e-6));
        p.Grad = P(2);
        opt.Step();
        Assert.That(p.ToArray()[0], Is.EqualTo(0.349f).Within(1e-6));
    }

    [Test]
    public void AdaGradRmsPropAndAdamFirstStepsByHand()
    {
        // AdaGrad: s = 4; x = 1 − 0.5·2/(2 + 1e-7)
        var a = P(1);
        a.Grad = P(2);
        using (var opt = new AdaGrad([a], 0.5, eps: 1e-7)) opt.Step();
        Assert.That(a.ToArray()[0], Is.EqualTo(1 - 0.5 * 2 / (2 + 1e-7)).Within(1e-6));
        // RMSProp d = 0.9: s = 0.1·4 = 0.4; x = 1 − 0.01·2/(√0.4 + 1e-8)
        var r = P(1);
        r.Grad = P(2);
        using (var opt = new RmsProp([r], 0.01, 0.9)) opt.Step();
        Assert.That(r.ToArray()[0], Is.EqualTo(1 - 0.01 * 2 / Math.Sqrt(0.4)).Within(1e-6));
        // Adam's first bias-corrected step is lr·sign(g) (up to eps): m̂ = g, v̂ = g².
        var m = P(1, 1);
        m.Grad = P(3, -0.5f);
        using (var opt = new Adam([m], 0.01)) opt.Step();
        Assert.That(m.ToArray(), Is.EqualTo(new[] { 0.99f, 1.01f }).Within(1e-6));
    }

    [Test]
    public void WeightDecaySelectionSkipsBiasesAndAdamWDecaysWithZeroGradient()
    {
        var w = Tensor.Ones([2, 2], DType.Float32);
        var b = P(1, 1);
        w.Grad = Tensor.Zeros(2, 2);
        b.Grad = Tensor.Zeros(2);
        using var opt = new AdamW([("w", w), ("b", b)], learningRate: 0.1, weightDecay: 0.5, decayWhere: Optimizer.WeightsOnly);
        Assert.That(opt.Decays(0) && !opt.Decays(1));
        opt.Step();
        Assert.That(w.ToArray(), Is.All.EqualTo(0.95f).Within(1e-6));
        Assert.That(b.ToArray(), Is.All.EqualTo(1f));
    }

    [Test]
    public void NullGradientsAreSkippedAndZeroGradClears()
    {
        var a = P(1, 2);
        var b = P(3);
        a.Grad = P(1, 1);
        using var opt = new Sgd([a, b], 1);
        opt.Step();
        Assert.That(a.ToArray(), Is.EqualTo(new[] { 0f, 1f }));
        Assert.That(b.ToArray(), Is.EqualTo(new[] { 3f }));
        var g = a.Grad;
        opt.ZeroGrad();
        Assert.That(a.Grad, Is.SameAs(g));
        Assert.That(g.ToArray(), Is.All.EqualTo(0f));
        opt.ZeroGrad(setToNull: true);
        Assert.That(a.Grad, Is.Null);
        Assert.That(g.IsDisposed);
    }

    [Test]
    public void BadInputsGiveClearErrors()
    {
        var p = P(1, 2);
        Assert.Throws<ArgumentException>(() => new Sgd([p, p], 0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(Array.Empty<Tensor>(), 0.1));
        Assert.Throws<DTypeMismatchException>(() => new Sgd([Tensor.FromArray(new[] { 1, 2 })], 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([p], -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([p], beta1: 1));
        using var opt = new Sgd([("weight", p)], 0.1);
        p.Grad = P(1, 2, 3);
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step());
        Assert.That(e!.Message, Does.Contain("weight").And.Contain("[3]").And.Contain("[2]"));
    }

    [Test]
    public void StateDictRoundTripsThroughACheckpointAndContinuesIdentically()
    {
        var g = new Generator(3);
        Tensor Param() => Tensor.Normal([5, 3], 0, 1, g);
        var a = Param();
        var b = a.Clone();
        var grads = Enumerable.Range(0, 4).Select(_ => Param()).ToArray();
        using var first = new Adam([("w", a)], 0.05, weightDecay: 0.1);
        for (int s = 0; s < 2; s++) { a.Grad = grads[s]; first.Step(); }
        string path = Path.Combine(Path.GetTempPath(), $"nn-opt-{Guid.NewGuid():N}.safetensors");
        try
        {
            var state = first.StateDict();
            Assert.That(state.Keys, Is.EquivalentTo(new[] { "step", "lr", "w.step", "w.exp_avg", "w.exp_avg_sq" }));
            Checkpoint.Save(path, state);
            // b replays the first two steps by loading the state after copying a's values.
            Raw.CopyInto(a, b);
            using var second = new Adam([("w", b)], 0.05, weightDecay: 0.1);
            second.LoadStateDict(Checkpoint.Load(path));
            Assert.That(second.StepCount, Is.EqualTo(2));
            for (int s = 2; s < 4; s++)
            {
                a.Grad = grads[s]; first.Step();
                b.Grad = grads[s]; second.Step();
            }
            Assert.That(b.ToArray(), Is.EqualTo(a.ToArray()));
            var bad = first.StateDict();
            bad.Remove("w.exp_avg");
            bad["extra"] = P(1);
            var e = Assert.Throws<ArgumentException>(() => second.LoadStateDict(bad));
            Assert.That(e!.Message, Does.Contain("missing 'w.exp_avg'").And.Contain("unexpected 'extra'"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void StateSurvivesATensorScopeAroundConstructionAndSteps()
    {
        var p = P(1, 2, 3);
        Momentum opt;
        using (new TensorScope())
        {
            opt = new Momentum([p], 0.1) { UseFusedCpuKernels = false };
            p.Grad = P(1, 1, 1);
            opt.Step();
        }
        Assert.That(opt.State(0)[0].IsDisposed, Is.False);
        p.Grad = P(1, 1, 1);
        opt.Step();
        Assert.That(p.ToArray(), Is.EqualTo(new[] { 1 - 0.1f - 0.19f, 2 - 0.1f - 0.19f, 3 - 0.1f - 0.19f }).Within(1e-6));
        opt.Dispose();
    }

    [Test]
    public void FusedAndBackendPathsAgreeOnALargeRaggedTensor()
    {
        var g = new Generator(5);
        var init = Tensor.Normal([1001], 0, 1, g);
        var grads = Enumerable.Range(0, 3).Select(_ => Tensor.Normal([1001], 0, 1, g)).ToArray();
        float[] Run(bool fused)
        {
            var p = init.Clone();
            using var opt = new AdamW([p], 0.01, weightDecay: 0.1) { UseFusedCpuKernels = fused };
            foreach (var gr in grads) { p.Grad = gr; opt.Step(); }
            return p.ToArray();
        }
        Assert.That(Run(true), Is.EqualTo(Run(false)).Within(1e-6));
    }

    [Test]
    public void FusedUpdatesAreBitIdenticalAtEveryThreadCount()
    {
        // 200,003 elements: split over the worker pool at 2 and 3 threads, with a ragged tail in the last piece.
        var g = new Generator(9);
        var init = Tensor.Normal([200_003], 0, 1, g);
        var grads = Enumerable.Range(0, 3).Select(_ => Tensor.Normal([200_003], 0, 1, g)).ToArray();
        Func<Tensor, Optimizer>[] rules =
        [
            p => new AdamW([p], 0.01, weightDecay: 0.1),
            p => new RmsProp([p], 0.01, weightDecay: 0.1),
            p => new Nesterov([p], 0.1, 0.9),
        ];
        int saved = Backends.Simd.SimdBackend.Threads;
        try
        {
            foreach (var rule in rules)
            {
                float[]? single = null;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Backends.Simd.SimdBackend.Threads = threads;
                    var p = init.Clone();
                    using var opt = rule(p);
                    Assume.That(opt.UsesFusedCpuKernels, "the default CPU backend runs the fused kernels");
                    foreach (var gr in grads) { p.Grad = gr; opt.Step(); }
                    var result = p.ToArray();
                    single ??= result;
                    Assert.That(result, Is.EqualTo(single), $"{opt.GetType().Name} at {threads} threads");
                }
            }
        }
        finally { Backends.Simd.SimdBackend.Threads = saved; }
    }

    [Test]
    public void NonContiguousGradientUsesTheBackendPath()
    {
        var p = Tensor.Zeros(2, 3);
        using var gt = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        p.Grad = gt.Transpose(0, 1);
        Assert.That(p.Grad.IsContiguous, Is.False);
        using var opt = new Sgd([p], 1);
        opt.Step();
        Assert.That(p.ToArray(), Is.EqualTo(new[] { -1f, -3f, -5f, -2f, -4f, -6f }));
    }

    [Test]
    public void AdamStepIsAllocationFreeOnMlpSizedParameters()
    {
        int[][] shapes = [[784, 512], [512], [512, 256], [256], [256, 10], [10]];
        var ps = shapes.Select(s => Tensor.Zeros(s, DType.Float32)).ToArray();
        foreach (var p in ps) p.Grad = Tensor.Full(p.ShapeArray, 0.01);
        using var opt = new Adam(ps, 1e-3);
        for (int i = 0; i < 40; i++) opt.Step(); // past tiered-JIT warm-up
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        const int steps = 20;
        for (int i = 0; i < steps; i++) opt.Step();
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Out.WriteLine($"Adam step on 535,818 parameters: {sw.Elapsed.TotalMilliseconds / steps:F2} ms, {allocated / steps} bytes allocated per step");
        // Wall-clock time is only reported: a bound would be flaky on shared CI machines; allocation is deterministic.
        Assert.That(allocated / steps, Is.LessThan(4096), "the fused path must not allocate per element");
    }
}
