using System.Globalization;
using NativeNet.Probe;

// nativenet-probe adversarial-views SEED CASES: prints one summary line ("adversarial-views cases=... failures=N"),
// then the failures; exit code 0 only when there are none.
if (args.Length != 3 || args[0] != "adversarial-views")
{
    Console.Error.WriteLine("usage: NativeNet.Probe adversarial-views SEED CASES");
    return 2;
}
var report = AdversarialViews.Run(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"adversarial-views cases={report.Cases} view_calls={report.ViewCalls} accepted={report.Accepted} rejected={report.Rejected} too_large_to_run={report.TooLargeToRun} op_runs_compared={report.OpRunsCompared} op_runs_rejected={report.OpRunsRejected} failures={report.Failures.Count}"));
foreach (var f in report.Failures.Take(30)) Console.WriteLine(f);
return report.Failures.Count == 0 ? 0 : 1;
