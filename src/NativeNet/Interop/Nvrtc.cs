using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeNet.Backends.Cuda;

namespace NativeNet.Interop;

/// <summary>nvrtcResult.</summary>
internal enum NvrtcResult
{
    Success = 0,
    OutOfMemory = 1,
    ProgramCreationFailure = 2,
    InvalidInput = 3,
    InvalidProgram = 4,
    InvalidOption = 5,
    Compilation = 6,
    BuiltinOperationFailure = 7,
    NoNameExpressionsAfterCompilation = 8,
    NoLoweredNamesBeforeCompilation = 9,
    NameExpressionNotValid = 10,
    InternalError = 11,
}

/// <summary>Bindings to NVRTC, the CUDA runtime compiler (libnvrtc.so.13/.12/.11.2, nvrtc64_*.dll).</summary>
// SAFETY: the pointer-typed signatures mirror nvrtc.h; callers pass NUL-terminated UTF-8 strings and
// buffers at least as large as the matching *Size call reported.
internal static partial class Nvrtc
{
    private const string Lib = NativeLibraryResolver.Nvrtc;

    static Nvrtc() => NativeLibraryResolver.EnsureRegistered();

    [LibraryImport(Lib)] internal static partial NvrtcResult nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] internal static partial NvrtcResult nvrtcGetNumSupportedArchs(out int count);
    [LibraryImport(Lib)] internal static unsafe partial NvrtcResult nvrtcGetSupportedArchs(int* archs);
    [LibraryImport(Lib)] internal static partial nint nvrtcGetErrorString(NvrtcResult result);

    [LibraryImport(Lib)]
    internal static unsafe partial NvrtcResult nvrtcCreateProgram(
        out nint program, byte* source, byte* name, int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] internal static unsafe partial NvrtcResult nvrtcCompileProgram(nint program, int numOptions, byte** options);
    [LibraryImport(Lib)] internal static partial NvrtcResult nvrtcDestroyProgram(ref nint program);

    [LibraryImport(Lib)] internal static partial NvrtcResult nvrtcGetProgramLogSize(nint program, out nuint size);
    [LibraryImport(Lib)] internal static unsafe partial NvrtcResult nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib)] internal static partial NvrtcResult nvrtcGetPTXSize(nint program, out nuint size);
    [LibraryImport(Lib)] internal static unsafe partial NvrtcResult nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib)] internal static partial NvrtcResult nvrtcGetCUBINSize(nint program, out nuint size);
    [LibraryImport(Lib)] internal static unsafe partial NvrtcResult nvrtcGetCUBIN(nint program, byte* cubin);

    /// <summary>Throws <see cref="CudaException"/> naming the call and nvrtcGetErrorString's text unless success.</summary>
    /// <param name="result">The status an NVRTC call returned.</param>
    /// <param name="call">Filled in by the compiler with the call expression.</param>
    public static void Check(NvrtcResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != NvrtcResult.Success)
            throw new CudaException(NativeLibraryResolver.Nvrtc, CudaDriver.FunctionName(call), (int)result, ErrorName(result));
    }

    /// <summary>NVRTC's name for a status (nvrtcGetErrorString), e.g. <c>NVRTC_ERROR_COMPILATION</c>.</summary>
    /// <param name="result">The status.</param>
    /// <returns>The name.</returns>
    public static string ErrorName(NvrtcResult result)
    {
        try
        {
            nint s = nvrtcGetErrorString(result);
            if (s != 0)
                return Marshal.PtrToStringUTF8(s) ?? $"NVRTC_ERROR_{(int)result}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return $"NVRTC_ERROR_{(int)result}";
    }
}
