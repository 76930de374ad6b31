using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace NativeNet.Interop;

/// <summary>
/// Finds the CUDA libraries for the bindings in this folder. The bindings name logical libraries
/// (<see cref="Cuda"/>, <see cref="Nvrtc"/>, <see cref="Cublas"/>, <see cref="Cudnn"/>); this class maps each
/// to the sonames of CUDA 13, 12 and 11 and cuDNN 9 and searches, in order:
/// the folders in <c>NATIVENET_CUDA_LIB_DIR</c> (separated by the path separator), the default
/// loader path (LD_LIBRARY_PATH, ldconfig cache), the CUDA toolkit folders, and the
/// <c>nvidia/*/lib</c> folders of Python installs (pip wheels such as nvidia-cudnn-cu12).
/// </summary>
/// <remarks>
/// The Windows names (nvcuda.dll, nvrtc64_*.dll, cublas64_*.dll, cudnn64_9.dll) and the
/// <c>CUDA_PATH</c> folders are included but untested. Loading is lazy: nothing is opened
/// until a binding is first called or <see cref="TryLoad"/> is asked, so the library runs where no
/// CUDA exists. A failed load never crashes the process: it throws a
/// <see cref="DllNotFoundException"/> that lists every name and folder tried.
/// </remarks>
internal static class NativeLibraryResolver
{
    /// <summary>Logical name of the CUDA driver API library.</summary>
    public const string Cuda = "cuda";

    /// <summary>Logical name of the NVRTC runtime compiler.</summary>
    public const string Nvrtc = "nvrtc";

    /// <summary>Logical name of cuBLAS.</summary>
    public const string Cublas = "cublas";

    /// <summary>Logical name of cuDNN 9.</summary>
    public const string Cudnn = "cudnn";

    /// <summary>Environment variable naming extra folders searched first.</summary>
    public const string LibDirVariable = "NATIVENET_CUDA_LIB_DIR";

    private static readonly object Gate = new();
    private static readonly Dictionary<string, LoadResult> Loaded = new(StringComparer.Ordinal);
    private static bool registered;

    private sealed record LoadResult(nint Handle, string Path, string Error);

