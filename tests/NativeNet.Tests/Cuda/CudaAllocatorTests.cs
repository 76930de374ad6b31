using NativeNet.Backends.Cuda;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>The caching allocator's bookkeeping against a fake device memory; no GPU needed.</summary>
[TestFixture]
[Category("Cuda")]
public sealed class CudaAllocatorTests
{
    /// <summary>Hands out increasing addresses up to a capacity; records every call.</summary>
    private sealed class FakeMemory(long capacity) : IDeviceMemory
    {
        private readonly Dictionary<ulong, long> _live = [];
        private ulong _next = 0x1000;

        public long Capacity { get; set; } = capacity;
        public long Used { get; private set; }
        public int Allocs { get; private set; }
        public int Frees { get; private set; }
        public int Syncs { get; private set; }
        public List<long> Requests { get; } = [];

        public bool TryAllocate(long bytes, out ulong pointer)
        {
            Requests.Add(bytes);
            pointer = 0;
            if (Used + bytes > Capacity) return false;
            pointer = _next;
            _next += (ulong)bytes;
            _live[pointer] = bytes;
            Used += bytes;
            Allocs++;
            return true;
        }

        public void Free(ulong pointer)
        {
            Assert.That(_live.Remove(pointer, out long bytes), Is.True, $"free of unknown pointer {pointer:x}");
            Used -= bytes;
            Frees++;
        }

        public void Synchronize() => Syncs++;
    }

    [TestCase(0, 0)]
    [TestCase(1, 512)]
    [TestCase(512, 512)]
    [TestCase(513, 1024)]
    [TestCase(4000, 4096)]
    [TestCase(1 << 20, 1 << 20)]
    [TestCase((1 << 20) + 1, 2 << 20)]
    [TestCase(5 << 20, 6 << 20)]
    [TestCase(6 << 20, 6 << 20)]
    public void SizesAreRoundedInto512ByteOr2MiBBins(long bytes, long rounded) =>
        Assert.That(CudaAllocator.RoundSize(bytes), Is.EqualTo(rounded));

    [Test]
    public void AFreedBlockIsReusedForTheSameBin()
    {
        var memory = new FakeMemory(1L << 30);
        var allocator = new CudaAllocator(memory, "fake:0");
        var a = allocator.Allocate(1000);
        Assert.That(a.Size, Is.EqualTo(1024));
        allocator.Free(a);
        var b = allocator.Allocate(1020); // same 1024-byte bin
        Assert.That(b.Pointer, Is.EqualTo(a.Pointer));
        var c = allocator.Allocate(2000); // another bin: a new block
        Assert.That(c.Pointer, Is.Not.EqualTo(a.Pointer));
        Assert.That(memory.Allocs, Is.EqualTo(2));

        var s = allocator.Stats;
        Assert.That(s.Allocations, Is.EqualTo(3));
        Assert.That(s.CacheHits, Is.EqualTo(1));
        Assert.That(s.DeviceAllocations, Is.EqualTo(2));
        Assert.That(s.BytesInUse, Is.EqualTo(1024 + 2048));
        Assert.That(s.BytesCached, Is.Zero);
        Assert.That(s.PeakBytesInUse, Is.EqualTo(1024 + 2048));
    }

    [Test]
    public void StatsTrackInUseCachedAndPeak()
    {
        var allocator = new CudaAllocator(new FakeMemory(1L << 30), "fake:0");
        var blocks = Enumerable.Range(0, 4).Select(_ => allocator.Allocate(3 << 20)).ToList(); // 4 MiB each
        Assert.That(allocator.Stats.BytesInUse, Is.EqualTo(16L << 20));
        allocator.Free(blocks[0]);
        allocator.Free(blocks[1]);
        var s = allocator.Stats;
        Assert.That(s.BytesInUse, Is.EqualTo(8L << 20));
        Assert.That(s.BytesCached, Is.EqualTo(8L << 20));
        Assert.That(s.PeakBytesInUse, Is.EqualTo(16L << 20));
        Assert.That(s.ToString(), Does.Contain("cached 8388608 B"));
    }

    [Test]
    public void RepeatedTrainingStepsKeepDeviceAllocationsFlat()
    {
        var memory = new FakeMemory(1L << 30);
        var allocator = new CudaAllocator(memory, "fake:0");
        long[] sizes = [4 * 784 * 100, 4 * 100, 4 * 100 * 10, 4 * 10, 4 * 64 * 100, 4 * 64 * 10];
        for (int step = 0; step < 1000; step++)
        {
            var blocks = sizes.Select(allocator.Allocate).ToList();
            foreach (var b in blocks) allocator.Free(b);
        }
        var s = allocator.Stats;
        Assert.That(s.DeviceAllocations, Is.EqualTo(sizes.Length));
        Assert.That(s.CacheHits, Is.EqualTo(999 * sizes.Length));
        Assert.That(s.BytesInUse, Is.Zero);
        Assert.That(memory.Allocs, Is.EqualTo(sizes.Length));
    }

    [Test]
    public void EmptyCacheReturnsCachedBlocksToTheDevice()
    {
        var memory = new FakeMemory(1L << 30);
        var allocator = new CudaAllocator(memory, "fake:0");
        var keep = allocator.Allocate(100);
        allocator.Free(allocator.Allocate(5000));
        allocator.Free(allocator.Allocate(3 << 20));
        allocator.EmptyCache();
        var s = allocator.Stats;
        Assert.That(s.BytesCached, Is.Zero);
        Assert.That(s.DeviceFrees, Is.EqualTo(2));
        Assert.That(s.BytesInUse, Is.EqualTo(512));
        Assert.That(memory.Frees, Is.EqualTo(2));
        Assert.That(memory.Used, Is.EqualTo(512));
        Assert.That(memory.Syncs, Is.EqualTo(1), "the stream is synchronized before memory goes back to the device");
        allocator.EmptyCache();
        Assert.That(memory.Syncs, Is.EqualTo(1), "nothing cached: no synchronization");
        allocator.Free(keep);
        Assert.That(allocator.Stats.BytesCached, Is.EqualTo(512));
    }

