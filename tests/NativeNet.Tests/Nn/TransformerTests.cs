using NativeNet.Autodiff;
using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Models;
using NativeNet.Nn;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// The pre-norm Transformer block and the character-level Transformer language model on every backend: a Float64
/// gradient check of the block (CPU backends; on a device the gradients must equal the Naive backend's), causality (a
/// later character never changes an earlier logit) and a loss that falls over a few Adam steps on a repetitive text.
/// </summary>
public class TransformerTests(string backendName) : BackendTest(backendName)
{
    [Test]
    public void BlockGradients()
    {
        using var x = Tensor.Normal([2, 5, 8], 0, 1, new Generator(3), DType.Float64);
        TransformerBlock Build()
        {
            var block = new TransformerBlock(8, 2, causal: true, mlpRatio: 2, dtype: DType.Float64, generator: new Generator(4));
            // Non-trivial norms and biases, so every parameter's gradient is exercised.
            using (GradMode.Disable())
                foreach (var (name, p) in block.NamedParameters().Where(p => p.Name.EndsWith("bias", StringComparison.Ordinal) || p.Name.StartsWith("ln_", StringComparison.Ordinal)))
                    Raw.CopyInto(Tensor.Normal(p.ShapeArray, name.EndsWith("weight", StringComparison.Ordinal) ? 1 : 0, 0.3, new Generator(name.Length), DType.Float64), p);
            return block;
        }
        if (Dev.Kind == DeviceKind.Cpu)
        {
            using var block = Build();
            var inProj = block.Attention.InProjWeight;
            var parameters = block.NamedParameters().Where(p => !p.Name.StartsWith("attn.in_proj", StringComparison.Ordinal)).Select(p => p.Parameter);
            var xc = x.Clone();
            // Five-point stencil, h = 1e-3: through two LayerNorms, GELU and the attention the two-point difference's h² error
            // is what stays above 1e-7 for the small elements of mlp_fc.weight (worst 2.0e-5 at h = 1e-3, 2.5e-7 at 1e-4, then
            // rounding: 7.5e-7 at 1e-5), while the five-point one falls as h⁴ (4.9e-7 at 1e-2, 3.9e-9 at 3e-3) to the rounding
            // floor (5e-9 at 1e-3, 6e-8 at 1e-4): truncation, not a wrong gradient.
            var errors = GradCheck.Check(t => block.Forward(t[0]), [xc, .. parameters], seed: 3, h: 1e-3, order: 4);
            TestContext.Out.WriteLine($"GRADCHECK TransformerBlock on {BackendName}: worst {errors.Max():E2} ({string.Join(", ", errors.Select(e => e.ToString("E2")))})");
            Assert.That(errors.Max(), Is.LessThan(1e-7));
            // in_proj: softmax ignores what every key of a row shares, so the key parts' gradients nearly cancel (in_proj_bias's
            // key third exactly, see AttentionBackendTests) and an element-wise relative error measures rounding there; they are
            // checked against the largest gradient element instead.
            using var upstream = Tensor.Normal([2, 5, 8], 0, 1, new Generator(3), DType.Float64);
            inProj.Grad = null;
            block.Forward(xc).Backward(upstream);
            using var numeric = GradCheck.NumericalGradient(() => block.Forward(xc), inProj, upstream, 1e-3, order: 4);
            var a = inProj.Grad!.ToArray<double>();
            var n = numeric.ToArray<double>();
            double worst = a.Zip(n).Max(p => Math.Abs(p.First - p.Second)) / a.Max(Math.Abs);
            TestContext.Out.WriteLine($"GRADCHECK TransformerBlock in_proj_weight on {BackendName}: {worst:E2} of the largest element");
            Assert.That(worst, Is.LessThan(1e-7));
            return;
        }
        double[][] Run(Device device)
        {
            using var block = Build();
            block.To(device);
            var xd = x.To(device).RequireGrad();
            using var w = Tensor.Normal([2, 5, 8], 0, 1, new Generator(9), DType.Float64).To(device);
            Ops.Sum(Ops.Mul(block.Forward(xd), w)).Backward();
            return [xd.Grad!.ToArray<double>(), .. block.Parameters().Select(p => p.Grad!.ToArray<double>())];
        }
        double[][] expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = Run(Device.Cpu);
        var actual = Run(Dev);
        for (int i = 0; i < expected.Length; i++) Approx.AreClose(expected[i], Tensor.FromArray(actual[i]), 1e-12, 1e-10);
    }

