using System.Reflection;
using System.Runtime.Intrinsics;
using NativeNet.Backends;

namespace NativeNet.Cli;

/// <summary><c>nativenet info</c>: version, backends and what the machine offers.</summary>
internal static class InfoCommand
{
    public static int Run(CliArgs args, CliConsole console)
    {
        args.RejectUnknown("info");
        var version = typeof(Tensor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        console.Out.WriteLine($"NativeNet {version.Split('+')[0]}");
        console.Out.WriteLine($"runtime       .NET {Environment.Version} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription} ({System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture})");
        console.Out.WriteLine($"cores         {Environment.ProcessorCount}");
        console.Out.WriteLine($"simd width    {SimdWidth()}");
        console.Out.WriteLine("backends:");
        foreach (var name in new[] { "naive", "simd", "cuda" })
        {
            string status;
            try { status = $"available{(Backend.DefaultCpu.Name == name ? " (default for CPU tensors)" : "")}"; _ = Backend.FromName(name); }
            catch (Exception e) { status = "unavailable: " + e.Message; }
            console.Out.WriteLine($"  {name,-6} {status}");
        }
        if (NativeNet.Backends.Cuda.CudaRuntime.IsEmulated)
            console.Out.WriteLine("cuda: emulated device (tests only)");
        return 0;
    }

    private static string SimdWidth() =>
        Vector512.IsHardwareAccelerated ? "512-bit (16 floats; AVX-512)"
        : Vector256.IsHardwareAccelerated ? "256-bit (8 floats; AVX2)"
        : Vector128.IsHardwareAccelerated ? "128-bit (4 floats)"
        : "none (scalar)";
}
