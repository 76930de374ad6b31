// NativeNet build script (Cake 7, run with `dotnet tool restore && dotnet cake --target=<Target>`).
// Targets: Deps, ReferenceDeps, Build, Test (default), Bench, Train, Pack, GpuBundle. See docs/BUILD.md.

using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;

var target = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var testFilter = Argument("test-filter", "");          // passed to the test app as --filter (VSTest syntax, e.g. "TestCategory!=Slow")
var testTimeout = Argument("test-timeout", "80m");     // Microsoft.Testing.Platform --timeout; CI has 90 minutes in all
var benchFilter = Argument("bench-filter", "*");
var benchArgs = Argument("bench-args", "");            // extra raw BenchmarkDotNet arguments, e.g. "--job short"
var trainArgs = Argument("train-args", "");            // extra raw arguments for `nativenet train`

var root = MakeAbsolute(Directory("."));
var solution = root.CombineWithFilePath("NativeNet.sln");
var testProject = root.CombineWithFilePath("tests/NativeNet.Tests/NativeNet.Tests.csproj");
var cliProject = root.CombineWithFilePath("src/NativeNet.Cli/NativeNet.Cli.csproj");
var libProject = root.CombineWithFilePath("src/NativeNet/NativeNet.csproj");
var benchProject = root.CombineWithFilePath("bench/NativeNet.Bench/NativeNet.Bench.csproj");
var artifacts = root.Combine("artifacts");
var testResults = artifacts.Combine("test-results");
var runSettings = root.CombineWithFilePath("tests/nunit.runsettings");

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// Runs a bash command line, streaming its output; returns the exit code.
int Bash(string script, bool throwOnError = true)
{
    var code = StartProcess("bash", new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("-euo").Append("pipefail").Append("-c").AppendQuoted(script),
        WorkingDirectory = root,
    });
    if (throwOnError && code != 0) throw new Exception($"Command failed with exit code {code}: {script}");
    return code;
}

// Runs a bash command line and returns (exit code, stdout) without printing it.
(int Code, string Output) BashCapture(string script)
{
    var code = StartProcess("bash", new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("-c").AppendQuoted(script),
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        WorkingDirectory = root,
    }, out IEnumerable<string> stdout);
    return (code, string.Join("\n", stdout));
}

bool IsRoot() => BashCapture("id -u").Output.Trim() == "0";

bool DebPackageInstalled(string name) =>
    BashCapture($"dpkg-query -W -f='${{Status}}' {name} 2>/dev/null").Output.Contains("install ok installed");

// Ensures Debian's `non-free` component is enabled for the main archive, in the deb822 file
// (/etc/apt/sources.list.d/*.sources, Debian 12 default) or the one-line sources.list format.
// Returns true when a file was changed.
bool EnsureNonFree(string sudo)
{
    var changed = false;
    var files = new List<string>();
    if (System.IO.Directory.Exists("/etc/apt/sources.list.d"))
    {
        files.AddRange(System.IO.Directory.GetFiles("/etc/apt/sources.list.d", "*.sources"));
        files.AddRange(System.IO.Directory.GetFiles("/etc/apt/sources.list.d", "*.list"));
    }
    if (System.IO.File.Exists("/etc/apt/sources.list")) files.Add("/etc/apt/sources.list");

    bool HasNonFree(string components) =>
        components.Split((char[])null, StringSplitOptions.RemoveEmptyEntries).Contains("non-free");
    bool IsDebianArchive(string uris, string suites) =>
        Regex.IsMatch(uris, @"/debian/?(\s|$)") && !suites.Contains("-security") && !suites.Contains("-backports");

    foreach (var file in files)
    {
        var text = System.IO.File.ReadAllText(file);
        string updated;
        if (file.EndsWith(".sources"))
        {
            // deb822: stanzas separated by blank lines; fields "URIs:", "Suites:", "Components:".
            var stanzas = Regex.Split(text, @"\n[ \t]*\n");
            for (var i = 0; i < stanzas.Length; i++)
            {
                var s = stanzas[i];
                var uris = Regex.Match(s, @"^URIs:(.*)$", RegexOptions.Multiline).Groups[1].Value;
                var suites = Regex.Match(s, @"^Suites:(.*)$", RegexOptions.Multiline).Groups[1].Value;
                var enabled = !Regex.IsMatch(s, @"^Enabled:\s*no", RegexOptions.Multiline | RegexOptions.IgnoreCase);
                var comp = Regex.Match(s, @"^Components:(.*)$", RegexOptions.Multiline);
                if (enabled && comp.Success && IsDebianArchive(uris, suites) && !HasNonFree(comp.Groups[1].Value))
                    stanzas[i] = s.Substring(0, comp.Index) + comp.Value.TrimEnd() + " non-free" + s.Substring(comp.Index + comp.Length);
            }
            updated = string.Join("\n\n", stanzas);
        }
        else
        {
            // One-line format: deb [options] URI suite component...
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var m = Regex.Match(lines[i], @"^(\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+))(\s+.*)$");
                if (m.Success && IsDebianArchive(m.Groups[2].Value, m.Groups[3].Value) && !HasNonFree(m.Groups[4].Value))
                    lines[i] = lines[i].TrimEnd() + " non-free";
            }
            updated = string.Join("\n", lines);
        }
        if (updated != text)
        {
            Information($"Deps: enabling Debian non-free in {file}");
            var tmp = System.IO.Path.GetTempFileName();
            System.IO.File.WriteAllText(tmp, updated);
            Bash($"{sudo}cp '{tmp}' '{file}' && rm -f '{tmp}'");
            changed = true;
        }
    }
    return changed;
}

