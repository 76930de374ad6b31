using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

/// <summary>Where a <see cref="CompiledKernel"/> came from.</summary>
public enum KernelCacheSource
{
    /// <summary>NVRTC compiled it in this call.</summary>
    Compiled,

    /// <summary>The in-memory cache of this <see cref="KernelCompiler"/>.</summary>
    Memory,

    /// <summary>The on-disk cache.</summary>
    Disk,
}

/// <summary>The result of compiling one kernel source file for one GPU architecture.</summary>
public sealed class CompiledKernel
{
    internal CompiledKernel(string fileName, int requestedArchitecture, string target, string ptx, byte[]? cubin, string log, string cacheKey, KernelCacheSource source)
    {
        FileName = fileName;
        RequestedArchitecture = requestedArchitecture;
        Target = target;
        Ptx = ptx;
        Cubin = cubin;
        Log = log;
        CacheKey = cacheKey;
        Source = source;
    }

    /// <summary>The kernel source file, e.g. <c>elementwise.cu</c>.</summary>
    public string FileName { get; }

    /// <summary>The architecture asked for, major*10 + minor (80 for sm_80).</summary>
    public int RequestedArchitecture { get; }

    /// <summary>
    /// What NVRTC compiled for: <c>sm_XY</c> (CUBIN and PTX) when it supports the requested
    /// architecture, else <c>compute_XY</c> (PTX only) for the newest architecture it supports below
    /// the request, which the driver JIT-compiles for the device.
    /// </summary>
    public string Target { get; }

    /// <summary>The PTX text (without a trailing NUL).</summary>
    public string Ptx { get; }

    /// <summary>The CUBIN for <see cref="Target"/> when it is a real architecture, else null.</summary>
    public byte[]? Cubin { get; }

    /// <summary>NVRTC's log (warnings); empty when there was nothing to say or the result came from a cache.</summary>
    public string Log { get; }

    /// <summary>Hex SHA-256 of the sources, target, NVRTC version and options.</summary>
    public string CacheKey { get; }

    /// <summary>Whether this result was compiled now or came from a cache.</summary>
    public KernelCacheSource Source { get; }

    internal CompiledKernel WithSource(KernelCacheSource source) =>
        new(FileName, RequestedArchitecture, Target, Ptx, Cubin, Log, CacheKey, source);
}

/// <summary>
/// Compiles the CUDA C++ kernels embedded in this assembly (kernels/*.cu with their kernels/*.cuh
/// headers) with NVRTC, caching the results in memory and on disk. The cache key is the SHA-256 of
/// the source, every header, the target architecture, the NVRTC version and the options, so a change
/// to any of them recompiles. The disk cache lives in <c>NATIVENET_KERNEL_CACHE</c> or
/// <c>~/.cache/nativenet/kernels</c>; entries are written to a temporary file and renamed into place,
/// so concurrent processes never see a partial file. Disk-cache failures (read-only folder, ...) only
/// cost a recompile. Compiling needs NVRTC but no GPU.
/// </summary>
public sealed class KernelCompiler
{
    /// <summary>Environment variable naming the disk-cache folder.</summary>
    public const string CacheVariable = "NATIVENET_KERNEL_CACHE";

    private const string ResourcePrefix = "kernels/";
    private const string KeyVersion = "nativenet-kernel-cache-v1";

    private static readonly Lazy<KernelCompiler> SharedInstance = new(() => new KernelCompiler());
    private static readonly Lazy<(string? Version, string? Error)> NvrtcProbe = new(ProbeNvrtc);
    private static readonly Lazy<int[]> NvrtcArchs = new(QuerySupportedArchitectures);

    private readonly Dictionary<string, CompiledKernel> memory = new(StringComparer.Ordinal);
    private readonly object gate = new();
    private int memoryHits;
    private int diskHits;
    private int compilations;

    /// <summary>Creates a compiler with its own in-memory cache.</summary>
    /// <param name="cacheDirectory">The disk-cache folder; null uses <c>NATIVENET_KERNEL_CACHE</c> or <c>~/.cache/nativenet/kernels</c>.</param>
    /// <param name="useDiskCache">False keeps results in memory only.</param>
    public KernelCompiler(string? cacheDirectory = null, bool useDiskCache = true)
    {
        CacheDirectory = useDiskCache ? cacheDirectory ?? DefaultCacheDirectory() : null;
    }

    /// <summary>The compiler shared by the Cuda backend (default cache folder).</summary>
    public static KernelCompiler Shared => SharedInstance.Value;

    /// <summary>The disk-cache folder, or null when the disk cache is off.</summary>
    public string? CacheDirectory { get; }

