using System.Diagnostics;
using NUnit.Framework;

namespace NativeNet.Tests.Robustness;

/// <summary>Starts tests/NativeNet.Probe (copied next to the test assembly) as a child process with the same .NET host.</summary>
internal static class ProbeProcess
{
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        string dir = TestContext.CurrentContext.TestDirectory;
        string dll = Path.Combine(dir, "NativeNet.Probe.dll");
        if (!File.Exists(dll)) Assert.Fail($"the probe {dll} is missing: the test project references tests/NativeNet.Probe, so a build puts it there");
        // Under `dotnet NativeNet.Tests.dll` reuse that host; under the test apphost use `dotnet` from PATH, or the probe's
        // own apphost where the tests were published self-contained (no SDK).
        bool underDotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet";
        string apphost = Path.Combine(dir, "NativeNet.Probe");
        bool selfContained = !underDotnet && File.Exists(Path.Combine(dir, "libcoreclr.so")) && File.Exists(apphost);
        var info = new ProcessStartInfo(selfContained ? apphost : underDotnet ? Environment.ProcessPath! : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (!selfContained)
        {
            info.ArgumentList.Add("exec");
            info.ArgumentList.Add(dll);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }

    /// <summary>Runs the probe to completion (killing it after <paramref name="timeout"/>); returns its exit code and output.</summary>
    public static (int Code, string Out, string Error) Run(TimeSpan timeout, params string[] args)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"the probe '{string.Join(' ', args)}' did not finish within {timeout.TotalSeconds} s (a hang); output so far:\n{stdout.Result}\n{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
