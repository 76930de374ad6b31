using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

/// <summary>
/// A compiled kernel file loaded into the current CUDA context (cuModuleLoadData), with its entry
/// points looked up by name (cuModuleGetFunction) and cached. Needs a current context, so only a
/// GPU machine can exercise it.
/// </summary>
internal sealed class CudaModule : IDisposable
{
    private readonly Dictionary<string, nint> functions = new(StringComparer.Ordinal);
    private nint module;

    private CudaModule(nint module, CompiledKernel kernel)
    {
        this.module = module;
        Kernel = kernel;
    }

    /// <summary>The compiled file this module was loaded from.</summary>
    public CompiledKernel Kernel { get; }

    /// <summary>
    /// Loads the CUBIN when there is one (no JIT), else the PTX, which the driver JIT-compiles for
    /// the current device. The emulated device (tests only) always gets the PTX: it binds the
    /// entries it declares to its CPU build of the same source.
    /// </summary>
    /// <param name="kernel">The compiled kernel file.</param>
    /// <returns>The loaded module.</returns>
    public static CudaModule Load(CompiledKernel kernel)
    {
        byte[] image = kernel.Cubin is { } cubin && !CudaRuntime.IsEmulated ? cubin : NulTerminated(kernel.Ptx);
        nint handle;
        // SAFETY: the image array is pinned for the call and the driver copies it before returning.
        unsafe
        {
            fixed (byte* p = image)
                CudaDriver.Check(CudaDriver.cuModuleLoadData(out handle, p));
        }
        return new CudaModule(handle, kernel);
    }

    private static byte[] NulTerminated(string text)
    {
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(text) + 1];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    /// <summary>The function handle of an entry point, looked up once.</summary>
    /// <param name="entryPoint">e.g. <c>relu_fwd_f32</c>.</param>
    /// <returns>The CUfunction.</returns>
    public nint GetFunction(string entryPoint)
    {
        ObjectDisposedException.ThrowIf(module == 0, this);
        lock (functions)
        {
            if (!functions.TryGetValue(entryPoint, out nint f))
            {
                CuResult r = CudaDriver.cuModuleGetFunction(out f, module, entryPoint);
                if (r == CuResult.ErrorNotFound)
                    throw new CudaException(NativeLibraryResolver.Cuda, "cuModuleGetFunction", (int)r,
                        $"{CudaDriver.ErrorName(r)}: no entry point '{entryPoint}' in {Kernel.FileName}");
                CudaDriver.Check(r, "cuModuleGetFunction");
                functions[entryPoint] = f;
            }
            return f;
        }
    }

    /// <summary>Launches an entry point on a stream.</summary>
    /// <param name="entryPoint">The entry-point name.</param>
    /// <param name="grid">Blocks in x (1-D grids; the kernels use grid-stride loops).</param>
    /// <param name="block">Threads per block in x.</param>
    /// <param name="sharedBytes">Dynamic shared memory in bytes.</param>
    /// <param name="stream">The CUstream.</param>
    /// <param name="args">Pointers to each argument value, in the kernel's parameter order.</param>
    // SAFETY: callers pass `args` pointing to one live pointer per kernel parameter, each to a value
    // of the parameter's exact type and size, as cuLaunchKernel requires.
    public unsafe void Launch(string entryPoint, uint grid, uint block, uint sharedBytes, nint stream, void** args)
    {
        nint f = GetFunction(entryPoint);
        CudaDriver.Check(CudaDriver.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, sharedBytes, stream, args, null));
    }

    /// <summary>Unloads the module; its function handles become invalid.</summary>
    public void Dispose()
    {
        if (module != 0)
        {
            CudaDriver.cuModuleUnload(module);
            module = 0;
            functions.Clear();
        }
    }
}