// Installs the Debian packages that are missing; does nothing (and no apt-get update) when all are there.
void EnsureDebPackages(IEnumerable<string> packages, Func<string, bool> isPresent, bool needsNonFree)
{
    var missing = packages.Where(p => !isPresent(p)).ToList();
    if (missing.Count == 0)
    {
        Information($"Deps: already present: {string.Join(", ", packages)}");
        return;
    }
    if (BashCapture("command -v apt-get").Code != 0)
    {
        Warning($"Deps: apt-get not found; install these yourself: {string.Join(" ", missing)}");
        return;
    }
    var sudo = "";
    if (!IsRoot())
    {
        if (BashCapture("command -v sudo").Code != 0)
            throw new Exception($"Deps: not root and no sudo; install as root: {string.Join(" ", missing)}");
        sudo = "sudo -n ";
    }
    if (needsNonFree) EnsureNonFree(sudo);
    Information($"Deps: installing {string.Join(" ", missing)}");
    var apt = $"{sudo}env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300";
    Bash($"{apt} update < /dev/null");
    Bash($"{apt} install --no-install-recommends {string.Join(" ", missing)} < /dev/null");
}

// Reads NUnit's own result file: (passed, failed, skipped, failed-test lines, skip reasons).
(int Passed, int Failed, int Skipped, List<string> Failures, List<string> SkipReasons)? ReadNUnitResults(FilePath xml)
{
    if (!FileExists(xml)) return null;
    var doc = XDocument.Load(xml.FullPath);
    var run = doc.Root;
    if (run == null || run.Name.LocalName != "test-run") return null;
    int Attr(string n) => int.TryParse((string)run.Attribute(n), out var v) ? v : 0;
    var failures = doc.Descendants("test-case")
        .Where(t => (string)t.Attribute("result") == "Failed")
        .Select(t =>
        {
            var msg = ((string)t.Element("failure")?.Element("message") ?? "").Trim();
            var first = msg.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
            return $"  {t.Attribute("fullname")?.Value}: {first}";
        }).ToList();
    var reasons = doc.Descendants("test-case")
        .Where(t => (string)t.Attribute("result") is "Skipped" or "Inconclusive" or "Warning")
        .Select(t => ((string)t.Element("reason")?.Element("message") ?? (string)t.Attribute("label") ?? "").Trim())
        .GroupBy(r => r.Split('\n')[0])
        .OrderByDescending(g => g.Count())
        .Select(g => $"  {g.Count(),5} x {(g.Key.Length == 0 ? "(no reason)" : g.Key)}")
        .ToList();
    // NUnit: total = passed + failed + warnings + inconclusive + skipped. Inconclusive, ignored and
    // warning results all count as skipped here (what Microsoft.Testing.Platform reports as skipped).
    return (Attr("passed"), Attr("failed"), Attr("skipped") + Attr("inconclusive") + Attr("warnings"), failures, reasons);
}

