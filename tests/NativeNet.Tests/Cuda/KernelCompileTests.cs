using System.Text.RegularExpressions;
using NativeNet.Backends.Cuda;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>
/// Compiles every embedded kernel through the engine's own NVRTC path. Needs libnvrtc but no GPU;
/// ignored with the reason where NVRTC is missing (CI installs Debian's libnvrtc11.2).
/// </summary>
[TestFixture]
[Category("Kernels")]
public sealed partial class KernelCompileTests
{
    private static readonly int[] Architectures = [80, 90];

    private string cacheDir = "";
    private KernelCompiler compiler = null!;

    [GeneratedRegex(@"\.entry\s+(\w+)\s*\(")]
    private static partial Regex EntryRegex();

    public static IEnumerable<TestCaseData> FilesByArchitecture() =>
        from file in KernelCompiler.KernelFiles
        from arch in Architectures
        select new TestCaseData(file, arch).SetName($"Compiles({file}, sm_{arch})");

    [OneTimeSetUp]
    public void CreateCompiler()
    {
        cacheDir = Path.Combine(Path.GetTempPath(), "nativenet-kernel-tests-" + Guid.NewGuid().ToString("N"));
        compiler = new KernelCompiler(cacheDir);
    }

    [OneTimeTearDown]
    public void DeleteCache()
    {
        if (Directory.Exists(cacheDir))
            Directory.Delete(cacheDir, recursive: true);
    }

    private static void RequireNvrtc()
    {
        if (!KernelCompiler.IsNvrtcAvailable)
            Assert.Ignore($"NVRTC is not available: {KernelCompiler.NvrtcUnavailableReason}");
    }

    private static string[] EntryPoints(string ptx) =>
        EntryRegex().Matches(ptx).Select(m => m.Groups[1].Value).ToArray();

    [Test]
    public void EmbeddedKernelFilesMatchTheCatalog()
    {
        Assert.That(KernelCompiler.HeaderFiles, Does.Contain("common.cuh"));
        Assert.That(KernelCompiler.KernelFiles, Is.EquivalentTo(KernelCatalog.Files));
        Assert.That(KernelCatalog.All.Select(e => e.Name), Is.Unique);
    }

    [TestCaseSource(nameof(FilesByArchitecture))]
    public void Compiles(string file, int arch)
    {
        RequireNvrtc();
        CompiledKernel k = compiler.Compile(file, arch);

        Assert.That(k.FileName, Is.EqualTo(file));
        Assert.That(k.Target, Is.EqualTo($"sm_{arch}"));
        Assert.That(k.Ptx, Does.Contain($".target sm_{arch}"));
        Assert.That(k.Cubin, Is.Not.Null.And.Not.Empty);

        string[] inPtx = EntryPoints(k.Ptx);
        string[] expected = KernelCatalog.InFile(file).Select(e => e.Name).ToArray();
        Assert.That(expected, Is.Not.Empty, $"the catalog lists no entry points for {file}");
        Assert.That(inPtx, Is.SupersetOf(expected), $"entry points of {file} missing from the PTX");
        Assert.That(expected, Is.SupersetOf(inPtx), $"entry points of {file} missing from KernelCatalog");
    }

    [Test]
    public void EveryCatalogEntryIsFoundByName()
    {
        KernelEntry relu = KernelCatalog.Get("relu_fwd", KernelElementType.Float32);
        Assert.That(relu.Name, Is.EqualTo("relu_fwd_f32"));
        Assert.That(relu.File, Is.EqualTo("elementwise.cu"));
        Assert.That(KernelCatalog.Get("adam_step", KernelElementType.Float64).File, Is.EqualTo("optim.cu"));
        Assert.That(KernelCatalog.Get("cast_f32_f64").ElementType, Is.Null);
        Assert.Throws<KeyNotFoundException>(() => KernelCatalog.Get("no_such_kernel_f32"));
    }