    [Test]
    public void OutOfMemoryFreesTheCacheAndRetriesOnce()
    {
        var memory = new FakeMemory(8L << 20);
        var allocator = new CudaAllocator(memory, "fake:0");
        allocator.Free(allocator.Allocate(3 << 20)); // 4 MiB cached
        allocator.Free(allocator.Allocate(2 << 20)); // 2 MiB cached
        var big = allocator.Allocate(5 << 20); // 6 MiB: fits only after the 6 MiB cache is returned
        Assert.That(big.Size, Is.EqualTo(6L << 20));
        var s = allocator.Stats;
        Assert.That(s.BytesCached, Is.Zero);
        Assert.That(s.DeviceFrees, Is.EqualTo(2));
        Assert.That(s.BytesInUse, Is.EqualTo(6L << 20));
        Assert.That(memory.Requests.Count(r => r == 6L << 20), Is.EqualTo(2), "one failed try, one retry");
    }

    [Test]
    public void OutOfMemoryAfterTheRetryThrowsWithTheSizeAndStatistics()
    {
        var memory = new FakeMemory(4L << 20);
        var allocator = new CudaAllocator(memory, "fake:0");
        var held = allocator.Allocate(3 << 20); // 4 MiB in use
        var e = Assert.Throws<CudaOutOfMemoryException>(() => allocator.Allocate(1000));
        Assert.That(e!.RequestedBytes, Is.EqualTo(1000));
        Assert.That(e.Message, Does.Contain("fake:0").And.Contain("1000 bytes").And.Contain("rounded to 1024").And.Contain("in use 4194304 B"));
        Assert.That(e.Stats.BytesInUse, Is.EqualTo(4L << 20));
        Assert.That(memory.Requests, Has.Count.EqualTo(3), "the first block, then the failed request and its retry");
        allocator.Free(held);
        Assert.DoesNotThrow(() => allocator.Allocate(1000), "after the free the cache is returned and the retry succeeds");
    }

    [Test]
    public void ZeroBytesNeedNoDeviceMemory()
    {
        var memory = new FakeMemory(0);
        var allocator = new CudaAllocator(memory, "fake:0");
        var b = allocator.Allocate(0);
        Assert.That(b, Is.EqualTo(new DeviceBlock(0, 0)));
        allocator.Free(b);
        Assert.That(memory.Requests, Is.Empty);
        Assert.That(allocator.Stats.BytesCached, Is.Zero);
    }

    [Test]
    public void FreeFromAnotherThreadIsBookkeepingOnly()
    {
        var memory = new FakeMemory(1L << 30);
        var allocator = new CudaAllocator(memory, "fake:0");
        var blocks = Enumerable.Range(0, 64).Select(i => allocator.Allocate(512 * (i % 4 + 1))).ToArray();
        Parallel.ForEach(blocks, allocator.Free);
        Assert.That(allocator.Stats.BytesInUse, Is.Zero);
        Assert.That(memory.Frees, Is.Zero);
        Assert.That(allocator.Stats.BytesCached, Is.EqualTo(blocks.Sum(b => b.Size)));
    }

    [Test]
    public void CudaStorageReturnsItsBlockWhenTheLastTensorIsDisposed()
    {
        var allocator = new CudaAllocator(new FakeMemory(1L << 30), "fake:0");
        var device = new Device(DeviceKind.Cuda, 0); // the record's constructor: no driver is consulted
        var storage = CudaStorage.Create(DType.Float32, 300, device, allocator);
        Assert.That(storage.Pointer, Is.Not.Zero);
        Assert.That(allocator.Stats.BytesInUse, Is.EqualTo(1536));
        var t = new Tensor(storage, [300]);
        var view = t.Detach();
        t.Dispose();
        Assert.That(allocator.Stats.BytesInUse, Is.EqualTo(1536), "a view still holds the storage");
        view.Dispose();
        Assert.That(storage.IsFreed, Is.True);
        Assert.That(allocator.Stats.BytesInUse, Is.Zero);
        Assert.That(allocator.Stats.BytesCached, Is.EqualTo(1536));
    }

    [Test]
    public void AForgottenCudaStorageIsReturnedByTheFinalizerWithoutADriverCall()
    {
        var memory = new FakeMemory(1L << 30);
        var allocator = new CudaAllocator(memory, "fake:0");
        CreateAndForget(allocator);
        for (int i = 0; i < 10 && allocator.Stats.BytesInUse != 0; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.That(allocator.Stats.BytesInUse, Is.Zero);
        Assert.That(allocator.Stats.BytesCached, Is.EqualTo(4096));
        Assert.That(memory.Frees, Is.Zero, "the finalizer only returns the block to the cache");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void CreateAndForget(CudaAllocator allocator) =>
        _ = CudaStorage.Create(DType.Float64, 512, new Device(DeviceKind.Cuda, 0), allocator);

    [Test]
    public void AFailedCudaStorageAllocationCreatesNothing()
    {
        var allocator = new CudaAllocator(new FakeMemory(1024), "fake:0");
        long before = MemoryStats.BytesInUse;
        Assert.Throws<CudaOutOfMemoryException>(() => CudaStorage.Create(DType.Float32, 1 << 20, new Device(DeviceKind.Cuda, 0), allocator));
        Assert.That(MemoryStats.BytesInUse, Is.EqualTo(before));
        Assert.That(allocator.Stats.BytesInUse, Is.Zero);
    }
}