    /// <summary>How many compile requests were answered from the in-memory cache.</summary>
    public int MemoryHits => Volatile.Read(ref memoryHits);

    /// <summary>How many compile requests were answered from the disk cache.</summary>
    public int DiskHits => Volatile.Read(ref diskHits);

    /// <summary>How many times NVRTC actually compiled.</summary>
    public int Compilations => Volatile.Read(ref compilations);

    /// <summary>Whether NVRTC could be loaded. Never throws.</summary>
    public static bool IsNvrtcAvailable => NvrtcProbe.Value.Version is not null;

    /// <summary>Why NVRTC is unavailable (every name and folder tried), or null when it loaded.</summary>
    public static string? NvrtcUnavailableReason => NvrtcProbe.Value.Error;

    /// <summary>NVRTC's version as "major.minor", or null when NVRTC is unavailable.</summary>
    public static string? NvrtcVersion => NvrtcProbe.Value.Version;

    /// <summary>The real architectures NVRTC can compile CUBIN for (e.g. 52 … 90); empty if unknown.</summary>
    public static IReadOnlyList<int> SupportedArchitectures => IsNvrtcAvailable ? NvrtcArchs.Value : [];

    /// <summary>The embedded kernel source files (<c>*.cu</c>), sorted.</summary>
    public static IReadOnlyList<string> KernelFiles { get; } = EmbeddedNames(".cu");

    /// <summary>The embedded headers (<c>*.cuh</c>), passed to every compilation for <c>#include "name"</c>.</summary>
    public static IReadOnlyList<string> HeaderFiles { get; } = EmbeddedNames(".cuh");

    /// <summary>Reads an embedded kernel source or header.</summary>
    /// <param name="fileName">A name from <see cref="KernelFiles"/> or <see cref="HeaderFiles"/>.</param>
    /// <returns>The text.</returns>
    /// <exception cref="FileNotFoundException">No such embedded file.</exception>
    public static string ReadSource(string fileName)
    {
        using Stream? s = typeof(KernelCompiler).Assembly.GetManifestResourceStream(ResourcePrefix + fileName);
        if (s is null)
            throw new FileNotFoundException($"no embedded kernel source '{fileName}' (embedded: {string.Join(", ", KernelFiles.Concat(HeaderFiles))})", fileName);
        using var reader = new StreamReader(s, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The NVRTC options used for an architecture, as the cache key sees them.</summary>
    /// <param name="architecture">major*10 + minor, e.g. 80.</param>
    /// <returns>The option list; the first is the <c>--gpu-architecture</c> option.</returns>
    public static IReadOnlyList<string> OptionsFor(int architecture) =>
        [$"--gpu-architecture={ResolveTarget(architecture)}", "-default-device", "--std=c++17"];

    /// <summary>Compiles an embedded kernel file for an architecture, or returns the cached result.</summary>
    /// <param name="fileName">A name from <see cref="KernelFiles"/>, e.g. <c>elementwise.cu</c>.</param>
    /// <param name="architecture">major*10 + minor of the device, e.g. 80 or 90.</param>
    /// <returns>The PTX (and CUBIN where possible).</returns>
    /// <exception cref="KernelCompileException">NVRTC rejected the source; the message has the file name and log.</exception>
    /// <exception cref="CudaUnavailableException">NVRTC could not be loaded.</exception>
    public CompiledKernel Compile(string fileName, int architecture) =>
        Compile(fileName, ReadSource(fileName), architecture);

    /// <summary>Compiles CUDA C++ source text (which may include the embedded headers), or returns the cached result.</summary>
    /// <param name="fileName">The name NVRTC reports in diagnostics and the cache file name uses.</param>
    /// <param name="source">The CUDA C++ source.</param>
    /// <param name="architecture">major*10 + minor of the device, e.g. 80 or 90.</param>
    /// <returns>The PTX (and CUBIN where possible).</returns>
    /// <exception cref="KernelCompileException">NVRTC rejected the source; the message has the file name and log.</exception>
    /// <exception cref="CudaUnavailableException">NVRTC could not be loaded.</exception>
    public CompiledKernel Compile(string fileName, string source, int architecture)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(architecture, 30);
        if (NvrtcProbe.Value.Version is not { } nvrtcVersion)
            throw new CudaUnavailableException($"NVRTC not found; tried {NvrtcProbe.Value.Error}");

        IReadOnlyList<string> options = OptionsFor(architecture);
        string target = ResolveTarget(architecture);
        var headers = HeaderFiles.Select(h => (Name: h, Text: ReadSource(h))).ToArray();
        string key = CacheKey(fileName, source, headers, nvrtcVersion, options);

        lock (gate)
        {
            if (memory.TryGetValue(key, out CompiledKernel? hit))
            {
                Interlocked.Increment(ref memoryHits);
                return hit.WithSource(KernelCacheSource.Memory);
            }

            CompiledKernel? result = TryReadDisk(fileName, architecture, target, key);
            if (result is not null)
            {
                Interlocked.Increment(ref diskHits);
            }
            else
            {
                result = CompileWithNvrtc(fileName, source, headers, options, architecture, target, key);
                Interlocked.Increment(ref compilations);
                TryWriteDisk(result);
            }
            memory[key] = result;
            return result;
        }
    }

    private static string DefaultCacheDirectory()
    {
        string? env = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrWhiteSpace(env))
            return env;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string baseDir = !string.IsNullOrWhiteSpace(xdg) ? xdg
            : !string.IsNullOrWhiteSpace(home) ? Path.Combine(home, ".cache")
            : Path.GetTempPath();
        return Path.Combine(baseDir, "nativenet", "kernels");
    }

