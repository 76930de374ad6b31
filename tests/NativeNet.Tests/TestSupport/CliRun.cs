using NativeNet.Cli;
using NUnit.Framework;

namespace NativeNet.Tests;

/// <summary>Runs the CLI in-process with captured output, for the tests of its commands.</summary>
internal static class CliRun
{
    /// <summary>Runs <c>nativenet args…</c> non-interactively and returns its exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run(args, new CliConsole(output, error, Interactive: false));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The run failed with exactly one "nativenet: …" line on stderr, containing the fragment.</summary>
    public static void AssertOneLineError((int Code, string Out, string Error) result, string expectedFragment)
    {
        Assert.That(result.Code, Is.Not.Zero);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), $"expected one error line, got:\n{result.Error}");
        Assert.That(lines[0], Does.StartWith("nativenet: "));
        Assert.That(lines[0], Does.Contain(expectedFragment));
    }
}
