using System.Text.Json;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Optim;

/// <summary>Optimiser steps against tests/NativeNet.Tests/Fixtures/optimizers.safetensors (torch.optim and numpy CS231n forms).</summary>
public class OptimizerFixtureTests
{
    private static readonly FixtureFile s_fixture = new("optimizers.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    private static Optimizer Create(JsonElement hp, (string, Tensor)[] ps)
    {
        double Get(string key, double fallback) => hp.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        double lr = hp.GetProperty("lr").GetDouble();
        double wd = Get("weight_decay", 0);
        bool decayBiases = !hp.TryGetProperty("decay_biases", out var db) || db.GetBoolean();
        var where = decayBiases ? null : Optimizer.WeightsOnly;
        double b1 = 0.9, b2 = 0.999;
        if (hp.TryGetProperty("betas", out var betas)) (b1, b2) = (betas[0].GetDouble(), betas[1].GetDouble());
        return hp.GetProperty("optimizer").GetString() switch
        {
            "Sgd" => new Sgd(ps, lr, wd, where),
            "Momentum" => new Momentum(ps, lr, Get("momentum", 0.9), hp.TryGetProperty("nesterov", out var n) && n.GetBoolean(), wd, where),
            "Nesterov" => new Nesterov(ps, lr, Get("momentum", 0.9), wd, where),
            "AdaGrad" => new AdaGrad(ps, lr, Get("eps", 1e-10), wd, where),
            "RmsProp" => new RmsProp(ps, lr, Get("alpha", 0.99), Get("eps", 1e-8), wd, where),
            "Adam" => new Adam(ps, lr, b1, b2, Get("eps", 1e-8), wd, where),
            "AdamW" => new AdamW(ps, lr, b1, b2, Get("eps", 1e-8), wd, where),
            var other => throw new InvalidOperationException(other),
        };
    }

    [Test]
    public void EveryOptimiserMatchesTheFixture(
        [ValueSource(nameof(Cases))] string name,
        [Values(DType.Float32, DType.Float64)] DType dtype,
        [Values(true, false)] bool fused)
    {
        var fx = s_fixture.Tensors;
        var meta = s_fixture.Meta;
        int steps = int.Parse(meta["steps"], System.Globalization.CultureInfo.InvariantCulture);
        using var hp = JsonDocument.Parse(meta[name]);
        string[] names = ["w", "b"];
        // Clone: To() of the same dtype is a view, and the step must not write into the shared fixture.
        var ps = names.Select(k => (k, fx[$"{name}/{k}/init"].To(dtype).Clone())).ToArray();
        using var opt = Create(hp.RootElement, ps);
        opt.UseFusedCpuKernels = fused;
        for (int s = 0; s < steps; s++)
        {
            foreach (var (k, p) in ps)
                p.Grad = fx.TryGetValue($"{name}/{k}/grad{s}", out var g) ? g.To(dtype) : null;
            opt.Step();
            foreach (var (k, p) in ps)
            {
                var expected = fx[$"{name}/{k}/after{s}"].ToArray<double>();
                var actual = p.ToArray<double>();
                for (int i = 0; i < expected.Length; i++)
                    Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5 * Math.Abs(expected[i]) + 1e-6),
                        $"{name} {dtype} fused={fused}: {k}[{i}] after step {s + 1}");
            }
        }
        Assert.That(opt.StepCount, Is.EqualTo(steps));
    }
}
