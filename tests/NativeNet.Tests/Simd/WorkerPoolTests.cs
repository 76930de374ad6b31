using NativeNet.Backends.Simd;
using NUnit.Framework;

namespace NativeNet.Tests.Simd;

/// <summary>The Simd backend's persistent worker pool: every part once, nesting, errors, resizing, concurrent callers.</summary>
[TestFixture]
[NonParallelizable]
public class WorkerPoolTests
{
    private int _savedThreads;

    [SetUp]
    public void SaveThreads() => _savedThreads = SimdBackend.Threads;

    [TearDown]
    public void RestoreThreads() => SimdBackend.Threads = _savedThreads;

    private struct CountParts(int[] hits) : IParallelBody
    {
        public readonly void Run(int part) => Interlocked.Increment(ref hits[part]);
    }

    [Test]
    public void EveryPartRunsExactlyOnce([Values(1, 2, 3, 4)] int threads, [Values(1, 2, 3, 7, 100)] int parts)
    {
        SimdBackend.Threads = threads;
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[parts];
            var body = new CountParts(hits);
            WorkerPool.Run(parts, ref body);
            Assert.That(hits, Is.All.EqualTo(1), $"threads {threads}, parts {parts}, round {round}");
        }
    }

    [Test]
    public void WorkersFollowTheThreadCount()
    {
        var hits = new int[4];
        foreach (int threads in new[] { 3, 2, 4 })
        {
            SimdBackend.Threads = threads;
            var body = new CountParts(hits);
            WorkerPool.Run(4, ref body);
            Assert.That(WorkerPool.WorkerCount, Is.EqualTo(threads - 1));
        }
        Assert.That(hits, Is.All.EqualTo(3));
    }

    private struct Nested(int[] hits, int inner) : IParallelBody
    {
        public readonly void Run(int part)
        {
            var body = new CountParts(hits);
            var offset = new Offset<CountParts>(body, part * inner);
            WorkerPool.Run(inner, ref offset);
        }
    }

    private struct Offset<TBody>(TBody body, int first) : IParallelBody where TBody : struct, IParallelBody
    {
        public readonly void Run(int part)
        {
            var local = body;
            local.Run(first + part);
        }
    }

    [Test]
    public void NestedCallsRunInline()
    {
        SimdBackend.Threads = 2;
        var hits = new int[3 * 5];
        var body = new Nested(hits, 5);
        WorkerPool.Run(3, ref body);
        Assert.That(hits, Is.All.EqualTo(1));
    }

    private struct ThrowOn(int bad) : IParallelBody
    {
        public readonly void Run(int part)
        {
            if (part == bad) throw new InvalidOperationException($"part {part} failed");
        }
    }

    [Test]
    public void AnExceptionInAnyPartReachesTheCallerAndThePoolStaysUsable([Values(0, 1)] int bad)
    {
        SimdBackend.Threads = 2;
        var failing = new ThrowOn(bad);
        var e = Assert.Throws<InvalidOperationException>(() => WorkerPool.Run(2, ref failing));
        Assert.That(e!.Message, Is.EqualTo($"part {bad} failed"));
        var hits = new int[8];
        var body = new CountParts(hits);
        WorkerPool.Run(8, ref body);
        Assert.That(hits, Is.All.EqualTo(1));
    }

    [Test]
    public void ConcurrentCallersAllFinish()
    {
        SimdBackend.Threads = 2;
        var results = new int[4][];
        var callers = Enumerable.Range(0, 4).Select(c => new Thread(() =>
        {
            var hits = new int[64];
            for (int round = 0; round < 200; round++)
            {
                var body = new CountParts(hits);
                WorkerPool.Run(hits.Length, ref body);
            }
            results[c] = hits;
        })).ToArray();
        foreach (var t in callers) t.Start();
        foreach (var t in callers) Assert.That(t.Join(TimeSpan.FromSeconds(30)), Is.True, "a caller hung");
        foreach (var hits in results) Assert.That(hits, Is.All.EqualTo(200));
    }

    private struct Sum(long[] slots) : IParallelBody
    {
        public readonly void Run(int part) => slots[part] += part;
    }

    [Test]
    public void AHandOffAllocatesNothingOnTheCaller()
    {
        SimdBackend.Threads = 2;
        var slots = new long[2];
        var body = new Sum(slots);
        WorkerPool.Run(2, ref body);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) WorkerPool.Run(2, ref body);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero);
        Assert.That(slots[1], Is.EqualTo(1001));
    }

    [TestCase("48K", 48 * 1024)]
    [TestCase("2048K", 2048 * 1024)]
    [TestCase("32M", 32 * 1024 * 1024)]
    [TestCase("65536", 65536)]
    [TestCase("", -1)]
    [TestCase("12Q", -1)]
    public void CacheSizeEntriesParse(string text, long expected) => Assert.That(CacheSizes.ParseSize(text), Is.EqualTo(expected));

    [Test]
    public void CacheSizesFallBackOnlyWhenTheMachineDoesNotSay()
    {
        int l1 = CacheSizes.DataBytes(1, -1);
        if (Directory.Exists("/sys/devices/system/cpu/cpu0/cache/index0"))
            Assert.That(l1, Is.InRange(4 * 1024, 1 << 30));
        Assert.That(CacheSizes.DataBytes(9, 12345), Is.EqualTo(12345));
    }
}
