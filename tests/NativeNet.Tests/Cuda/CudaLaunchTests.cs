using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeNet.Backends;
using NativeNet.Backends.Cuda;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>Host-side launch shapes and argument marshalling of the Cuda backend; pure functions, no GPU needed.</summary>
[TestFixture]
[Category("Cuda")]
public sealed class CudaLaunchTests
{
    [Test]
    public void StridedStructsMatchTheLayoutOfCommonCuh()
    {
        // struct { int rank; i64 shape[8]; i64 strideK[8]...; }: rank at 0, padded to 8, then 64 bytes per array.
        Assert.That(Unsafe.SizeOf<Strided2>(), Is.EqualTo(8 + 3 * 64));
        Assert.That(Unsafe.SizeOf<Strided3>(), Is.EqualTo(8 + 4 * 64));
        Assert.That(Unsafe.SizeOf<Strided4>(), Is.EqualTo(8 + 5 * 64));
        Assert.That(Marshal.OffsetOf<Strided3>(nameof(Strided3.Rank)), Is.EqualTo((nint)0));
        Assert.That(Marshal.OffsetOf<Strided3>(nameof(Strided3.Shape)), Is.EqualTo((nint)8));
        Assert.That(Marshal.OffsetOf<Strided3>(nameof(Strided3.Stride0)), Is.EqualTo((nint)72));
        Assert.That(Marshal.OffsetOf<Strided3>(nameof(Strided3.Stride2)), Is.EqualTo((nint)200));
        Assert.That(Marshal.OffsetOf<Strided4>(nameof(Strided4.Stride3)), Is.EqualTo((nint)264));
        Assert.That(Marshal.OffsetOf<Strided2>(nameof(Strided2.Stride1)), Is.EqualTo((nint)136));
    }

    [Test]
    public void ToStrided3WritesShapeAndStridesAtTheirOffsets()
    {
        var layout = new StridedLayout([2, 3], [[3, 1], [0, 1], [3, 1]]);
        Strided3 s = LaunchShape.ToStrided3("test", layout);
        byte[] bytes = new byte[Unsafe.SizeOf<Strided3>()];
        MemoryMarshal.Write(bytes, in s);
        long At(int offset) => BitConverter.ToInt64(bytes, offset);
        Assert.That(BitConverter.ToInt32(bytes, 0), Is.EqualTo(2));
        Assert.That((At(8), At(16)), Is.EqualTo((2L, 3L)));
        Assert.That((At(72), At(80)), Is.EqualTo((3L, 1L)));
        Assert.That((At(136), At(144)), Is.EqualTo((0L, 1L)));
        Assert.That((At(200), At(208)), Is.EqualTo((3L, 1L)));
        Assert.That(At(24), Is.Zero, "unused dimensions stay zero");
    }

    [Test]
    public void GridIsCeilOfNOver256CappedAtSmsTimes32()
    {
        Assert.That(LaunchShape.Grid(0, 132), Is.EqualTo(0u));
        Assert.That(LaunchShape.Grid(1, 132), Is.EqualTo(1u));
        Assert.That(LaunchShape.Grid(256, 132), Is.EqualTo(1u));
        Assert.That(LaunchShape.Grid(257, 132), Is.EqualTo(2u));
        Assert.That(LaunchShape.Grid(1L << 40, 132), Is.EqualTo(132u * 32));
        Assert.That(LaunchShape.Grid(1000, 0), Is.EqualTo(1u), "an unknown SM count still launches");
    }

    [Test]
    public void SliceLaunchesUseWarpMultiplesAndOneBlockPerSlice()
    {
        Assert.That(LaunchShape.SliceThreads(1), Is.EqualTo(32u));
        Assert.That(LaunchShape.SliceThreads(33), Is.EqualTo(64u));
        Assert.That(LaunchShape.SliceThreads(100_000), Is.EqualTo(256u));
        for (int d = 0; d < 2000; d += 7) Assert.That(LaunchShape.SliceThreads(d) % 32, Is.Zero);
        Assert.That(LaunchShape.SliceGrid(0, 100), Is.EqualTo(0u));
        Assert.That(LaunchShape.SliceGrid(10, 100), Is.EqualTo(10u));
        Assert.That(LaunchShape.SliceGrid(1_000_000, 100), Is.EqualTo(3200u));
    }

    [Test]
    public void BlockReductionForLongAxesFewOutputsOrInnerOne()
    {
        Assert.That(LaunchShape.UseBlockReduction(1, 1_000_000, 1, 100), Is.True);
        Assert.That(LaunchShape.UseBlockReduction(64, 10, 1, 100), Is.False, "a short axis: one thread per output");
        Assert.That(LaunchShape.UseBlockReduction(1, 4096, 1_000_000, 100), Is.False, "many outputs adjacent along inner");
        Assert.That(LaunchShape.UseBlockReduction(1, 4096, 100, 100), Is.True);
    }

