using System.Globalization;
using NativeNet;
using NativeNet.IO;
using NativeNet.Probe;

// NativeNet.Probe adversarial-views SEED CASES: prints one summary line ("adversarial-views cases=... failures=N"),
//   then the failures; exit code 0 only when there are none.
// NativeNet.Probe save-loop PATH: saves a 32 MB checkpoint to PATH over and over, printing "saving" once the first
//   save is under way, until the process is interrupted (the test sends SIGINT and looks for left-over temporaries).
if (args.Length == 3 && args[0] == "adversarial-views")
{
    var report = AdversarialViews.Run(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"adversarial-views cases={report.Cases} view_calls={report.ViewCalls} accepted={report.Accepted} rejected={report.Rejected} too_large_to_run={report.TooLargeToRun} op_runs_compared={report.OpRunsCompared} op_runs_rejected={report.OpRunsRejected} failures={report.Failures.Count}"));
    foreach (var f in report.Failures.Take(30)) Console.WriteLine(f);
    return report.Failures.Count == 0 ? 0 : 1;
}
if (args.Length == 2 && args[0] == "save-loop")
{
    var tensors = new Dictionary<string, Tensor> { ["w"] = Tensor.Ones(8 << 20) };
    Console.WriteLine("saving");
    Console.Out.Flush();
    while (true) Checkpoint.Save(args[1], tensors);
}
Console.Error.WriteLine("usage: NativeNet.Probe adversarial-views SEED CASES | save-loop PATH");
return 2;