    [Test]
    public void CharTransformerIsCausal()
    {
        using var model = new CharTransformer(vocabularySize: 7, context: 8, width: 16, heads: 2, layers: 2, generator: new Generator(5));
        model.To(Dev);
        model.Eval();
        using var noGrad = GradMode.Disable();
        int[] a = [1, 2, 3, 4, 5, 6], b = [1, 2, 3, 0, 0, 0];
        var la = model.Forward(Tensor.FromArray(a, 6, 1).To(Dev)).ToArray<double>();
        var lb = model.Forward(Tensor.FromArray(b, 6, 1).To(Dev)).ToArray<double>();
        // Positions 0…2 see the same prefix: equal logits; position 3 sees a different character.
        Approx.AreClose(la[..(3 * 7)], Tensor.FromArray(lb[..(3 * 7)]), 1e-6, 1e-6);
        Assert.That(la[(3 * 7)..(4 * 7)].Zip(lb[(3 * 7)..(4 * 7)]).Any(p => Math.Abs(p.First - p.Second) > 1e-4));
        Assert.That(model.Forward(Tensor.FromArray(a, 6, 1).To(Dev)).ShapeArray, Is.EqualTo(new[] { 6, 7 }));
        Assert.Throws<ShapeMismatchException>(() => model.Forward(Tensor.Zeros([9, 1], DType.Int32, Dev)));
    }

    [Test]
    public void CharTransformerLossFalls()
    {
        const string text = "the quick brown fox jumps over the lazy dog. ";
        var vocabulary = text.Distinct().Order().ToArray();
        var ids = string.Concat(Enumerable.Repeat(text, 4)).Select(c => Array.IndexOf(vocabulary, c)).ToArray();
        int steps = 24, streams = 4;
        var inputs = new int[steps * streams];
        var targets = new int[steps * streams];
        for (int t = 0; t < steps; t++)
            for (int s = 0; s < streams; s++)
            {
                inputs[t * streams + s] = ids[s * 37 + t];
                targets[t * streams + s] = ids[s * 37 + t + 1];
            }
        using var model = new CharTransformer(vocabulary.Length, context: steps, width: 32, heads: 4, layers: 2, generator: new Generator(6));
        model.To(Dev);
        using var x = Tensor.FromArray(inputs, steps, streams).To(Dev);
        using var y = Tensor.FromArray(targets).To(Dev);
        var optimizer = new Adam(model.Parameters(), learningRate: 3e-3);
        var losses = new List<double>();
        // The emulated device runs every lane as a fiber: fewer steps there.
        bool emulated = Dev.Kind != DeviceKind.Cpu;
        for (int step = 0; step < (emulated ? 6 : 15); step++)
        {
            using var scope = new TensorScope();
            optimizer.ZeroGrad();
            var loss = Ops.SoftmaxCrossEntropy(model.Forward(x), y);
            losses.Add(loss.Item());
            loss.Backward();
            optimizer.Step();
        }
        TestContext.Out.WriteLine($"CharTransformer loss on {BackendName}: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
        Assert.That(losses[^1], Is.LessThan((emulated ? 0.8 : 0.6) * losses[0]), "loss after the steps");
        Assert.That(losses[0], Is.EqualTo(Math.Log(vocabulary.Length)).Within(0.5), "an untrained model is near uniform");
    }
}