    [Test]
    public void CoalesceMergesContiguousRunsAndDropsUnitDims()
    {
        // A contiguous [2,3,4] walked by two operands: one dimension of 24.
        var c = LaunchShape.Coalesce([2, 3, 4], [12, 4, 1], [12, 4, 1]);
        Assert.That(c.Shape, Is.EqualTo(new long[] { 24 }));
        Assert.That(c.Strides[0], Is.EqualTo(new long[] { 1 }));

        // b broadcast along the last axis ([2,3,1] expanded to [2,3,4]): the first two axes merge, the last stays.
        var b = LaunchShape.Coalesce([2, 3, 4], [12, 4, 1], [3, 1, 0], [12, 4, 1]);
        Assert.That(b.Shape, Is.EqualTo(new long[] { 6, 4 }));
        Assert.That(b.Strides[1], Is.EqualTo(new long[] { 1, 0 }));
        Assert.That(b.Strides[0], Is.EqualTo(new long[] { 4, 1 }));

        // A transpose cannot merge; unit dimensions vanish.
        var t = LaunchShape.Coalesce([3, 1, 2], [1, 99, 3], [2, 2, 1]);
        Assert.That(t.Shape, Is.EqualTo(new long[] { 3, 2 }));
        Assert.That(t.Strides[0], Is.EqualTo(new long[] { 1, 3 }));
        Assert.That(t.Strides[1], Is.EqualTo(new long[] { 2, 1 }));

        var scalar = LaunchShape.Coalesce([1, 1], [5, 5], [1, 1]);
        Assert.That(scalar.Rank, Is.Zero);
    }