long DirectorySize(DirectoryPath dir) =>
    new System.IO.DirectoryInfo(dir.FullPath).EnumerateFiles("*", System.IO.SearchOption.AllDirectories).Sum(f => f.Length);

// ---------------------------------------------------------------------------------------------
// The emulated CUDA device (tests/CudaEmulator, test-only)
// ---------------------------------------------------------------------------------------------

var cudaHeaders = artifacts.Combine("cuda-headers");              // the real cuda.h, cublas_v2.h, cudnn*.h from Debian's nvidia-cuda-dev
var cudaEmulator = artifacts.Combine("cuda-emulator");            // libcuda.so.1, libcublas.so.12, libcudnn.so.9 built from tests/CudaEmulator

// nvidia-cuda-dev cannot be installed without a driver (it depends on libcuda1), so its .deb is
// downloaded and only its headers are extracted; both steps are skipped when the headers are there.
void EnsureCudaHeaders()
{
    if (FileExists(cudaHeaders.CombineWithFilePath("usr/include/cuda.h")) && FileExists(cudaHeaders.CombineWithFilePath("usr/include/cublas_v2.h")))
    {
        Information($"Deps: CUDA headers already in {cudaHeaders}");
        return;
    }
    if (BashCapture("command -v apt-get").Code != 0)
    {
        Warning("Deps: apt-get not found; put the CUDA headers (cuda.h, cublas_v2.h) under " + cudaHeaders + "/usr/include yourself");
        return;
    }
    var sudo = IsRoot() ? "" : "sudo -n ";
    if (BashCapture("apt-cache show nvidia-cuda-dev >/dev/null 2>&1").Code != 0)
    {
        EnsureNonFree(sudo);
        Bash($"{sudo}env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 update < /dev/null");
    }
    var debDir = cudaHeaders.Combine("deb");
    EnsureDirectoryExists(debDir);
    Information("Deps: downloading nvidia-cuda-dev for its headers only (the package itself needs a driver)");
    Bash($"cd '{debDir}' && rm -f nvidia-cuda-dev_*.deb && apt-get download -q nvidia-cuda-dev < /dev/null");
    Bash($"dpkg-deb --fsys-tarfile '{debDir}'/nvidia-cuda-dev_*.deb | tar -x -C '{cudaHeaders}' --wildcards '*include/*'");
    DeleteDirectory(debDir, new DeleteDirectorySettings { Recursive = true, Force = true });
    if (!FileExists(cudaHeaders.CombineWithFilePath("usr/include/cuda.h")))
        throw new Exception($"Deps: nvidia-cuda-dev had no usr/include/cuda.h (extracted into {cudaHeaders})");
    Information($"Deps: CUDA headers in {cudaHeaders}/usr/include");
}

