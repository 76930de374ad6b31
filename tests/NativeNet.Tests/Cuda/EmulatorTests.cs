using NativeNet.Backends.Cuda;
using NativeNet.Interop;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>
/// The emulated CUDA device's own checks (tests/CudaEmulator): each test fails if the emulator were
/// as lax as a real GPU, which may corrupt memory or hang silently. Ignored with the reason unless
/// the emulated driver is the one loaded (NATIVENET_CUDA_LIB_DIR=artifacts/cuda-emulator).
/// </summary>
[TestFixture]
[Category("Emulator")]
[Category("Cuda")]
[NonParallelizable]
public sealed class EmulatorTests
{
    private const int IllegalAddress = 700, InvalidValue = 1, LaunchFailed = 719, OutOfMemory = 2, MisalignedAddress = 716;
    private CudaModule? _module;

    private CudaModule Module => _module ?? throw new InvalidOperationException("the test kernels were not loaded");

    [OneTimeSetUp]
    public void LoadTestKernels()
    {
        CudaTestDevice.RequireEmulator();
        CudaBackend.Get(0).MakeCurrent();
        string source = File.ReadAllText(TestKernelPath());
        _module = CudaModule.Load(KernelCompiler.Shared.Compile("emulator_checks.cu", source, CudaBackend.Get(0).Info.Architecture));
    }

    [OneTimeTearDown]
    public void Unload() => _module?.Dispose();

    [SetUp]
    public void MakeCurrent() => CudaBackend.Get(0).MakeCurrent();