    [Test]
    public void BrokenSourceThrowsWithFileNameAndLog()
    {
        RequireNvrtc();
        const string source = """
            #include "common.cuh"
            extern "C" __global__ void broken_f32(float* x, i64 n) { NN_GRID_STRIDE(i, n) x[i] = undefined_symbol_xyz; }
            """;
        var c = new KernelCompiler(useDiskCache: false);

        var e = Assert.Throws<KernelCompileException>(() => c.Compile("broken_kernel.cu", source, 80));

        Assert.That(e!.FileName, Is.EqualTo("broken_kernel.cu"));
        Assert.That(e.Log, Does.Contain("undefined_symbol_xyz"));
        Assert.That(e.Message, Does.Contain("broken_kernel.cu").And.Contain("undefined_symbol_xyz"));
        Assert.That(c.Compilations, Is.Zero);
    }

    [Test]
    public void SecondCompileIsACacheHit()
    {
        RequireNvrtc();
        string dir = Path.Combine(Path.GetTempPath(), "nativenet-kernel-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = new KernelCompiler(dir);
            CompiledKernel compiled = first.Compile("copy.cu", 80);
            Assert.That(compiled.Source, Is.EqualTo(KernelCacheSource.Compiled));
            Assert.That(first.Compilations, Is.EqualTo(1));
            Assert.That(Directory.GetFiles(dir, "copy-sm_80-*.ptx"), Has.Length.EqualTo(1));
            Assert.That(Directory.GetFiles(dir, "copy-sm_80-*.cubin"), Has.Length.EqualTo(1));
            Assert.That(Directory.GetFiles(dir, "*.tmp"), Is.Empty);

            Assert.That(first.Compile("copy.cu", 80).Source, Is.EqualTo(KernelCacheSource.Memory));
            Assert.That(first.MemoryHits, Is.EqualTo(1));

            var second = new KernelCompiler(dir);
            CompiledKernel fromDisk = second.Compile("copy.cu", 80);
            Assert.That(fromDisk.Source, Is.EqualTo(KernelCacheSource.Disk));
            Assert.That(second.DiskHits, Is.EqualTo(1));
            Assert.That(second.Compilations, Is.Zero);
            Assert.That(fromDisk.Ptx, Is.EqualTo(compiled.Ptx));
            Assert.That(fromDisk.Cubin, Is.EqualTo(compiled.Cubin));
            Assert.That(fromDisk.CacheKey, Is.EqualTo(compiled.CacheKey));

            // Another architecture is another key.
            Assert.That(second.Compile("copy.cu", 90).Source, Is.EqualTo(KernelCacheSource.Compiled));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ChangedSourceIsRecompiled()
    {
        RequireNvrtc();
        var c = new KernelCompiler(useDiskCache: false);
        const string a = "extern \"C\" __global__ void k_f32(float* x) { x[0] = 1.0f; }";
        const string b = "extern \"C\" __global__ void k_f32(float* x) { x[0] = 2.0f; }";
        string keyA = c.Compile("k.cu", a, 80).CacheKey;
        string keyB = c.Compile("k.cu", b, 80).CacheKey;
        Assert.That(keyB, Is.Not.EqualTo(keyA));
        Assert.That(c.Compilations, Is.EqualTo(2));
    }

    [Test]
    public void ArchitectureNewerThanNvrtcFallsBackToPtx()
    {
        RequireNvrtc();
        IReadOnlyList<int> archs = KernelCompiler.SupportedArchitectures;
        Assume.That(archs, Is.Not.Empty, "this NVRTC cannot list its architectures");
        int newest = archs.Max();
        var c = new KernelCompiler(useDiskCache: false);

        CompiledKernel k = c.Compile("copy.cu", newest + 10);

        Assert.That(k.Target, Is.EqualTo($"compute_{newest}"));
        Assert.That(k.Cubin, Is.Null);
        Assert.That(EntryPoints(k.Ptx), Does.Contain("fill_f32"));
    }
}