// Builds the emulator, then decides where the Cuda tests run: on a real GPU when a driver's cuInit
// finds a device (the emulator is never picked up by default), else on the emulated device through
// NATIVENET_CUDA_LIB_DIR. Returns the environment variables for the test process.
Dictionary<string, string> PrepareCudaDevice()
{
    var env = new Dictionary<string, string>();
    if (!string.IsNullOrEmpty(EnvironmentVariable("NATIVENET_CUDA_LIB_DIR")))
    {
        Information($"cuda: NATIVENET_CUDA_LIB_DIR is set ({EnvironmentVariable("NATIVENET_CUDA_LIB_DIR")}); using it as given");
        return env;
    }
    Bash($"make -s -j{Math.Max(1, Environment.ProcessorCount)} -C tests/CudaEmulator CUDA_INCLUDE='{cudaHeaders}/usr/include' OUT='{cudaEmulator}'");
    var probe = BashCapture($"'{cudaEmulator}/cuda-probe'");
    if (probe.Code == 0)
    {
        Information($"cuda: real device found ({probe.Output.Trim()}); the Cuda tests run on it");
        return env;
    }
    Information($"cuda: no usable GPU ({probe.Output.Trim()})");
    env["NATIVENET_CUDA_LIB_DIR"] = cudaEmulator.FullPath;
    bool complete = FileExists(cudaEmulator.CombineWithFilePath("libcublas.so.12")) && FileExists(cudaEmulator.CombineWithFilePath("libcudnn.so.9"));
    if (complete)
    {
        env["NATIVENET_CUDA_EMULATED"] = "1";       // the Cuda tests must then run (fail, not skip, when the device is missing)
        Console.WriteLine($"cuda: emulated device (tests only): the Cuda tests run on the CPU emulator in {cudaEmulator}");
    }
    else
        Console.WriteLine($"cuda: emulated device (tests only) without emulated cuBLAS/cuDNN (no tests/CudaEmulator/blas or dnn sources): the Cuda backend is unavailable, its tests skip");
    return env;
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

Task("Deps")
    .Description("Installs libnvrtc11.2 (Debian non-free), dataset-fashion-mnist, the emulated CUDA device's build tools, the real CUDA headers and python3-onnx (the ONNX checker of the export tests) when missing.")
    .Does(() =>
{
    EnsureDebPackages(new[] { "libnvrtc11.2", "dataset-fashion-mnist", "build-essential", "libopenblas-dev", "python3-onnx" },
        p => p == "dataset-fashion-mnist"
            ? FileExists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
              && FileExists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
            : DebPackageInstalled(p),
        needsNonFree: true);
    EnsureCudaHeaders();
});

Task("ReferenceDeps")
    .Description("Installs PyTorch (CPU), NumPy and OpenBLAS from Debian for fixtures and anchors/.")
    .Does(() =>
{
    EnsureDebPackages(new[] { "python3-torch", "python3-numpy", "libopenblas0-pthread", "libopenblas-dev" },
        DebPackageInstalled, needsNonFree: false);
});

Task("Build")
    .Description("Builds the whole solution in Release.")
    .Does(() =>
{
    DotNetBuild(solution.FullPath, new DotNetBuildSettings
    {
        Configuration = configuration,
        NoLogo = true,
        Verbosity = DotNetVerbosity.Minimal,
    });
});

Task("Test")
    .Description("Runs the NUnit tests (Microsoft.Testing.Platform); last line: `N passed, N failed, N skipped`.")
    .IsDependentOn("Deps")
    .IsDependentOn("Build")
    .Does(() =>
{
    CleanDirectory(testResults);
    var testDll = root.CombineWithFilePath($"tests/NativeNet.Tests/bin/{configuration}/net10.0/NativeNet.Tests.dll");
    var args = new ProcessArgumentBuilder()
        .AppendQuoted(testDll.FullPath)
        .Append("--settings").AppendQuoted(runSettings.FullPath)
        .Append("--results-directory").AppendQuoted(testResults.FullPath)
        .Append("--output").Append("Minimal")            // result blocks for failed tests only
        .Append("--no-ansi")
        .Append("--progress").Append("off");
    if (!string.IsNullOrWhiteSpace(testTimeout)) args.Append("--timeout").Append(testTimeout);
    if (!string.IsNullOrWhiteSpace(testFilter)) args.Append("--filter").AppendQuoted(testFilter);

    var testEnv = PrepareCudaDevice();
    testEnv["TESTINGPLATFORM_TELEMETRY_OPTOUT"] = "1";
    testEnv["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

    // Stream the runner's output and keep its summary as a fallback for the counts.
    var consoleSummary = new Dictionary<string, int>();
    var exitCode = StartProcess("dotnet", new ProcessSettings
    {
        Arguments = args,
        WorkingDirectory = root,
        EnvironmentVariables = testEnv,
        RedirectStandardOutput = true,
        RedirectedStandardOutputHandler = line =>
        {
            if (line == null) return line;
            Console.WriteLine(line);
            var m = Regex.Match(line, @"^\s+(total|failed|succeeded|skipped):\s+(\d+)\s*$");
            if (m.Success) consoleSummary[m.Groups[1].Value] = int.Parse(m.Groups[2].Value);
            return line;
        },
    });

    int passed, failed, skipped;
    var results = ReadNUnitResults(testResults.CombineWithFilePath("nunit/NativeNet.Tests.xml"));
    if (results is { } r)
    {
        (passed, failed, skipped) = (r.Passed, r.Failed, r.Skipped);
        if (r.SkipReasons.Count > 0)
        {
            Console.WriteLine("Skipped (by reason):");
            foreach (var line in r.SkipReasons.Take(15)) Console.WriteLine(line);
        }
        if (r.Failures.Count > 0)
        {
            Console.WriteLine("Failed tests:");
            foreach (var line in r.Failures) Console.WriteLine(line);
        }
    }
    else if (consoleSummary.ContainsKey("total"))
    {
        Console.WriteLine("warning: NUnit result file missing; counts taken from the runner's summary.");
        passed = consoleSummary.GetValueOrDefault("succeeded");
        failed = consoleSummary.GetValueOrDefault("failed");
        skipped = consoleSummary.GetValueOrDefault("skipped");
    }
    else
    {
        Console.WriteLine($"error: the test host reported no results (exit code {exitCode}: crash, timeout or bad arguments); counted as 1 failure.");
        (passed, failed, skipped) = (0, 1, 0);
    }
    if (exitCode != 0 && failed == 0)
        Console.WriteLine($"error: the test host exited with code {exitCode} (see https://aka.ms/testingplatform/exitcodes).");

    if (testEnv.ContainsKey("NATIVENET_CUDA_EMULATED"))
        Console.WriteLine($"cuda: the Cuda tests ran on the emulated device (tests only, {cudaEmulator})");
    var success = exitCode == 0 && failed == 0;
    Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
    Console.Out.Flush();
    if (target is "Test" or "Default")
        System.Environment.Exit(success ? 0 : 1);   // end here: nothing (task report, error text) may follow the summary line
    if (!success) throw new Exception("Tests failed.");
});

Task("Bench")
    .Description("Runs BenchmarkDotNet (--bench-filter=..., default *); markdown, CSV and HTML reports in BenchmarkDotNet.Artifacts/results.")
    .Does(() =>
{
    var args = new ProcessArgumentBuilder()
        .Append("run").Append("--project").AppendQuoted(benchProject.FullPath)
        .Append("-c").Append("Release")
        .Append("--")
        .Append("--filter").AppendQuoted(benchFilter)
        .Append("--artifacts").AppendQuoted(root.Combine("BenchmarkDotNet.Artifacts").FullPath);
    if (!string.IsNullOrWhiteSpace(benchArgs)) args.Append(benchArgs);
    var code = StartProcess("dotnet", new ProcessSettings { Arguments = args, WorkingDirectory = root });
    if (code != 0) throw new Exception($"Benchmarks failed with exit code {code}.");
});

Task("Train")
    .Description("Runs `nativenet train` (Release) with --train-args=\"...\".")
    .IsDependentOn("Deps")
    .IsDependentOn("Build")
    .Does(() =>
{
    var args = new ProcessArgumentBuilder()
        .Append("run").Append("--project").AppendQuoted(cliProject.FullPath)
        .Append("-c").Append(configuration).Append("--no-build")
        .Append("--").Append("train");
    if (!string.IsNullOrWhiteSpace(trainArgs)) args.Append(trainArgs);
    var code = StartProcess("dotnet", new ProcessSettings { Arguments = args, WorkingDirectory = root });
    if (code != 0) throw new Exception($"Training failed with exit code {code}.");
});

Task("Pack")
    .Description("Packs src/NativeNet (NativeNet.<version>.nupkg + .snupkg) and the nativenet tool (NativeNet.Cli) into artifacts/nupkg; checks the kernels, XML docs, README, licence and symbols.")
    .IsDependentOn("Build")
    .Does(() =>
{
    var outDir = artifacts.Combine("nupkg");
    CleanDirectory(outDir);
    foreach (var project in new[] { libProject, cliProject })
        DotNetPack(project.FullPath, new DotNetPackSettings
        {
            Configuration = configuration,
            NoBuild = true,
            NoLogo = true,
            OutputDirectory = outDir,
        });
    FilePath Single(string pattern) =>
        GetFiles(outDir.FullPath + "/" + pattern).SingleOrDefault() ?? throw new Exception($"Pack: no {pattern} in {outDir}");
    var nupkg = Single("NativeNet.[0-9]*.nupkg");
    var snupkg = Single("NativeNet.[0-9]*.snupkg");
    var tool = Single("NativeNet.Cli.[0-9]*.nupkg");

    var expected = GetFiles(root.FullPath + "/kernels/*.cu").Concat(GetFiles(root.FullPath + "/kernels/*.cuh"))
        .Select(f => "kernels/" + f.GetFilename().FullPath).OrderBy(n => n, StringComparer.Ordinal).ToList();
    List<string> embedded;
    using (var zip = ZipFile.OpenRead(nupkg.FullPath))
    {
        var names = zip.Entries.Select(e => e.FullName).ToList();
        foreach (var required in new[] { "lib/net10.0/NativeNet.dll", "lib/net10.0/NativeNet.xml", "README.md", "LICENSE" })
            if (!names.Contains(required)) throw new Exception($"Pack: {nupkg.GetFilename()} lacks {required} (has: {string.Join(", ", names)})");
        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec"));
        string nuspec;
        using (var reader = new StreamReader(nuspecEntry.Open())) nuspec = reader.ReadToEnd();
        if (!nuspec.Contains("<license type=\"expression\">MIT</license>")) throw new Exception("Pack: the nuspec has no MIT licence expression");
        if (!nuspec.Contains("<readme>README.md</readme>")) throw new Exception("Pack: the nuspec names no readme");
        var entry = zip.Entries.Single(e => e.FullName == "lib/net10.0/NativeNet.dll");
        using var ms = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(ms);
        ms.Position = 0;
        using var pe = new PEReader(ms);
        var md = pe.GetMetadataReader();
        embedded = md.ManifestResources.Select(h => md.GetString(md.GetManifestResource(h).Name))
            .Where(n => n.StartsWith("kernels/")).OrderBy(n => n, StringComparer.Ordinal).ToList();
        Information($"Pack: {nupkg.GetFilename()} ({new FileInfo(nupkg.FullPath).Length / 1024} KiB): dll, XML docs, README.md, LICENSE (MIT)");
    }
    using (var zip = ZipFile.OpenRead(snupkg.FullPath))
        if (!zip.Entries.Any(e => e.FullName == "lib/net10.0/NativeNet.pdb")) throw new Exception($"Pack: {snupkg.GetFilename()} has no lib/net10.0/NativeNet.pdb");
    Information($"Pack: {snupkg.GetFilename()} ({new FileInfo(snupkg.FullPath).Length / 1024} KiB): NativeNet.pdb");
    using (var zip = ZipFile.OpenRead(tool.FullPath))
        if (!zip.Entries.Any(e => e.FullName.EndsWith("/DotnetToolSettings.xml"))) throw new Exception($"Pack: {tool.GetFilename()} is not a .NET tool package");
    Information($"Pack: {tool.GetFilename()} ({new FileInfo(tool.FullPath).Length / 1024} KiB): the nativenet tool (dotnet tool install --add-source {outDir} NativeNet.Cli)");
    var missing = expected.Except(embedded).ToList();
    Information($"Pack: {embedded.Count} kernel resources embedded ({expected.Count} files in kernels/){(embedded.Count > 0 ? ": " + string.Join(", ", embedded) : "")}");
    if (missing.Count > 0) throw new Exception("Kernels missing from NativeNet.dll in the package: " + string.Join(", ", missing));
});

Task("GpuBundle")
    .Description("Self-contained, trimmed linux-x64 publish of the tests and the CLI into artifacts/gpu-bundle (< 60 MiB).")
    .Does(() =>
{
    var bundle = artifacts.Combine("gpu-bundle");
    CleanDirectory(bundle);
    var props = new Dictionary<string, string>
    {
        ["PublishTrimmed"] = "true",
        ["TrimMode"] = "partial",                     // trim only the framework; keep app, NUnit, test assemblies whole (reflection)
        ["SuppressTrimAnalysisWarnings"] = "true",
        ["ILLinkTreatWarningsAsErrors"] = "false",
        ["SatelliteResourceLanguages"] = "en",
        ["InvariantGlobalization"] = "true",          // no libicu needed on the GPU machine
        ["JsonSerializerIsReflectionEnabledByDefault"] = "true",   // TrainConfig's JSON (checkpoints, metrics.json) uses reflection-based System.Text.Json
    };
    foreach (var (project, name) in new[] { (testProject, "tests"), (cliProject, "cli") })
    {
        var settings = new DotNetPublishSettings
        {
            Configuration = "Release",
            Runtime = "linux-x64",
            SelfContained = true,
            NoLogo = true,
            OutputDirectory = bundle.Combine(name),
            Verbosity = DotNetVerbosity.Minimal,
            MSBuildSettings = new DotNetMSBuildSettings(),
        };
        foreach (var kv in props) settings.MSBuildSettings.WithProperty(kv.Key, kv.Value);
        DotNetPublish(project.FullPath, settings);

        // Runtime pieces only needed for debugging, dumps, tracing or alternative GCs.
        foreach (var f in new[] { "createdump", "libmscordaccore.so", "libmscordbi.so", "libcoreclrtraceptprovider.so", "libclrgc.so", "libclrgcexp.so" })
            DeleteFiles(bundle.Combine(name).CombineWithFilePath(f).FullPath);
        // Charts (SkiaSharp, 11 MiB) are not drawn on the GPU machine: the device runs the Gpu and Kernels tests, and
        // the CLI there writes its metrics without charts (it says so). ONNX Runtime (the Onnx tests, not run there:
        // 45 MiB, with Windows binaries the linux-x64 publish copies as well) stays out for the same reason.
        foreach (var f in new[] { "libSkiaSharp.so", "libHarfBuzzSharp.so", "libonnxruntime.so", "libonnxruntime_providers_shared.so", "onnxruntime.dll", "onnxruntime_providers_shared.dll" })
            DeleteFiles(bundle.Combine(name).CombineWithFilePath(f).FullPath);
        // Symbols and XML docs (kept out via file deletion, not via global properties: those would
        // rebuild the shared src/NativeNet output that Pack uses).
        DeleteFiles(bundle.Combine(name).FullPath + "/*.pdb");
        DeleteFiles(bundle.Combine(name).FullPath + "/*.xml");
    }
    CopyFile(runSettings, bundle.CombineWithFilePath("nunit.runsettings"));
    var commit = BashCapture("git rev-parse --short HEAD 2>/dev/null").Output.Trim();
    System.IO.File.WriteAllText(bundle.CombineWithFilePath("BUNDLE.txt").FullPath,
        $"NativeNet GPU bundle\ncommit: {commit}\nbuilt: {DateTime.UtcNow:u}\nrun: scripts/gpu/run-on-device.sh (from the repo root)\n");

    // Smoke check: the trimmed, self-contained test app starts and discovers its tests without the SDK.
    var (code, listing) = BashCapture($"'{bundle.FullPath}/tests/NativeNet.Tests' --list-tests --no-ansi");
    var found = Regex.Match(listing, @"found (\d+) test");
    var discovered = found.Success ? found.Groups[1].Value : "?";
    if (code != 0) throw new Exception("Bundled test app failed to list its tests:\n" + listing);

    var size = DirectorySize(bundle);
    var mib = size / (1024.0 * 1024.0);
    Information($"GpuBundle: {bundle.FullPath}: {mib:F1} MiB (tests {DirectorySize(bundle.Combine("tests")) / 1048576.0:F1} MiB, cli {DirectorySize(bundle.Combine("cli")) / 1048576.0:F1} MiB), {discovered} tests discovered");
    if (mib >= 60) throw new Exception($"GPU bundle is {mib:F1} MiB; it must stay under 60 MiB (device carry limit 64 MiB).");
});

Task("Default").IsDependentOn("Test");

RunTarget(target);
