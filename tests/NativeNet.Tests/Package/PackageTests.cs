using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace NativeNet.Tests.Package;

/// <summary>
/// The packages as a user gets them: packs NativeNet and the nativenet tool (from the Release build the test run uses)
/// into a local folder in a temporary directory outside the repository, then builds and runs the README's first C#
/// program in a fresh console project that references the package, and installs the tool with
/// <c>dotnet tool install --tool-path</c> and runs <c>nativenet info</c>. Each package gets a version of its own and
/// restores go into a private packages folder (the user's one only as a read-only fallback), so a stale package can
/// never be picked up and nothing is left in the user's cache.
/// </summary>
[TestFixture, Category("Package"), NonParallelizable]
public class PackageTests
{
    private string _root = "", _temp = "", _feed = "", _version = "", _configuration = "";

    [OneTimeSetUp]
    public void PackIntoALocalFolder()
    {
        _root = FindRepository() ?? "";
        if (_root.Length == 0) Assert.Ignore("the package tests need the repository (NativeNet.sln above the test binaries); this is a published test bundle");
        if (!Directory.Exists(FallbackFolder())) Assert.Ignore($"no NuGet packages folder at {FallbackFolder()}: the test project was not restored through NuGet here");
        try
        {
            if (Dotnet(TestContext.CurrentContext.TestDirectory, "--version").Code != 0) Assert.Ignore("'dotnet --version' failed: the package tests need the .NET SDK");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("no 'dotnet' on the PATH: the package tests need the .NET SDK");
        }
        _configuration = TestContext.CurrentContext.TestDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        string baseVersion = Regex.Match(File.ReadAllText(Path.Combine(_root, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;
        _version = $"{baseVersion}-packagetest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        _temp = Directory.CreateTempSubdirectory("nativenet-package").FullName;
        Assert.That(_temp, Does.Not.StartWith(_root), "the consumer project lives outside the repository");
        _feed = Path.Combine(_temp, "feed");
        foreach (var project in new[] { "src/NativeNet/NativeNet.csproj", "src/NativeNet.Cli/NativeNet.Cli.csproj" })
            RunOrFail(_root, "pack", Path.Combine(_root, project), "-c", _configuration, "--no-build", "--nologo", "-o", _feed, $"-p:Version={_version}");
    }

    [OneTimeTearDown]
    public void RemoveTemp()
    {
        if (_temp.Length > 0 && Directory.Exists(_temp)) Directory.Delete(_temp, true);
    }

    [Test]
    public void PackageHoldsDocsReadmeLicenceAndSymbols()
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(_feed, $"NativeNet.{_version}.nupkg"));
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(names, Is.SupersetOf(new[] { "lib/net10.0/NativeNet.dll", "lib/net10.0/NativeNet.xml", "README.md", "LICENSE" }));
        using var symbols = System.IO.Compression.ZipFile.OpenRead(Path.Combine(_feed, $"NativeNet.{_version}.snupkg"));
        Assert.That(symbols.Entries.Select(e => e.FullName), Does.Contain("lib/net10.0/NativeNet.pdb"));
    }

    [Test]
    public void FreshConsoleProjectRunsTheReadmeProgramAgainstThePackage()
    {
        string app = Path.Combine(_temp, "consumer");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="NativeNet" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeProgram(_root));
        // The local folder for NativeNet, the normal source for the rest (found in the user's NuGet cache first).
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(_temp, "packages")}" /></config>
              <packageSources>
                <clear />
                <add key="local" value="{_feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local"><package pattern="NativeNet" /><package pattern="NativeNet.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
              <fallbackPackageFolders><add key="user" value="{FallbackFolder()}" /></fallbackPackageFolders>
            </configuration>
            """);

        var restore = Dotnet(app, "restore", "--nologo");
        IgnoreIfNoSource(restore);
        Assert.That(restore.Code, Is.Zero, restore.Output);
        var run = Dotnet(app, "run", "--no-restore", "-c", "Release");
        Assert.That(run.Code, Is.Zero, run.Output);
        var loss = Regex.Match(run.Output, @"loss (\d+\.\d{4}) \(ln 10 = 2\.3026\)");
        Assert.That(loss.Success, Is.True, run.Output);
        Assert.That(double.Parse(loss.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(1.0, 10.0),
            "the softmax loss of a random two-layer net on 10 classes is near ln 10");
        Assert.That(Directory.Exists(Path.Combine(_temp, "packages", "nativenet", _version)), Is.True, "NativeNet came from the local folder into the private packages folder");
    }

    [Test]
    public void ToolInstallsAndRunsInfo()
    {
        // Outside the consumer's folder: --add-source cannot be combined with the source mapping of its nuget.config.
        string home = Path.Combine(_temp, "tool-home"), tools = Path.Combine(_temp, "tools");
        Directory.CreateDirectory(home);
        var install = Dotnet(home, "tool", "install", "--tool-path", tools, "--add-source", _feed, "--version", _version, "NativeNet.Cli");
        IgnoreIfNoSource(install);
        Assert.That(install.Code, Is.Zero, install.Output);
        var info = Run(_temp, Path.Combine(tools, "nativenet"), "info");
        Assert.That(info.Code, Is.Zero, info.Output);
        Assert.That(info.Output, Does.StartWith("NativeNet ").And.Contain("backends:").And.Contain("simd"));
    }

    /// <summary>The first ```csharp block of README.md: the fifteen-line program the README promises.</summary>
    internal static string ReadmeProgram(string root)
    {
        var match = Regex.Match(File.ReadAllText(Path.Combine(root, "README.md")), "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.That(match.Success, Is.True, "README.md has a ```csharp block");
        return match.Groups[1].Value;
    }

    private static string? FindRepository()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeNet.sln")) && File.Exists(Path.Combine(dir.FullName, "README.md"))) return dir.FullName;
        return null;
    }

    private static string FallbackFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom ? custom
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static void IgnoreIfNoSource((int Code, string Output) result)
    {
        if (result.Code != 0 && Regex.IsMatch(result.Output, @"NU1301|Unable to load the service index|Name or service not known|No such host"))
            Assert.Ignore("no NuGet source reachable for the packages that are not in the local folder or the NuGet cache:\n" + result.Output);
    }

    private (int Code, string Output) Dotnet(string directory, params string[] args) =>
        Run(directory, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet", args);

    private void RunOrFail(string directory, params string[] args)
    {
        var result = Dotnet(directory, args);
        Assert.That(result.Code, Is.Zero, $"dotnet {string.Join(" ", args)}:\n{result.Output}");
    }

    private (int Code, string Output) Run(string directory, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        // The child is a fresh SDK invocation: no MSBuild state of a parent build, no shared packages folder.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k is "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(key);
        if (_temp.Length > 0) start.Environment["NUGET_PACKAGES"] = Path.Combine(_temp, "packages");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(" ", args)} did not finish within 4 minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