    private static string TestKernelPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "CudaEmulator", "testkernels", "emulator_checks.cu");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("tests/CudaEmulator/testkernels/emulator_checks.cu not found above " + AppContext.BaseDirectory);
    }

    private static ulong Alloc(long bytes)
    {
        CudaDriver.Check(CudaDriver.cuMemAlloc_v2(out ulong p, (nuint)bytes));
        return p;
    }

    private static void Free(ulong p) => CudaDriver.Check(CudaDriver.cuMemFree_v2(p));

    private void WritePastEnd(ulong y, long n, long extra)
    {
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(y);
        args.Add(n);
        args.Add(extra);
        // SAFETY: three arguments of the kernel's exact types, packed by KernelArgs.
        unsafe { args.Invoke(p => Module.Launch("emu_write_past_end_f32", 2, 256, 0, 0, p)); }
    }

    private static CudaException Fails(int status, TestDelegate call)
    {
        var e = Assert.Throws<CudaException>(call)!;
        Assert.That(e.Status, Is.EqualTo(status), e.Message);
        return e;
    }

    [TestCase(1000, TestName = "OneElementPastTheEndIsReported(guard page)")]
    [TestCase(1001, TestName = "OneElementPastTheEndIsReported(poisoned slack)")]
    public void OneElementPastTheEndIsReported(int n)
    {
        ulong y = Alloc(n * 4L);
        try
        {
            var e = Fails(IllegalAddress, () => WritePastEnd(y, n, 0));
            Assert.That(e.Message, Does.Contain("emu_write_past_end_f32"));
            Assert.That(e.Message, Does.Contain($"offset {n * 4}"));
            Assert.That(e.Message, Does.Contain("past"));
            WritePastEnd(y, n - 1, 0);  // the last element itself is in bounds
        }
        finally { Free(y); }
    }

    [Test]
    public void UseAfterFreeIsReportedForKernelsAndCopies()
    {
        ulong y = Alloc(4096);
        Free(y);
        var launch = Fails(IllegalAddress, () => WritePastEnd(y, 10, 0));
        Assert.That(launch.Message, Does.Contain("emu_write_past_end_f32").And.Contain("FREED").And.Contain("use after free"));
        float[] host = new float[4];
        // SAFETY: the host array is pinned for the call and holds the 16 bytes copied.
        var copy = Fails(IllegalAddress, () => { unsafe { fixed (float* h = host) CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(h, y, 16, 0)); } });
        Assert.That(copy.Message, Does.Contain("cuMemcpyDtoHAsync_v2").And.Contain("FREED"));
    }

    [Test]
    public void DoubleFreeIsReported()
    {
        ulong y = Alloc(64);
        Free(y);
        var e = Fails(InvalidValue, () => Free(y));
        Assert.That(e.Message, Does.Contain("double free"));
    }

    [Test]
    public void HostPointerAsDevicePointerIsReported()
    {
        float[] host = new float[16];
        // SAFETY: the address of a pinned host array is passed as a device address on purpose; the
        // emulator must reject it before any kernel code runs.
        unsafe
        {
            fixed (float* h = host)
            {
                ulong fake = (ulong)h;
                var e = Fails(InvalidValue, () => WritePastEnd(fake, 4, 0));
                Assert.That(e.Message, Does.Contain("not a device address"));
            }
        }
    }

    [Test]
    public void MisalignedPointerArgumentIsReported()
    {
        ulong y = Alloc(64);
        try
        {
            var e = Fails(MisalignedAddress, () => WritePastEnd(y + 2, 4, 0));
            Assert.That(e.Message, Does.Contain("emu_write_past_end_f32").And.Contain("not aligned to the 4 bytes"));
        }
        finally { Free(y); }
    }

    [Test]
    public void CopyLargerThanItsAllocationIsReported()
    {
        ulong y = Alloc(40);
        try
        {
            float[] host = new float[11];
            // SAFETY: the host array is pinned and holds the 44 bytes; the device side holds only 40.
            var e = Fails(InvalidValue, () => { unsafe { fixed (float* h = host) CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(y, h, 44, 0)); } });
            Assert.That(e.Message, Does.Contain("cuMemcpyHtoDAsync_v2").And.Contain("overrun").And.Contain("by 4 bytes"));
        }
        finally { Free(y); }
    }

    [Test]
    public void ParameterCountAndSizeMismatchesAreRejected()
    {
        ulong x = Alloc(1024), y = Alloc(64);
        try
        {
            var few = Fails(InvalidValue, () =>
            {
                Span<byte> data = stackalloc byte[64];
                Span<int> offsets = stackalloc int[8];
                var args = new KernelArgs(data, offsets);
                args.Add(x);
                args.Add(y);
                // SAFETY: two valid arguments; the kernel declares three, which the emulator must reject.
                unsafe { args.Invoke(p => Module.Launch("emu_block_sum_f32", 1, 32, 0, 0, p)); }
            });
            Assert.That(few.Message, Does.Contain("emu_block_sum_f32").And.Contain("2 arguments given").And.Contain("3 parameters"));

            var narrow = Fails(InvalidValue, () =>
            {
                Span<byte> data = stackalloc byte[64];
                Span<int> offsets = stackalloc int[8];
                var args = new KernelArgs(data, offsets);
                args.Add(x);
                args.Add(y);
                args.Add(256);  // an int where the kernel takes i64
                // SAFETY: the third argument is 4 bytes of an 8-byte slot; the emulator must reject its size.
                unsafe { args.Invoke(p => Module.Launch("emu_block_sum_f32", 1, 32, 0, 0, p)); }
            });
            Assert.That(narrow.Message, Does.Contain("argument 2 is 4 bytes").And.Contain(".u64"));
        }
        finally { Free(x); Free(y); }
    }

    [Test]
    public void DivergentSyncthreadsIsReported()
    {
        ulong y = Alloc(64 * 4);
        try
        {
            var e = Fails(LaunchFailed, () =>
            {
                Span<byte> data = stackalloc byte[64];
                Span<int> offsets = stackalloc int[8];
                var args = new KernelArgs(data, offsets);
                args.Add(y);
                args.Add(16);
                // SAFETY: the kernel's two arguments (float*, int).
                unsafe { args.Invoke(p => Module.Launch("emu_divergent_sync_f32", 1, 64, 0, 0, p)); }
            });
            Assert.That(e.Message, Does.Contain("emu_divergent_sync_f32").And.Contain("divergent __syncthreads").And.Contain("16 of 64"));
        }
        finally { Free(y); }
    }

    [Test]
    public void BlocksOver1024ThreadsAreRejected()
    {
        ulong y = Alloc(4096 * 4);
        try
        {
            var e = Fails(InvalidValue, () =>
            {
                Span<byte> data = stackalloc byte[64];
                Span<int> offsets = stackalloc int[8];
                var args = new KernelArgs(data, offsets);
                args.Add(y);
                args.Add(0);
                // SAFETY: the kernel's two arguments (float*, int).
                unsafe { args.Invoke(p => Module.Launch("emu_divergent_sync_f32", 1, 1056, 0, 0, p)); }
            });
            Assert.That(e.Message, Does.Contain("emu_divergent_sync_f32").And.Contain("1056 threads"));
        }
        finally { Free(y); }
    }

    private void StaticShared(ulong y, uint dynamicShared)
    {
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(y);
        // SAFETY: the kernel's one argument (float*).
        unsafe { args.Invoke(p => Module.Launch("emu_static_shared_16k_f32", 1, 64, dynamicShared, 0, p)); }
    }

    [Test]
    public void StaticPlusDynamicSharedMemoryOverTheLimitIsRejected()
    {
        ulong y = Alloc(64 * 4);
        try
        {
            StaticShared(y, 32 * 1024);  // 16 KiB static + 32 KiB dynamic: exactly the limit
            float[] got = new float[64];
            // SAFETY: a pinned array of exactly the bytes copied.
            unsafe { fixed (float* h = got) CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(h, y, 256, 0)); }
            Assert.That(got, Is.EqualTo(Enumerable.Range(0, 64).Select(i => (float)(63 - i)).ToArray()));
            var e = Fails(InvalidValue, () => StaticShared(y, 32 * 1024 + 4));
            Assert.That(e.Message, Does.Contain("emu_static_shared_16k_f32").And.Contain("16384 bytes of static and 32772 of dynamic"));
        }
        finally { Free(y); }
    }

    [Test]
    public void AllocationsBeyondTheDeviceMemoryFailWithOutOfMemory()
    {
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem_v2(out nuint total, 0));
        var e = Fails(OutOfMemory, () => Alloc((long)total + 1));
        Assert.That(e.Message, Does.Contain("NNEMU_DEVICE_MEMORY_MB"));
    }

    [Test]
    public void BlockReductionWithShuffleIsRightForEveryBlockSizeFrom32To1024()
    {
        const int blocks = 3, n = 777;
        float[] x = new float[blocks * n];
        for (int i = 0; i < x.Length; i++) x[i] = (i * 7 % 13) - 6;  // small integers: every order sums exactly
        ulong dx = Alloc(x.Length * 4L), dy = Alloc(blocks * 4L);
        try
        {
            // SAFETY: pinned arrays of exactly the sizes copied.
            unsafe { fixed (float* h = x) CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dx, h, (nuint)(x.Length * 4), 0)); }
            Span<byte> data = stackalloc byte[64];
            Span<int> offsets = stackalloc int[8];
            for (uint threads = 32; threads <= 1024; threads += 32)
            {
                var args = new KernelArgs(data, offsets);
                args.Add(dx);
                args.Add(dy);
                args.Add((long)n);
                // SAFETY: the kernel's three arguments (const float*, float*, i64).
                unsafe { args.Invoke(p => Module.Launch("emu_block_sum_f32", blocks, threads, 0, 0, p)); }
                float[] got = new float[blocks];
                // SAFETY: as above.
                unsafe { fixed (float* h = got) CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(h, dy, blocks * 4, 0)); }
                for (int b = 0; b < blocks; b++)
                {
                    float expected = 0;
                    for (int i = 0; i < n; i++) expected += x[b * n + i];
                    Assert.That(got[b], Is.EqualTo(expected), $"block {b} with {threads} threads");
                }
            }
        }
        finally { Free(dx); Free(dy); }
    }

    [Test]
    public void EveryBlockStartsWithPoisonedSharedMemory()
    {
        const int blocks = 3, threads = 64;
        ulong y = Alloc(blocks * threads * 4L);
        try
        {
            Span<byte> data = stackalloc byte[64];
            Span<int> offsets = stackalloc int[8];
            var args = new KernelArgs(data, offsets);
            args.Add(y);
            // SAFETY: the kernel's one argument (float*).
            unsafe { args.Invoke(p => Module.Launch("emu_read_shared_first_f32", blocks, threads, 0, 0, p)); }
            float[] got = new float[blocks * threads];
            // SAFETY: a pinned array of exactly the bytes copied.
            unsafe { fixed (float* h = got) CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(h, y, (nuint)(got.Length * 4), 0)); }
            Assert.That(got, Is.All.NaN, "shared memory read before it is written must be the poison in every block, not the previous block's 1s");
        }
        finally { Free(y); }
    }

    [Test]
    public void ThreadOrderDependentResultsAreReportedAsARace()
    {
        ulong y = Alloc(4);
        try
        {
            var e = Fails(LaunchFailed, () =>
            {
                Span<byte> data = stackalloc byte[64];
                Span<int> offsets = stackalloc int[8];
                var args = new KernelArgs(data, offsets);
                args.Add(y);
                // SAFETY: the kernel's one argument (float*).
                unsafe { args.Invoke(p => Module.Launch("emu_last_writer_wins_f32", 2, 64, 0, 0, p)); }
            });
            Assert.That(e.Message, Does.Contain("emu_last_writer_wins_f32").And.Contain("depends on the order the threads run"));
        }
        finally { Free(y); }
    }

    private sealed class Holder
    {
        public int Value = 1;
    }

    [Test]
    public void ManagedNullDereferencesStillReachTheRuntimeAfterTheFaultHandlerIsInstalled()
    {
        // The emulator's SIGSEGV handler (installed at cuInit) must chain every fault outside an
        // emulated kernel to the runtime's, which turns this one into NullReferenceException.
        Holder? holder = Environment.TickCount == int.MinValue ? new Holder() : null;
        Assert.Throws<NullReferenceException>(() => _ = holder!.Value);
        ulong y = Alloc(1000 * 4);
        try
        {
            Fails(IllegalAddress, () => WritePastEnd(y, 1000, 0));
            Assert.Throws<NullReferenceException>(() => _ = holder!.Value);
        }
        finally { Free(y); }
    }

    [Test]
    public void TheDeviceSaysItIsEmulated()
    {
        Assert.That(CudaRuntime.Devices[0].Name, Does.Contain("emulated"));
        Assert.That(CudaRuntime.Devices[0].ComputeCapabilityMajor, Is.EqualTo(9));
        TestContext.Out.WriteLine($"Cuda tests run on the emulated device: {CudaRuntime.Devices[0]}");
    }
}
