using System.Text.RegularExpressions;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>
/// The adversarial-view probe (tests/NativeNet.Probe, <see cref="NativeNet.Probe.AdversarialViews"/>) in a child process,
/// so that an access violation in a kernel fails this test instead of killing the test run: random huge, negative and
/// overflowing view arguments through every public view API, every accepted view checked against its storage and run
/// through every elementwise, reduce, GEMM, convolution and pooling op on Naive and Simd.
/// </summary>
[NonParallelizable]
public class AdversarialViewTests
{
    private const int Cases = 3000;

    [TestCase(12)]
    public void HostileViewsNeverCrashNorGiveWrongAnswers(int seed)
    {
        var (code, output, error) = ProbeProcess.Run(TimeSpan.FromMinutes(3), "adversarial-views", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), Cases.ToString(System.Globalization.CultureInfo.InvariantCulture));
        TestContext.Out.WriteLine(output.Split('\n')[0]);
        Assert.That(code, Is.EqualTo(0),
            $"the probe exited with {code} (a crash when not 1); rerun with PROBE_TRACE=1 `dotnet NativeNet.Probe.dll adversarial-views {seed} {Cases}` to see the last op\n{output}\n{error}");
        var summary = Regex.Match(output, @"cases=(\d+) .*accepted=(\d+) rejected=(\d+) .*op_runs_compared=(\d+) .*failures=(\d+)");
        Assert.That(summary.Success, $"no summary line in:\n{output}");
        Assert.That(int.Parse(summary.Groups[1].Value), Is.EqualTo(Cases));
        Assert.That(int.Parse(summary.Groups[2].Value), Is.GreaterThan(Cases / 4), "too few views accepted to exercise the ops");
        Assert.That(int.Parse(summary.Groups[3].Value), Is.GreaterThan(Cases / 4), "too few hostile views rejected: the generator lost its teeth");
        Assert.That(int.Parse(summary.Groups[4].Value), Is.GreaterThan(10 * Cases));
        Assert.That(int.Parse(summary.Groups[5].Value), Is.EqualTo(0));
    }
}
