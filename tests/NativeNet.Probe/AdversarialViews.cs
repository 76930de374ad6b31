using System.Numerics;
using NativeNet.Backends;

namespace NativeNet.Probe;

/// <summary>
/// Builds views with random huge, negative and overflowing starts, lengths, sizes, strides and offsets through every
/// public view API (Narrow, Slice, Expand, Permute, Transpose, Reshape, Unsqueeze, AsStrided, the indexer), checks
/// that every accepted view lies inside its storage and reads exactly the elements its geometry names, and runs the
/// whole <see cref="OpBattery"/> on it under Naive and Simd. Rejections must be clean (an argument or state exception
/// with a message); anything else, an out-of-bounds view, a wrong element or a backend disagreement is a failure.
/// </summary>
public static class AdversarialViews
{
    /// <summary>Views larger than this are checked for bounds but not run through the ops (each op would allocate its size).</summary>
    public const int MaxElementsToRun = 1 << 12;

    /// <summary>Counts of one run.</summary>
    public sealed class Report
    {
        /// <summary>Random cases (one base tensor and a chain of up to three view calls each).</summary>
        public long Cases;
        /// <summary>View API calls made.</summary>
        public long ViewCalls;
        /// <summary>View calls accepted.</summary>
        public long Accepted;
        /// <summary>View calls rejected cleanly.</summary>
        public long Rejected;
        /// <summary>Accepted views too large to run through the ops.</summary>
        public long TooLargeToRun;
        /// <summary>Op runs compared between the backends.</summary>
        public long OpRunsCompared;
        /// <summary>Op runs that both backends rejected cleanly.</summary>
        public long OpRunsRejected;
        /// <summary>Everything that went wrong.</summary>
        public List<string> Failures { get; } = [];
    }

    private static readonly int[] Edges = [0, 1, 2, -1, -2, int.MaxValue, int.MinValue, int.MaxValue - 1, int.MinValue + 1, 1 << 16, 1 << 30, 46341, 65536, -(1 << 30)];

    private static int Adversarial(Random rng, int size)
    {
        return rng.Next(6) switch
        {
            0 => Edges[rng.Next(Edges.Length)],
            1 => size + rng.Next(-2, 3),
            2 => -size + rng.Next(-2, 3),
            3 => int.MaxValue - rng.Next(0, Math.Max(1, size + 2)),
            _ => rng.Next(-1, size + 2),
        };
    }

