using FsCheck;
using FsCheck.Fluent;
using NativeNet.Backends;
using NativeNet.Nn;
using NativeNet.Optim;
using NativeNet.Probe;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>
/// Random op chains over random shapes, views and special values, Naive against Simd, with zero disagreement
/// (NaN and ±∞ at the same positions; finite values to rounding): each step runs one op of <see cref="OpBattery"/> on both
/// backends from the same input, the Naive result, so chains reach the inputs ops produce (softmax rows, sums of
/// infinities, empty or broadcast results) and each disagreement is pinned to one op. Plus a soak of small training
/// steps with and without a <see cref="TensorScope"/> that must hold bytes in use flat.
/// </summary>
[NonParallelizable]
public class FuzzTests
{
    /// <summary>Chains per run: 5000 in CI (a few seconds); NATIVENET_FUZZ_CHAINS asks for a deeper local run.</summary>
    private static readonly int Chains = int.TryParse(Environment.GetEnvironmentVariable("NATIVENET_FUZZ_CHAINS"), out int n) && n > 0 ? n : 5000;
    /// <summary>A chain stops once an op's result is larger than this (4× the largest generated input, an expanded [3, 33, 33, 8, 8]).</summary>
    private const int MaxChainElements = 1 << 20;
    private static readonly double[] Specials = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 3e38, -3e38, -0.0, 1e-40, 1e30, 0];

    /// <summary>One generated case: dtype, base shape, a view of it, values, and the op indices of the chain.</summary>
    public sealed record Chain(bool F64, int[] Shape, int View, int Seed, int SpecialEvery, int[] Ops)
    {
        /// <inheritdoc/>
        public override string ToString() =>
            $"{(F64 ? "f64" : "f32")} {ShapeUtil.Format(Shape)} view {View} seed {Seed} specials 1/{SpecialEvery} ops [{string.Join(", ", Ops.Select(o => OpBattery.Ops[o].Name))}]";
    }

    private static Gen<Chain> Chains_() =>
        from f64 in Gen.Elements(false, true)
        from rank in Gen.Choose(0, 4)
        from dims in Gen.Elements(0, 1, 1, 2, 3, 4, 5, 8, 17, 33).ArrayOf(rank)
        from view in Gen.Choose(0, 6)
        from seed in Gen.Choose(0, 1 << 20)
        from specialEvery in Gen.Elements(2, 4, 16, 1000)
        from length in Gen.Choose(2, 6)
        from ops in Gen.Choose(0, OpBattery.Ops.Count - 1).ArrayOf(length)
        select new Chain(f64, dims.Select((d, i) => i < 2 ? d : Math.Min(d, 8)).ToArray(), view, seed, specialEvery, ops);

    /// <summary>The generated view of the base tensor: contiguous, transposed, narrowed, expanded, strided, unsqueezed or a scalar element.</summary>
    private static Tensor MakeView(Tensor x, int kind) => kind switch
    {
        1 when x.Rank >= 2 => x.Transpose(0, -1),
        2 when x.Rank >= 1 && x.Shape[0] >= 2 => x.Narrow(0, 1, x.Shape[0] - 1),
        3 => x.Unsqueeze(0).Expand([3, .. x.ShapeArray]),
        4 when x.Rank >= 1 && x.Shape[^1] >= 2 => x.AsStrided([.. x.ShapeArray[..^1], x.Shape[^1] / 2], [.. x.StridesRef()[..^1], 2], 1),
        5 => x.Unsqueeze(x.Rank),
        6 when x.Numel > 0 => x.AsStrided([2, 2], [0, 0], x.Numel - 1),
        _ => x.Detach(),
    };

    [Test]
    public void RandomOpChainsAgreeBetweenNaiveAndSimd()
    {
        var naive = Backend.FromName("naive");
        var simd = Backend.FromName("simd");
        int cases = 0;
        long steps = 0, rejected = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Chains), Prop.ForAll(Arb.From(Chains_()), chain =>
        {
            cases++;
            using var scope = new TensorScope();
            var rng = new Random(chain.Seed);
            int n = ShapeUtil.Numel(chain.Shape);
            var values = Enumerable.Range(0, n).Select(_ => rng.Next(chain.SpecialEvery) == 0 ? Specials[rng.Next(Specials.Length)] : Math.Round(rng.NextDouble() * 8 - 4, rng.Next(2) == 0 ? 0 : 3)).ToArray();
            var x = MakeView(Tensor.FromArray(values, chain.Shape).To(chain.F64 ? DType.Float64 : DType.Float32), chain.View);
            foreach (int index in chain.Ops)
            {
                var (name, run) = OpBattery.Ops[index];
                var want = OpBattery.RunOne(naive, run, x);
                var got = OpBattery.RunOne(simd, run, x);
                var problem = OpBattery.Check(name, x, want, got, "naive", "simd");
                if (problem is not null) Assert.Fail($"{chain}: step {name} on {x.Describe()} strides {ShapeUtil.Format(x.Strides)}: {problem.Detail}");
                steps++;
                if (want.Error is not null) { rejected++; continue; } // both rejected it cleanly: go on from the same input
                // the next op starts from the reference result, in the input's dtype (ArgMax and comparisons give other kinds)
                x = Tensor.FromArray(want.Values, want.Shape).To(x.DType);
                // A product op can square a chain's size ([3, 8712] → [8712, 8712]) and each Concat doubles it: a rare chain
                // once grew past the machine's memory (the process was OOM-killed at 23 GB). Chains end at a size whose
                // every next op still costs well under a second on the naive backend.
                if (x.Numel > MaxChainElements) break;
            }
            return true;
        }));
        TestContext.Out.WriteLine($"fuzz: {cases} chains, {steps} op steps on both backends ({steps - rejected} compared values, {rejected} rejected by both)");
        Assert.That(cases, Is.EqualTo(Chains));
    }

    private static (long Bytes, long Live) Soak(int steps, bool scoped)
    {
        var g = new Generator(3);
        using var model = new Sequential(new Linear(8, 16, generator: g), new ReLU(), new Linear(16, 4, generator: g));
        using var opt = new Adam(model.NamedParameters(), 1e-3);
        using var x = Tensor.Normal([8, 8], 0, 1, g);
        using var y = Tensor.FromArray(Enumerable.Range(0, 8).Select(i => i % 4).ToArray());
        (long, long) measured = default;
        for (int step = 0; step < steps; step++)
        {
            if (scoped)
            {
                using var scope = new TensorScope();
                var loss = Ops.SoftmaxCrossEntropy(model.Forward(x), y);
                model.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            else
            {
                // no scope: the caller disposes what it holds; the intermediate activations are left to the collector
                using var logits = model.Forward(x);
                using var loss = Ops.SoftmaxCrossEntropy(logits, y);
                model.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            if (step == steps / 4 || step == steps - 1)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                var now = (MemoryStats.BytesInUse, MemoryStats.LiveTensors);
                if (step == steps / 4) measured = now;
                else Assert.That(now, Is.EqualTo(measured), $"{(scoped ? "scoped" : "unscoped")} soak: bytes in use and live tensors after step {steps / 4} vs after step {step}");
            }
        }
        return measured;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void TrainingStepsHoldBytesInUseFlat(bool scoped)
    {
        using (Backend.Use(Backend.FromName("simd"))) Soak(3000, scoped);
    }
}

internal static class StridesExtension
{
    public static int[] StridesRef(this Tensor t) => t.Strides.ToArray();
}
