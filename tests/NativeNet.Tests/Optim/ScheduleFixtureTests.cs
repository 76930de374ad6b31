using System.Text.Json;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Optim;

/// <summary>Learning-rate schedules against tests/NativeNet.Tests/Fixtures/schedules.safetensors (torch.optim.lr_scheduler, PyTorch 1.13).</summary>
public class ScheduleFixtureTests
{
    private static readonly FixtureFile s_fixture = new("schedules.safetensors");

    public static IEnumerable<string> Cases() => s_fixture.Cases();

    [Test]
    public void EveryScheduleMatchesPyTorch([ValueSource(nameof(Cases))] string name)
    {
        using var doc = JsonDocument.Parse(s_fixture.Meta[name]);
        var hp = doc.RootElement;
        double Get(string key) => hp.GetProperty(key).GetDouble();
        int GetInt(string key) => hp.GetProperty(key).GetInt32();
        var expected = s_fixture.Tensors[$"{name}/lr"].ToArray<double>();
        double[] actual;
        string scheduler = hp.GetProperty("scheduler").GetString()!;
        if (scheduler == "ReduceLROnPlateau")
        {
            var metric = s_fixture.Tensors[$"{name}/metric"].ToArray<double>();
            var rule = new ReduceLrOnPlateau(hp.GetProperty("mode").GetString() == "max", Get("factor"), GetInt("patience"), Get("threshold"), GetInt("cooldown"), Get("min_lr"));
            double lr = Get("lr");
            actual = new double[expected.Length];
            for (int t = 0; t < expected.Length; t++)
            {
                actual[t] = lr;
                lr = rule.Step(metric[t], lr);
            }
            Assert.That(actual.Distinct().Count(), Is.GreaterThan(2), "the fixture's metric must trigger several reductions");
        }
        else
        {
            LrSchedule schedule = scheduler switch
            {
                "StepLR" => new StepLr(Get("lr"), GetInt("step_size"), Get("gamma")),
                "ExponentialLR" => new ExponentialLr(Get("lr"), Get("gamma")),
                "CosineAnnealingLR" => new CosineLr(Get("lr"), GetInt("T_max"), Get("eta_min")),
                "OneCycleLR" => new OneCycleLr(Get("max_lr"), GetInt("total_steps"), Get("pct_start"), Get("div_factor"), Get("final_div_factor")),
                var other => throw new InvalidOperationException(other),
            };
            actual = Enumerable.Range(0, expected.Length).Select(schedule.LearningRate).ToArray();
        }
        // PyTorch's chainable forms (cosine) accumulate rounding; the closed forms agree to ~1e-15 relative.
        // Past T_max PyTorch's cosine rises again (a wave); CosineLr stays at the minimum by design, so compare up to T_max.
        int compared = scheduler == "CosineAnnealingLR" ? GetInt("T_max") + 1 : expected.Length;
        for (int t = 0; t < compared; t++)
            Assert.That(actual[t], Is.EqualTo(expected[t]).Within(1e-12 + 1e-9 * Math.Abs(expected[t])), $"{name} at t={t}");
    }

    [Test]
    public void OneCycleRejectsStepsPastTheCycleAndBadPhases()
    {
        var cycle = new OneCycleLr(0.1, 10);
        Assert.That(() => cycle.LearningRate(10), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("past the cycle of 10"));
        Assert.That(() => new OneCycleLr(0.1, 10, pctStart: 0.05), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("empty warm-up"));
        Assert.That(() => new OneCycleLr(0.1, 1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void InverseSqrtHalvesWhereOnePlusKtIsFour()
    {
        // No PyTorch counterpart: the defining property lr(t) = lr0 / sqrt(1 + k t), checked at points where the root is exact.
        var schedule = new InverseSqrtLr(0.2, decay: 0.5);
        Assert.That(schedule.LearningRate(0), Is.EqualTo(0.2));
        Assert.That(schedule.LearningRate(6), Is.EqualTo(0.1).Within(1e-15));
        Assert.That(schedule.LearningRate(30), Is.EqualTo(0.05).Within(1e-15));
        var rates = Enumerable.Range(0, 50).Select(schedule.LearningRate).ToArray();
        Assert.That(rates, Is.Ordered.Descending);
        Assert.Throws<ArgumentOutOfRangeException>(() => new InverseSqrtLr(0.1, -1));
    }

    [Test]
    public void PlateauRejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLrOnPlateau(factor: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLrOnPlateau(patience: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLrOnPlateau(minLr: double.NaN));
    }
}
