using NUnit.Framework;

namespace NativeNet.Tests;

/// <summary>Writes the largest deviation of a comparison to the test output (the round-trip table of the ONNX work is read from it).</summary>
internal static class OnnxErrorReport
{
    public static void Write(string what, Tensor expected, Tensor actual)
    {
        var e = expected.ToArray<double>();
        var a = actual.ToArray<double>();
        double maxAbs = 0, scale = 0;
        for (int i = 0; i < Math.Min(e.Length, a.Length); i++)
        {
            maxAbs = Math.Max(maxAbs, Math.Abs(e[i] - a[i]));
            scale = Math.Max(scale, Math.Abs(e[i]));
        }
        TestContext.Out.WriteLine($"ONNX-ROUNDTRIP {what}: max |diff| {maxAbs:E2}, max |diff| / max |expected| {maxAbs / Math.Max(scale, 1e-30):E2} over {e.Length} values");
    }
}