    /// <summary>Registers the resolver for this assembly once; later calls do nothing.</summary>
    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (registered)
                return;
            registered = true;
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);
            }
            catch (InvalidOperationException)
            {
                // Someone else registered a resolver for this assembly; the loader then uses theirs.
            }
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!IsKnown(libraryName))
            return 0;
        if (TryLoad(libraryName, out nint handle, out string error))
            return handle;
        throw new DllNotFoundException($"CUDA library '{libraryName}' not found; tried {error}");
    }

    private static bool IsKnown(string name) => name is Cuda or Nvrtc or Cublas or Cudnn;

    /// <summary>Loads a logical library once; later calls return the cached result.</summary>
    /// <param name="logicalName">One of <see cref="Cuda"/>, <see cref="Nvrtc"/>, <see cref="Cublas"/>, <see cref="Cudnn"/>.</param>
    /// <param name="handle">The native handle, or 0.</param>
    /// <param name="error">On failure, every name and folder tried (<c>names [...] in [...]</c>); on success, empty.</param>
    /// <returns>Whether the library loaded.</returns>
    public static bool TryLoad(string logicalName, out nint handle, out string error)
    {
        EnsureRegistered();
        lock (Gate)
        {
            if (!Loaded.TryGetValue(logicalName, out LoadResult? result))
            {
                try
                {
                    result = LoadUncached(logicalName);
                }
                catch (Exception e)
                {
                    result = new LoadResult(0, "", $"{logicalName}: unexpected error while searching: {e.Message}");
                }
                Loaded[logicalName] = result;
            }
            handle = result.Handle;
            error = result.Error;
            return handle != 0;
        }
    }

    /// <summary>The file a logical library was loaded from, or null when it is not loaded.</summary>
    /// <param name="logicalName">A logical library name.</param>
    /// <returns>The path or soname that loaded, or null.</returns>
    public static string? LoadedPath(string logicalName)
    {
        lock (Gate)
            return Loaded.TryGetValue(logicalName, out LoadResult? r) && r.Handle != 0 ? r.Path : null;
    }

    /// <summary>Candidate file names for a logical library on this OS, newest CUDA first.</summary>
    /// <param name="logicalName">A logical library name.</param>
    /// <returns>The names tried, in order.</returns>
    public static IReadOnlyList<string> CandidateNames(string logicalName)
    {
        bool windows = OperatingSystem.IsWindows();
        return logicalName switch
        {
            Cuda => windows ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"],
            Nvrtc => windows
                ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"]
                : ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
            Cublas => windows
                ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
                : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
            Cudnn => windows ? ["cudnn64_9.dll"] : ["libcudnn.so.9"],
            _ => [],
        };
    }

    // Libraries the main one needs from its own folder; preloading them lets a library found in a
    // folder outside the loader path resolve its DT_NEEDED entries and dlopen()ed parts by soname.
    private static IReadOnlyList<string> CompanionPatterns(string logicalName) => logicalName switch
    {
        Nvrtc => ["libnvrtc-builtins.so.*"],
        Cublas => ["libcublasLt.so.*"],
        Cudnn => ["libcudnn_graph.so.*", "libcudnn_engines_precompiled.so.*", "libcudnn_engines_runtime_compiled.so.*",
                  "libcudnn_heuristic.so.*", "libcudnn_ops.so.*", "libcudnn_cnn.so.*", "libcudnn_adv.so.*"],
        _ => [],
    };

    /// <summary>
    /// The folders searched after <c>NATIVENET_CUDA_LIB_DIR</c> and the default loader path: CUDA
    /// toolkit folders and the <c>nvidia/*/lib</c> folders of Python site-packages that exist.
    /// </summary>
    /// <returns>Existing folders, without duplicates, in search order.</returns>
    public static IReadOnlyList<string> ExtraFolders()
    {
        var folders = new List<string>();
        if (OperatingSystem.IsWindows())
        {
            string? cudaPath = Environment.GetEnvironmentVariable("CUDA_PATH");
            if (!string.IsNullOrEmpty(cudaPath))
            {
                folders.Add(Path.Combine(cudaPath, "bin", "x64"));
                folders.Add(Path.Combine(cudaPath, "bin"));
            }
        }
        else
        {
            folders.Add("/usr/local/cuda/lib64");
            folders.Add("/usr/local/cuda/targets/x86_64-linux/lib");
            folders.Add("/usr/lib/x86_64-linux-gnu");
            foreach (string site in PythonSiteFolders())
            {
                foreach (string pkg in SafeDirectories(Path.Combine(site, "nvidia"), "*"))
                {
                    folders.Add(Path.Combine(pkg, "lib"));
                    folders.Add(Path.Combine(pkg, "lib64"));
                }
            }
        }
        return folders.Where(Directory.Exists).Distinct(StringComparer.Ordinal).ToList();
    }

    // Site-packages folders findable without starting Python: system and local installs, the user
    // site, an active venv or conda env, PYTHONPATH, and the prefixes of python3 executables on PATH.
    private static IEnumerable<string> PythonSiteFolders()
    {
        var prefixes = new List<string> { "/usr", "/usr/local", "/opt/conda" };
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home))
            prefixes.Add(Path.Combine(home, ".local"));
        foreach (string var in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
        {
            string? p = Environment.GetEnvironmentVariable(var);
            if (!string.IsNullOrEmpty(p))
                prefixes.Add(p);
        }
        foreach (string dir in SplitPathList(Environment.GetEnvironmentVariable("PATH")))
        {
            if (File.Exists(Path.Combine(dir, "python3")) && Path.GetDirectoryName(dir) is { Length: > 0 } prefix)
                prefixes.Add(prefix);
        }

        foreach (string p in SplitPathList(Environment.GetEnvironmentVariable("PYTHONPATH")))
            yield return p;
        foreach (string prefix in prefixes.Distinct(StringComparer.Ordinal))
        {
            foreach (string lib in new[] { "lib", "lib64" })
            {
                foreach (string py in SafeDirectories(Path.Combine(prefix, lib), "python3*"))
                {
                    yield return Path.Combine(py, "site-packages");
                    yield return Path.Combine(py, "dist-packages");
                }
            }
        }
    }

    private static IEnumerable<string> SplitPathList(string? list) =>
        string.IsNullOrEmpty(list)
            ? []
            : list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<string> SafeDirectories(string root, string pattern)
    {
        try
        {
            return Directory.Exists(root) ? Directory.GetDirectories(root, pattern).Order(StringComparer.Ordinal).ToArray() : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static LoadResult LoadUncached(string logicalName)
    {
        IReadOnlyList<string> names = CandidateNames(logicalName);
        var failures = new List<string>();
        var triedFolders = new List<string>();

        var envFolders = SplitPathList(Environment.GetEnvironmentVariable(LibDirVariable)).ToList();
        foreach (string folder in envFolders)
        {
            triedFolders.Add($"{folder} (from {LibDirVariable})");
            if (TryFolder(logicalName, folder, names, failures) is { } r)
                return r;
        }
        if (envFolders.Count == 0)
            triedFolders.Add($"{LibDirVariable} (not set)");

        triedFolders.Add("the default loader path");
        foreach (string name in names)
        {
            if (NativeLibrary.TryLoad(name, out nint handle))
                return new LoadResult(handle, name, "");
        }

        foreach (string folder in ExtraFolders())
        {
            triedFolders.Add(folder);
            if (TryFolder(logicalName, folder, names, failures) is { } r)
                return r;
        }

        var message = new StringBuilder();
        message.Append($"names [{string.Join(", ", names)}]");
        message.Append($" in [{string.Join(", ", triedFolders)}]");
        if (failures.Count > 0)
            message.Append($"; found but failed to load: {string.Join("; ", failures)}");
        return new LoadResult(0, "", message.ToString());
    }

    private static LoadResult? TryFolder(string logicalName, string folder, IReadOnlyList<string> names, List<string> failures)
    {
        foreach (string name in names)
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
                continue;
            PreloadCompanions(logicalName, folder);
            try
            {
                return new LoadResult(NativeLibrary.Load(path), path, "");
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                failures.Add($"{path}: {e.Message}");
            }
        }
        return null;
    }

    // Best effort: a companion that fails to load is left for the main library's own lookup to report.
    private static void PreloadCompanions(string logicalName, string folder)
    {
        if (OperatingSystem.IsWindows())
            return;
        var pending = CompanionPatterns(logicalName)
            .SelectMany(p => SafeFiles(folder, p))
            .ToList();
        // cuDNN's parts depend on each other; retry until a pass loads nothing new.
        bool progress = true;
        while (pending.Count > 0 && progress)
        {
            progress = false;
            foreach (string file in pending.ToArray())
            {
                if (NativeLibrary.TryLoad(file, out _))
                {
                    pending.Remove(file);
                    progress = true;
                }
            }
        }
    }

    private static IEnumerable<string> SafeFiles(string folder, string pattern)
    {
        try
        {
            return Directory.GetFiles(folder, pattern).Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