    /// <summary>Runs <paramref name="cases"/> cases from <paramref name="seed"/>.</summary>
    public static Report Run(int seed, int cases)
    {
        var report = new Report();
        var naive = Backend.FromName("naive");
        var simd = Backend.FromName("simd");
        for (int c = 0; c < cases; c++)
        {
            var rng = new Random(unchecked(seed * 1_000_003 + c));
            report.Cases++;
            if (OpBattery.Trace) Console.Error.WriteLine($"case {c}");
            var dtype = rng.Next(2) == 0 ? DType.Float32 : DType.Float64;
            int rank = rng.Next(1, 5);
            var shape = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 6)).ToArray();
            using var scope = new TensorScope();
            var values = Enumerable.Range(0, ShapeUtil.Numel(shape)).Select(_ => rng.Next(10) == 0 ? Special(rng) : rng.NextDouble() * 6 - 3).ToArray();
            var baseTensor = Tensor.FromArray(values, shape).To(dtype);
            var view = baseTensor;
            int steps = rng.Next(1, 4);
            for (int s = 0; s < steps; s++)
            {
                report.ViewCalls++;
                string call = "";
                try
                {
                    (view, call) = Apply(rng, view, baseTensor.Storage.Length);
                    if (OpBattery.Trace) Console.Error.WriteLine($"  view {call} -> {view.Describe()} base {baseTensor.Describe()}");
                    report.Accepted++;
                }
                catch (Exception e) when (OpBattery.IsCleanRejection(e) || e is IndexOutOfRangeException && e.StackTrace?.Contains("ElementView", StringComparison.Ordinal) == true)
                {
                    report.Rejected++;
                    break;
                }
                catch (Exception e)
                {
                    report.Failures.Add($"case {c}: view call {call} on {view.Describe()} threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
                    break;
                }
                string? bad = CheckGeometry(view);
                if (bad is not null) { report.Failures.Add($"case {c}: {bad}"); break; }
            }
            if (ReferenceEquals(view, baseTensor)) continue;
            if (view.Numel > MaxElementsToRun) { report.TooLargeToRun++; continue; }
            foreach (var p in OpBattery.Compare(view, naive, simd, ref report.OpRunsCompared, ref report.OpRunsRejected))
                report.Failures.Add($"case {c}: {p.Op} on {view.Describe()} strides {ShapeUtil.Format(view.Strides)} offset {view.Offset}: {p.Detail}");
            if (report.Failures.Count > 50) break;
        }
        return report;
    }

    private static double Special(Random rng) => rng.Next(6) switch
    {
        0 => double.NaN, 1 => double.PositiveInfinity, 2 => double.NegativeInfinity, 3 => 3e38, 4 => -3e38, _ => -0.0,
    };

    private static (Tensor, string) Apply(Random rng, Tensor t, int storageLength)
    {
        int rank = t.Rank;
        int Axis() => rng.Next(8) == 0 ? Edges[rng.Next(Edges.Length)] : rng.Next(-rank - 1, rank + 1);
        int Size(int axis) => rank == 0 ? 1 : t.Shape[((axis % rank) + rank) % rank];
        int[] AdvShape(int n) => Enumerable.Range(0, n).Select(i => rng.Next(3) == 0 ? Adversarial(rng, i < rank ? t.Shape[i] : 1) : rng.Next(0, 5)).ToArray();
        switch (rng.Next(9))
        {
            case 0:
            {
                int axis = Axis(), start = Adversarial(rng, Size(axis)), length = Adversarial(rng, Size(axis));
                string call = $"Narrow({axis}, {start}, {length})";
                return (t.Narrow(axis, start, length), call);
            }
            case 1:
            {
                int a = Adversarial(rng, Size(0)), b = Adversarial(rng, Size(0));
                return (t.Slice(a, b), $"Slice({a}, {b})");
            }
            case 2:
            {
                int extra = rng.Next(0, 3);
                var shape = Enumerable.Range(0, rank + extra).Select(i => i < extra ? Adversarial(rng, 2) : rng.Next(2) == 0 ? t.Shape[i - extra] : Adversarial(rng, t.Shape[i - extra])).ToArray();
                return (t.Expand(shape), $"Expand({ShapeUtil.Format(shape)})");
            }
            case 3:
            {
                var axes = Enumerable.Range(0, rank).OrderBy(_ => rng.Next()).ToArray();
                if (rng.Next(4) == 0 && rank > 0) axes[rng.Next(rank)] = Axis();
                return (t.Permute(axes), $"Permute({ShapeUtil.Format(axes)})");
            }
            case 4:
            {
                int a = Axis(), b = Axis();
                return (t.Transpose(a, b), $"Transpose({a}, {b})");
            }
            case 5:
            {
                var shape = rng.Next(3) == 0 ? [t.Numel] : AdvShape(rng.Next(0, 5));
                if (rng.Next(3) == 0 && shape.Length > 0) shape[rng.Next(shape.Length)] = -1;
                return (t.Reshape(shape), $"Reshape({ShapeUtil.Format(shape)})");
            }
            case 6:
            {
                int axis = Axis();
                return (t.Unsqueeze(axis), $"Unsqueeze({axis})");
            }
            case 7:
            {
                int n = rng.Next(0, 5);
                var shape = Enumerable.Range(0, n).Select(_ => rng.Next(3) == 0 ? Adversarial(rng, 4) : rng.Next(0, 6)).ToArray();
                var strides = Enumerable.Range(0, n).Select(_ => rng.Next(3) == 0 ? Adversarial(rng, 4) : rng.Next(0, 8)).ToArray();
                long offset = rng.Next(4) switch { 0 => Adversarial(rng, storageLength), 1 => (long)int.MaxValue + rng.Next(1, 100), 2 => -rng.Next(1, 100), _ => rng.Next(0, storageLength + 2) };
                return (t.AsStrided(shape, strides, offset), $"AsStrided({ShapeUtil.Format(shape)}, {ShapeUtil.Format(strides)}, {offset})");
            }
            default:
            {
                var index = Enumerable.Range(0, rank + (rng.Next(6) == 0 ? 1 : 0)).Select(i => rng.Next(2) == 0 ? Adversarial(rng, Size(i)) : rng.Next(0, Size(i))).ToArray();
                double v = t[index];
                _ = v;
                return (t, $"indexer[{string.Join(", ", index)}]");
            }
        }
    }

    /// <summary>Null when the view lies inside the storage and reads exactly the elements its geometry names.</summary>
    private static string? CheckGeometry(Tensor view)
    {
        int storageLength = view.Storage.Length;
        double[] storageValues = view.Storage switch
        {
            CpuStorage<float> f => f.Data.Select(v => (double)v).ToArray(),
            CpuStorage<double> d => d.Data,
            _ => [],
        };
        if (view.Shape.Length != view.Strides.Length) return $"view {view.Describe()} has {view.Strides.Length} strides";
        var numel = BigInteger.One;
        foreach (int d in view.Shape) { if (d < 0) return $"accepted a negative size in {view.Describe()}"; numel *= d; }
        if (numel != view.Numel) return $"view {view.Describe()} reports Numel {view.Numel}, its shape multiplies to {numel}";
        if (numel == 0) return null;
        var last = new BigInteger(view.Offset);
        for (int i = 0; i < view.Rank; i++)
        {
            if (view.Strides[i] < 0) return $"accepted a negative stride in {view.Describe()}";
            last += (BigInteger)(view.Shape[i] - 1) * view.Strides[i];
        }
        if (view.Offset < 0 || last >= storageLength)
            return $"accepted view {view.Describe()} strides {ShapeUtil.Format(view.Strides)} offset {view.Offset} reaches element {last} of a storage of {storageLength}";
        if (view.Numel > MaxElementsToRun) return null;
        var got = view.ToArray<double>();
        var index = new int[view.Rank];
        for (int k = 0; k < got.Length; k++)
        {
            long off = view.Offset;
            for (int d = 0; d < view.Rank; d++) off += (long)index[d] * view.Strides[d];
            double want = storageValues[off];
            if (!(want.Equals(got[k]))) return $"view {view.Describe()} strides {ShapeUtil.Format(view.Strides)} offset {view.Offset}: element {k} is {got[k]:R}, storage element {off} is {want:R}";
            for (int d = view.Rank - 1; d >= 0; d--)
            {
                if (++index[d] < view.Shape[d]) break;
                index[d] = 0;
            }
        }
        return null;
    }
}