    [Test]
    public void CoalescedLayoutAddressesTheSameElements()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int rank = rng.Next(1, 7);
            int[] shape = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 4)).ToArray();
            int[] dense = ShapeUtil.ContiguousStrides(shape);
            int[] other = shape.Select((d, i) => rng.Next(3) == 0 ? 0 : dense[i] * (rng.Next(2) + 1)).ToArray();
            var layout = LaunchShape.Coalesce(shape, dense, other);
            int n = ShapeUtil.Numel(shape);
            for (int linear = 0; linear < n; linear++)
            {
                Assert.That(Offsets(layout, linear), Is.EqualTo((Offset(shape, dense, linear), Offset(shape, other, linear))),
                    $"shape [{string.Join(",", shape)}] strides [{string.Join(",", other)}] element {linear}");
            }
        }
    }

    private static long Offset(int[] shape, int[] strides, long linear)
    {
        long o = 0;
        for (int d = shape.Length - 1; d >= 0; d--) { o += linear % shape[d] * strides[d]; linear /= shape[d]; }
        return o;
    }

    // The walk of nn_offsets2 in common.cuh.
    private static (long, long) Offsets(StridedLayout s, long linear)
    {
        long o0 = 0, o1 = 0;
        for (int d = s.Rank - 1; d >= 0; d--)
        {
            long c = linear % s.Shape[d];
            linear /= s.Shape[d];
            o0 += c * s.Strides[0][d];
            o1 += c * s.Strides[1][d];
        }
        return (o0, o1);
    }

    [Test]
    public void MoreThanEightUnmergeableDimensionsAreRejectedClearly()
    {
        int[] shape = Enumerable.Repeat(2, 9).ToArray();
        int[] strided = Enumerable.Range(0, 9).Select(i => 1 << (2 * (8 - i))).ToArray(); // every axis has a gap
        var layout = LaunchShape.Coalesce(shape, strided, ShapeUtil.ContiguousStrides(shape));
        Assert.That(layout.Rank, Is.EqualTo(9));
        var e = Assert.Throws<NotSupportedException>(() => LaunchShape.ToStrided2("Copy", layout));
        Assert.That(e!.Message, Does.Contain("Copy").And.Contain("at most 8"));
    }

    [Test]
    public void KernelArgsAlignEachValueTo8Bytes()
    {
        Span<byte> data = stackalloc byte[512];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(0x1122334455667788UL);
        args.Add(3.5f);
        args.Add(42L);
        args.Add(new Strided2 { Rank = 1 });
        args.Add(-1);
        Assert.That(args.Count, Is.EqualTo(5));
        Assert.That(args.OffsetOf(0), Is.EqualTo(0));
        Assert.That(args.OffsetOf(1), Is.EqualTo(8));
        Assert.That(args.OffsetOf(2), Is.EqualTo(16));
        Assert.That(args.OffsetOf(3), Is.EqualTo(24));
        Assert.That(args.OffsetOf(4), Is.EqualTo(24 + 200));
        Assert.That(BitConverter.ToUInt64(args.Data[..8]), Is.EqualTo(0x1122334455667788UL));
        Assert.That(BitConverter.ToSingle(args.Data[8..12]), Is.EqualTo(3.5f));
        Assert.That(BitConverter.ToInt64(args.Data[16..24]), Is.EqualTo(42L));
        Assert.That(BitConverter.ToInt32(args.Data[24..28]), Is.EqualTo(1));
        Assert.That(BitConverter.ToInt32(args.Data[224..228]), Is.EqualTo(-1));
    }

    [Test]
    public unsafe void KernelArgsPointersAddressTheValues()
    {
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[4];
        var args = new KernelArgs(data, offsets);
        args.Add(7L);
        args.Add(2.25);
        long first = 0;
        double second = 0;
        args.Invoke(p =>
        {
            first = *(long*)p[0];
            second = *(double*)p[1];
        });
        Assert.That((first, second), Is.EqualTo((7L, 2.25)));
    }

    [Test]
    public unsafe void KernelParamsEndWithNullTheMarkerAndEachArgumentsSize()
    {
        Span<byte> data = stackalloc byte[512];
        Span<int> offsets = stackalloc int[4];
        var args = new KernelArgs(data, offsets);
        args.Add(7L);
        args.Add(1.5f);
        args.Add(new Strided3 { Rank = 2 });
        ulong[] trailer = new ulong[5];
        args.Invoke(p =>
        {
            for (int i = 0; i < trailer.Length; i++) trailer[i] = (ulong)p[3 + i];
        });
        Assert.That(trailer, Is.EqualTo(new ulong[] { 0, KernelArgs.SizesMarker, 8, 4, (ulong)sizeof(Strided3) }));
        Assert.That(args.SizeOf(2), Is.EqualTo(sizeof(Strided3)));
    }

    [Test]
    public void KernelArgsOverflowThrows()
    {
        Assert.Throws<InvalidOperationException>(() =>
        {
            Span<byte> data = stackalloc byte[16];
            Span<int> offsets = stackalloc int[4];
            var args = new KernelArgs(data, offsets);
            args.Add(1L);
            args.Add(2L);
            args.Add(3L);
        });
    }

    [Test]
    public void BlasLdIgnoresTheStrideOfASingleRowAndRejectsOverlappingRows()
    {
        Assert.That(LaunchShape.BlasLd("Gemm", 5, 3, 4), Is.EqualTo(5));
        Assert.That(LaunchShape.BlasLd("Gemm", 0, 1, 4), Is.EqualTo(4));
        Assert.That(LaunchShape.BlasLd("Gemm", 1, 1, 0), Is.EqualTo(1));
        var e = Assert.Throws<ArgumentException>(() => LaunchShape.BlasLd("Gemm", 2, 3, 4));
        Assert.That(e!.Message, Does.Contain("row stride 2"));
    }

    [Test]
    public void EveryUnaryAndBinaryOpHasItsKernelInTheCatalog()
    {
        foreach (UnaryOp op in Enum.GetValues<UnaryOp>())
        {
            var (name, _) = CudaBackend.UnaryKernel(op);
            Assert.DoesNotThrow(() => KernelCatalog.Get(name + "_fwd", KernelElementType.Float32), op.ToString());
            Assert.DoesNotThrow(() => KernelCatalog.Get(name + "_fwd", KernelElementType.Float64), op.ToString());
        }
        foreach (BinaryOp op in Enum.GetValues<BinaryOp>())
        {
            var (name, isGrad, _) = CudaBackend.BinaryKernel(op);
            Assert.DoesNotThrow(() => KernelCatalog.Get(name, KernelElementType.Float32), op.ToString());
            if (!isGrad) Assert.DoesNotThrow(() => KernelCatalog.Get(name + "_contig", KernelElementType.Float64), op.ToString());
        }
    }

    [Test]
    public void UnaryKernelScalarCountsMatchTheKernelSignatures()
    {
        // The kernels take (x, y, n) plus 0, 1 or 2 scalars (elementwise.cu's NN_UNARY0/1/2).
        string source = KernelCompiler.ReadSource("elementwise.cu");
        foreach (UnaryOp op in Enum.GetValues<UnaryOp>())
        {
            var (name, scalars) = CudaBackend.UnaryKernel(op);
            Assert.That(source, Does.Contain($"NN_UNARY{scalars}({name}, "), op.ToString());
        }
    }
}