    private static string[] EmbeddedNames(string extension) =>
        typeof(KernelCompiler).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(extension, StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..])
            .Order(StringComparer.Ordinal)
            .ToArray();

    // A real architecture NVRTC knows gets sm_XY (CUBIN + PTX); anything newer falls back to PTX for
    // the newest architecture NVRTC knows, which the driver JIT-compiles forward.
    private static string ResolveTarget(int architecture)
    {
        int[] archs = IsNvrtcAvailable ? NvrtcArchs.Value : [];
        if (archs.Length == 0 || archs.Contains(architecture))
            return $"sm_{architecture}";
        int[] below = archs.Where(a => a <= architecture).ToArray();
        return below.Length > 0 ? $"compute_{below.Max()}" : $"sm_{architecture}";
    }

    private static string CacheKey(string fileName, string source, (string Name, string Text)[] headers, string nvrtcVersion, IReadOnlyList<string> options)
    {
        var sb = new StringBuilder();
        sb.Append(KeyVersion).Append('\n').Append(fileName).Append('\n').Append(source);
        foreach (var (name, text) in headers)
            sb.Append("\n\0header ").Append(name).Append('\n').Append(text);
        sb.Append("\n\0nvrtc ").Append(nvrtcVersion);
        sb.Append("\n\0options ").AppendJoin('\u0001', options);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private string? CachePath(string fileName, string target, string key, string extension)
    {
        if (CacheDirectory is null)
            return null;
        string stem = Path.GetFileNameWithoutExtension(fileName);
        foreach (char c in Path.GetInvalidFileNameChars())
            stem = stem.Replace(c, '_');
        return Path.Combine(CacheDirectory, $"{stem}-{target}-{key[..32]}{extension}");
    }

    private CompiledKernel? TryReadDisk(string fileName, int architecture, string target, string key)
    {
        string? ptxPath = CachePath(fileName, target, key, ".ptx");
        string? cubinPath = CachePath(fileName, target, key, ".cubin");
        if (ptxPath is null || cubinPath is null)
            return null;
        try
        {
            if (!File.Exists(ptxPath))
                return null;
            bool wantCubin = target.StartsWith("sm_", StringComparison.Ordinal);
            byte[]? cubin = null;
            if (wantCubin)
            {
                if (!File.Exists(cubinPath))
                    return null;
                cubin = File.ReadAllBytes(cubinPath);
            }
            string ptx = File.ReadAllText(ptxPath, Encoding.UTF8);
            return new CompiledKernel(fileName, architecture, target, ptx, cubin, "", key, KernelCacheSource.Disk);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void TryWriteDisk(CompiledKernel k)
    {
        string? ptxPath = CachePath(k.FileName, k.Target, k.CacheKey, ".ptx");
        string? cubinPath = CachePath(k.FileName, k.Target, k.CacheKey, ".cubin");
        if (ptxPath is null || cubinPath is null)
            return;
        try
        {
            Directory.CreateDirectory(CacheDirectory!);
            // The PTX file marks a complete entry, so the CUBIN goes first.
            if (k.Cubin is not null)
                WriteAtomic(cubinPath, k.Cubin);
            WriteAtomic(ptxPath, Encoding.UTF8.GetBytes(k.Ptx));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void WriteAtomic(string path, byte[] bytes)
    {
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    private static CompiledKernel CompileWithNvrtc(
        string fileName, string source, (string Name, string Text)[] headers, IReadOnlyList<string> options,
        int architecture, string target, string key)
    {
        using var strings = new Utf8Strings();
        nint[] headerPtrs = headers.Select(h => strings.Add(h.Text)).ToArray();
        nint[] namePtrs = headers.Select(h => strings.Add(h.Name)).ToArray();
        nint sourcePtr = strings.Add(source);
        nint namePtr = strings.Add(fileName);
        nint program;
        // SAFETY: every pointer comes from Utf8Strings, which keeps NUL-terminated native copies alive
        // until it is disposed at the end of this method; the pointer arrays are pinned by `fixed`.
        unsafe
        {
            fixed (nint* hp = headerPtrs)
            fixed (nint* np = namePtrs)
                Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out program, (byte*)sourcePtr, (byte*)namePtr, headers.Length, (byte**)hp, (byte**)np));
        }

        try
        {
            NvrtcResult compiled;
            nint[] optionPtrs = options.Select(strings.Add).ToArray();
            // SAFETY: as above; the option strings live until `strings` is disposed.
            unsafe
            {
                fixed (nint* op = optionPtrs)
                    compiled = Nvrtc.nvrtcCompileProgram(program, optionPtrs.Length, (byte**)op);
            }
            string log = ReadLog(program);
            if (compiled == NvrtcResult.Compilation)
                throw new KernelCompileException(fileName, options, log);
            Nvrtc.Check(compiled, "nvrtcCompileProgram");

            byte[] ptxBytes = ReadOutput(program, ptx: true);
            byte[]? cubin = target.StartsWith("sm_", StringComparison.Ordinal) ? ReadOutput(program, ptx: false) : null;
            if (cubin is { Length: 0 })
                cubin = null;
            string ptx = Encoding.UTF8.GetString(ptxBytes).TrimEnd('\0');
            return new CompiledKernel(fileName, architecture, target, ptx, cubin, log, key, KernelCacheSource.Compiled);
        }
        finally
        {
            Nvrtc.nvrtcDestroyProgram(ref program);
        }
    }

    private static string ReadLog(nint program)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetProgramLogSize(program, out nuint size));
        if (size <= 1)
            return "";
        byte[] buffer = new byte[(int)size];
        // SAFETY: the buffer holds `size` bytes, the length NVRTC reported for the log.
        unsafe
        {
            fixed (byte* p = buffer)
                Nvrtc.Check(Nvrtc.nvrtcGetProgramLog(program, p));
        }
        return Encoding.UTF8.GetString(buffer).TrimEnd('\0').Trim();
    }

    private static byte[] ReadOutput(nint program, bool ptx)
    {
        nuint size;
        if (ptx)
            Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(program, out size));
        else
            Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(program, out size));
        byte[] buffer = new byte[(int)size];
        if (size == 0)
            return buffer;
        // SAFETY: the buffer holds `size` bytes, the length NVRTC reported for this output.
        unsafe
        {
            fixed (byte* p = buffer)
            {
                if (ptx)
                    Nvrtc.Check(Nvrtc.nvrtcGetPTX(program, p));
                else
                    Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(program, p));
            }
        }
        return buffer;
    }

    private static (string? Version, string? Error) ProbeNvrtc()
    {
        try
        {
            if (!NativeLibraryResolver.TryLoad(NativeLibraryResolver.Nvrtc, out _, out string error))
                return (null, error);
            Nvrtc.Check(Nvrtc.nvrtcVersion(out int major, out int minor));
            return ($"{major}.{minor}", null);
        }
        catch (Exception e)
        {
            return (null, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static int[] QuerySupportedArchitectures()
    {
        try
        {
            if (Nvrtc.nvrtcGetNumSupportedArchs(out int count) != NvrtcResult.Success || count <= 0)
                return [];
            int[] archs = new int[count];
            // SAFETY: the array holds `count` ints, the number NVRTC reported.
            unsafe
            {
                fixed (int* p = archs)
                    if (Nvrtc.nvrtcGetSupportedArchs(p) != NvrtcResult.Success)
                        return [];
            }
            return archs;
        }
        catch (EntryPointNotFoundException)
        {
            // NVRTC before 11.2 cannot list its architectures.
            return [];
        }
    }

    /// <summary>Native NUL-terminated UTF-8 copies of strings, freed together.</summary>
    private sealed class Utf8Strings : IDisposable
    {
        private readonly List<nint> allocations = [];

        public nint Add(string s)
        {
            nint p = System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8(s);
            allocations.Add(p);
            return p;
        }

        public void Dispose()
        {
            foreach (nint p in allocations)
                System.Runtime.InteropServices.Marshal.FreeCoTaskMem(p);
            allocations.Clear();
        }
    }
}
