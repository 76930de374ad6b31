using NativeNet.Backends;
using NativeNet.Backends.Cuda;
using NativeNet.Backends.Naive;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>
/// Every primitive of the Cuda backend against the Naive oracle (Float32, |Δ| ≤ 1e-5 + 1e-4·|ref|), gradients
/// through the tape on the GPU against the CPU, allocator stability over training steps and the fused kernels.
/// Ignored with the reason where no CUDA device exists; run them with <c>dotnet test --filter Category=Gpu</c>.
/// </summary>
[TestFixture]
[Category("Gpu")]
[Category("Cuda")]
[NonParallelizable]
public sealed class CudaBackendGpuTests
{
    private static Device Gpu => Device.Cuda(0);
    private static CudaBackend Cuda => CudaBackend.Get(0);

    [SetUp]
    public void RequireDevice()
    {
        CudaTestDevice.Require();
    }

    private static Tensor Randn(int seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new Generator(seed));

    /// <summary>f on the CPU tensors with the Naive backend against f on their GPU copies.</summary>
    private static void Agree(string what, Func<Tensor[], Tensor> f, params Tensor[] cpu)
    {
        Tensor expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = f(cpu);
        var gpu = cpu.Select(t => t.To(Gpu)).ToArray();
        try
        {
            using var actual = f(gpu);
            Assert.That(actual.Device, Is.EqualTo(Gpu), what);
            Assert.That(actual.DType, Is.EqualTo(expected.DType), what);
            Assert.That(actual.ShapeArray, Is.EqualTo(expected.ShapeArray), what);
            var exp = expected.ToArray<double>();
            var got = actual.ToArray<double>();
            for (int i = 0; i < exp.Length; i++)
            {
                if (double.IsNaN(exp[i])) { Assert.That(double.IsNaN(got[i]), $"{what}: element {i}: expected NaN, got {got[i]}"); continue; }
                if (double.IsInfinity(exp[i])) { Assert.That(got[i], Is.EqualTo(exp[i]), $"{what}: element {i}"); continue; }
                Assert.That(Math.Abs(got[i] - exp[i]), Is.LessThanOrEqualTo(1e-5 + 1e-4 * Math.Abs(exp[i])), $"{what}: element {i}: expected {exp[i]}, got {got[i]}");
            }
        }
        finally
        {
            expected.Dispose();
            foreach (var t in gpu) t.Dispose();
        }
    }

    // ---- memory and transfers ----

    [Test]
    public void UploadDownloadRoundTripsEveryDType()
    {
        using var f = Tensor.FromArray([1.5f, -2, 3, float.NaN], 2, 2);
        using var d = Tensor.FromArray([1e300, -0.0, 7], 3);
        using var i = Tensor.FromArray([int.MinValue, 0, int.MaxValue], 3);
        foreach (var t in new[] { f, d, i })
        {
            using var g = t.To(Gpu);
            Assert.That(g.Device, Is.EqualTo(Gpu));
            Assert.That(g.Storage, Is.InstanceOf<CudaStorage>());
            using var back = g.ToCpu();
            Assert.That(back.ToArray<double>(), Is.EqualTo(t.ToArray<double>()));
        }
        using var empty = Tensor.Zeros([0, 3], DType.Float32, Gpu);
        Assert.That(empty.ToArray(), Is.Empty);
    }

    [Test]
    public void ZerosFullFillAndCasts()
    {
        using var z = Tensor.Zeros([5, 7], DType.Float64, Gpu);
        Assert.That(z.ToArray<double>(), Is.All.EqualTo(0.0));
        using var full = Tensor.Full([3, 4], 2.5, DType.Float32, Gpu);
        Assert.That(full.ToArray(), Is.All.EqualTo(2.5f));
        using var ints = Tensor.Full([9], -3, DType.Int32, Gpu);
        Assert.That(ints.ToArray<int>(), Is.All.EqualTo(-3));
        using var col = full.Narrow(1, 1, 1); // strided fill
        col.Backend.Fill(col, 9);
        Assert.That(full.ToArray(), Is.EqualTo(new[] { 2.5f, 9, 2.5f, 2.5f, 2.5f, 9, 2.5f, 2.5f, 2.5f, 9, 2.5f, 2.5f }));

        using var x = Tensor.FromArray([1.7f, -2.7f, 3e9f, float.NaN], 4);
        Agree("cast f32->f64", t => t[0].To(DType.Float64), x);
        Agree("cast f32->i32", t => t[0].To(DType.Int32), x);
        using var xi = Tensor.FromArray([1, -2, 3], 3);
        Agree("cast i32->f32", t => t[0].To(DType.Float32), xi);
        using var xd = Tensor.FromArray([1.25, -2.5], 2);
        Agree("cast f64->f32", t => t[0].To(DType.Float32), xd);
        using var m = Randn(1, 3, 4, 5);
        Agree("cast of a permuted view", t => Raw.CastTo(Raw.Permute(t[0], [2, 0, 1]), DType.Float64), m);
    }

    [Test]
    public void StridedCopiesMakeViewsContiguous()
    {
        using var x = Randn(2, 4, 5, 6);
        Agree("permute", t => Raw.Contiguous(Raw.Permute(t[0], [2, 0, 1])), x);
        Agree("narrow", t => Raw.Contiguous(Raw.Narrow(t[0], 1, 1, 3)), x);
        Agree("expand", t => Raw.Contiguous(Raw.BroadcastTo("test", Raw.Narrow(t[0], 0, 0, 1), [3, 5, 6])), x);
        Agree("copy into a slice", t =>
        {
            var dst = Tensor.Zeros([4, 5, 6], DType.Float32, t[0].Device);
            using var slice = Raw.Narrow(dst, 2, 2, 3);
            using var src = Raw.Narrow(t[0], 2, 0, 3);
            Raw.CopyInto(src, slice);
            return dst;
        }, x);
    }

    [Test]
    public void MemoryStatsSynchronizeAndEmptyCache()
    {
        var before = Cuda.Memory;
        using (var t = Tensor.Zeros([1000, 1000], DType.Float32, Gpu))
        {
            Assert.That(Cuda.Memory.BytesInUse, Is.GreaterThanOrEqualTo(before.BytesInUse + 4_000_000));
        }
        Cuda.Synchronize();
        Assert.That(Cuda.Memory.BytesInUse, Is.EqualTo(before.BytesInUse));
        if (CudaRuntime.IsEmulated)
        {
            // The emulated device's allocator is exact and uncached, so every free reaches the driver's quarantine.
            Assert.That(Cuda.Memory.BytesCached, Is.Zero);
            Assert.That(Cuda.Memory.DeviceFrees, Is.GreaterThan(before.DeviceFrees));
        }
        else
            Assert.That(Cuda.Memory.BytesCached, Is.GreaterThanOrEqualTo(4_000_000));
        Cuda.EmptyCache();
        Assert.That(Cuda.Memory.BytesCached, Is.Zero);
        using var again = Tensor.Zeros([1000, 1000], DType.Float32, Gpu);
        Assert.That(again.ToArray(), Is.All.EqualTo(0f));
    }

    // ---- elementwise ----

    [Test]
    public void EveryUnaryOpAgreesWithNaive([Values] UnaryOp op)
    {
        (double a, double b) = op switch
        {
            UnaryOp.LeakyRelu => (0.1, 0),
            UnaryOp.Elu => (1.3, 0),
            UnaryOp.PowScalar => (3, 0),
            UnaryOp.AddScalar => (0.75, 0),
            UnaryOp.MulScalar => (-1.5, 0),
            UnaryOp.Clip => (-0.5, 0.4),
            _ => (0, 0),
        };
        using var x = Randn(3, 5, 67);
        using var special = Tensor.FromArray([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 30, -30, 1e-30f], 8);
        foreach (int n in new[] { 0, 1, 31, 32, 33, 255, 256, 257, 1000 })
        {
            using var v = Randn(n, n);
            Agree($"{op} length {n}", t => Raw.Unary(op, t[0], a, b), v);
        }
        Agree($"{op} contiguous", t => Raw.Unary(op, t[0], a, b), x);
        Agree($"{op} transposed view", t => Raw.Unary(op, Raw.Permute(t[0], [1, 0]), a, b), x);
        Agree($"{op} special values", t => Raw.Unary(op, t[0], a, b), special);
    }

    [Test]
    public void EveryBinaryOpAgreesWithNaiveWithBroadcastAndStrides([Values] BinaryOp op)
    {
        using var a = Randn(4, 4, 1, 5);
        using var b = Randn(5, 3, 5);
        using var same = Randn(6, 4, 3, 5);
        using var bt = Randn(7, 5, 3);
        Agree($"{op} same shape", t => Raw.Binary(op, t[0], t[1], 0.2), same, same);
        Agree($"{op} broadcast", t => Raw.Binary(op, t[0], t[1], 0.2), a, b);
        Agree($"{op} transposed operand", t => Raw.Binary(op, t[0], Raw.Permute(t[1], [1, 0]), 0.2), b, bt);
        Agree($"{op} scalar operand", t => Raw.Binary(op, t[0], Raw.Narrow(Raw.Narrow(t[1], 0, 1, 1), 1, 2, 1), 0.2), same, b);
        foreach (int n in new[] { 0, 1, 33, 257 })
        {
            using var x = Randn(10 + n, n);
            using var y = Randn(20 + n, n);
            Agree($"{op} length {n}", t => Raw.Binary(op, t[0], t[1], 0.2), x, y);
        }
    }

    [Test]
    public void WhereSelectsWithBroadcast()
    {
        using var x = Randn(8, 6, 7);
        using var y = Randn(9, 1, 7);
        Agree("where", t =>
        {
            using var zero = Tensor.Zeros([1], DType.Float32, t[0].Device);
            using var cond = Raw.Binary(BinaryOp.Greater, t[0], zero);
            return Raw.Where(cond, t[0], t[1]);
        }, x, y);
    }

    // ---- reductions and softmax ----

    [Test]
    public void ReductionsAgreeOnEveryAxis([Values] ReduceOp op)
    {
        int[][] shapes = [[7, 300, 5], [1, 100_000], [1000, 3], [2, 3, 4, 5], [33]];
        foreach (var shape in shapes)
        {
            using var x = Randn(11, shape);
            for (int axis = 0; axis < shape.Length; axis++)
                Agree($"{op} {ShapeUtil.Format(shape)} axis {axis}", t => Raw.Reduce(op, t[0], [axis], false), x);
            Agree($"{op} {ShapeUtil.Format(shape)} all", t => Raw.Reduce(op, t[0], null, false), x);
        }
        using var withNaN = Tensor.FromArray([1f, float.NaN, 3, 4, 5, 6], 2, 3);
        if (op != ReduceOp.Sum) Agree($"{op} NaN propagates", t => Raw.Reduce(op, t[0], [1], false), withNaN);
        using var empty = Tensor.Zeros([3, 0], DType.Float32);
        if (op == ReduceOp.Sum) Agree("sum of an empty axis", t => Raw.Reduce(op, t[0], [1], false), empty);
    }

    [Test]
    public void ArgMaxTakesTheFirstMaximumAndNaN()
    {
        using var ties = Tensor.FromArray([1f, 5, 5, 2, float.NaN, 7, 3, float.NaN, 0, 0, 0, 0], 3, 4);
        Agree("argmax rows", t => Raw.ArgMax(t[0], 1, false), ties);
        Agree("argmax cols", t => Raw.ArgMax(t[0], 0, false), ties);
        using var big = Randn(12, 3, 5000);
        Agree("argmax long rows", t => Raw.ArgMax(t[0], 1, false), big);
        using var many = Randn(13, 4096, 10);
        Agree("argmax many short rows", t => Raw.ArgMax(t[0], 1, false), many);
    }

    [Test]
    public void SoftmaxForwardAndBackwardOnEveryAxis([Values] bool log)
    {
        foreach (var shape in new[] { new[] { 4, 10 }, [3, 1000, 2], [2, 3, 5], [1, 5000] })
        {
            using var x = Tensor.Normal(shape, 0, 5, new Generator(14));
            using var dy = Randn(15, shape);
            for (int axis = 0; axis < shape.Length; axis++)
            {
                Agree($"softmax log={log} {ShapeUtil.Format(shape)} axis {axis}", t => Raw.Softmax(t[0], axis, log), x);
                Agree($"softmax backward log={log} {ShapeUtil.Format(shape)} axis {axis}", t =>
                {
                    using var y = Raw.Softmax(t[0], axis, log);
                    return Raw.SoftmaxBackward(y, t[1], axis, log);
                }, x, dy);
            }
        }
        using var huge = Tensor.FromArray([1000f, 0, -1000, 999], 1, 4);
        Agree($"softmax log={log} huge logits", t => Raw.Softmax(t[0], 1, log), huge);
    }

    // ---- matrix products ----

    [Test]
    public void MatMulAllTransposesAndBatches([Values] bool transA, [Values] bool transB)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (17, 33, 9), (64, 1, 130), (5, 70, 1) })
        {
            using var a = Randn(16, transA ? [k, m] : [m, k]);
            using var b = Randn(17, transB ? [n, k] : [k, n]);
            Agree($"matmul {m}x{n}x{k} tA={transA} tB={transB}", t => Raw.MatMul(t[0], t[1], transA, transB), a, b);
            using var a3 = Randn(18, transA ? [3, k, m] : [3, m, k]);
            using var b3 = Randn(19, transB ? [3, n, k] : [3, k, n]);
            Agree($"batched matmul {m}x{n}x{k}", t => Raw.MatMul(t[0], t[1], transA, transB), a3, b3);
            Agree($"batched x shared matmul {m}x{n}x{k}", t => Raw.MatMul(t[0], t[1], transA, transB), a3, b);
        }
        using var x = Randn(20, 6, 4);
        Agree("matmul of a transposed view", t => Raw.MatMul(Raw.Permute(t[0], [1, 0]), t[0]), x);
        using var d1 = Tensor.Normal([8, 9], 0, 1, new Generator(21), DType.Float64);
        using var d2 = Tensor.Normal([9, 7], 0, 1, new Generator(22), DType.Float64);
        Agree("float64 matmul", t => Raw.MatMul(t[0], t[1]), d1, d2);
        using var e1 = Tensor.Zeros([4, 0], DType.Float32);
        using var e2 = Tensor.Zeros([0, 3], DType.Float32);
        Agree("empty inner dimension", t => Raw.MatMul(t[0], t[1]), e1, e2);
    }

    // ---- convolution and pooling, gradients through the tape ----

    /// <summary>loss(inputs) and every input's gradient on the GPU against the CPU with the Naive backend.</summary>
    private static void GradientsAgree(string what, Func<Tensor[], Device, Tensor> loss, params Tensor[] cpu)
    {
        var cpuIn = cpu.Select(t => t.Clone().RequireGrad()).ToArray();
        Tensor lossCpu;
        using (Backend.Use(NaiveBackend.Instance))
        {
            lossCpu = loss(cpuIn, Device.Cpu);
            lossCpu.Backward();
        }
        var gpuIn = cpu.Select(t => t.To(Gpu).RequireGrad()).ToArray();
        using var lossGpu = loss(gpuIn, Gpu);
        lossGpu.Backward();
        try
        {
            Approx.AreClose(lossCpu, lossGpu);
            for (int i = 0; i < cpu.Length; i++)
            {
                if (cpuIn[i].Grad is null)
                {
                    Assert.That(gpuIn[i].Grad, Is.Null, $"{what}: input {i} is unused on the CPU but has a gradient on the GPU");
                    continue;
                }
                Assert.That(gpuIn[i].Grad, Is.Not.Null, $"{what}: gradient of input {i}");
                Assert.That(gpuIn[i].Grad!.Device, Is.EqualTo(Gpu));
                var exp = cpuIn[i].Grad!.ToArray<double>();
                var got = gpuIn[i].Grad!.ToArray<double>();
                for (int j = 0; j < exp.Length; j++)
                    Assert.That(Math.Abs(got[j] - exp[j]), Is.LessThanOrEqualTo(1e-5 + 1e-4 * Math.Abs(exp[j])), $"{what}: d input {i} element {j}: expected {exp[j]}, got {got[j]}");
            }
        }
        finally
        {
            lossCpu.Dispose();
            foreach (var t in cpuIn.Concat(gpuIn)) { t.Grad?.Dispose(); t.Dispose(); }
        }
    }

    private static Tensor WeightedSum(Tensor y, int seed)
    {
        using var r = Tensor.Normal(y.ShapeArray, 0, 1, new Generator(seed), y.DType, y.Device);
        using var p = Ops.Mul(y, r);
        return Ops.Sum(p);
    }

    [Test]
    public void Conv2dForwardAndBackwardAgree()
    {
        foreach (var (stride, pad, bias) in new[] { (1, 0, true), (1, 1, false), (2, 1, true) })
        {
            using var x = Randn(30, 2, 3, 9, 9);
            using var w = Randn(31, 4, 3, 3, 3);
            using var b = Randn(32, 4);
            Agree($"conv forward s{stride} p{pad}", t => Ops.Conv2d(t[0], t[1], bias ? t[2] : null, stride, pad), x, w, b);
            GradientsAgree($"conv backward s{stride} p{pad} bias={bias}", (t, _) =>
            {
                using var y = Ops.Conv2d(t[0], t[1], bias ? t[2] : null, stride, pad);
                return WeightedSum(y, 33);
            }, x, w, b);
        }
        using var xd = Tensor.Normal([1, 2, 5, 5], 0, 1, new Generator(34), DType.Float64);
        using var wd = Tensor.Normal([3, 2, 3, 3], 0, 1, new Generator(35), DType.Float64);
        Agree("float64 conv", t => Ops.Conv2d(t[0], t[1], null, 1, 1), xd, wd);
    }

    [Test]
    public void PoolingForwardAndBackwardAgree()
    {
        using var x = Randn(40, 2, 3, 8, 8); // random values: no ties, so max pooling agrees exactly
        Agree("max pool", t => Ops.MaxPool2d(t[0], 2), x);
        Agree("max pool 3/2 pad 1", t => Ops.MaxPool2d(t[0], 3, 2, 1, floor: true), x);
        Agree("avg pool", t => Ops.AvgPool2d(t[0], 2), x);
        Agree("avg pool 3/2 pad 1", t => Ops.AvgPool2d(t[0], 3, 2, 1, floor: true), x);
        GradientsAgree("max pool backward", (t, _) => { using var y = Ops.MaxPool2d(t[0], 2); return WeightedSum(y, 41); }, x);
        GradientsAgree("avg pool backward", (t, _) => { using var y = Ops.AvgPool2d(t[0], 3, 2, 1, floor: true); return WeightedSum(y, 42); }, x);
    }

    [Test]
    public void MlpGradientsOnTheGpuMatchTheCpu()
    {
        using var x = Randn(50, 16, 20);
        using var w1 = Tensor.Normal([32, 20], 0, 0.3, new Generator(51));
        using var b1 = Randn(52, 32);
        using var w2 = Tensor.Normal([10, 32], 0, 0.3, new Generator(53));
        using var b2 = Randn(54, 10);
        int[] labels = Enumerable.Range(0, 16).Select(i => i * 7 % 10).ToArray();
        GradientsAgree("mlp", (t, dev) =>
        {
            using var h = Ops.Linear(t[0], t[1], t[2]);
            using var r = Ops.Relu(h);
            using var logits = Ops.Linear(r, t[3], t[4]);
            using var y = Tensor.FromArray(labels).To(dev);
            return Ops.SoftmaxCrossEntropy(logits, y);
        }, x, w1, b1, w2, b2);
    }

    [Test]
    public void CnnGradientsOnTheGpuMatchTheCpu()
    {
        using var x = Randn(60, 4, 1, 8, 8);
        using var wc = Tensor.Normal([6, 1, 3, 3], 0, 0.5, new Generator(61));
        using var bc = Randn(62, 6);
        using var wf = Tensor.Normal([10, 6 * 4 * 4], 0, 0.2, new Generator(63));
        using var bf = Randn(64, 10);
        int[] labels = [3, 1, 4, 1];
        GradientsAgree("cnn", (t, dev) =>
        {
            using var c = Ops.Conv2d(t[0], t[1], t[2], 1, 1);
            using var r = Ops.Relu(c);
            using var p = Ops.MaxPool2d(r, 2);
            using var flat = p.Reshape(4, -1);
            using var logits = Ops.Linear(flat, t[3], t[4]);
            using var y = Tensor.FromArray(labels).To(dev);
            return Ops.SoftmaxCrossEntropy(logits, y);
        }, x, wc, bc, wf, bf);
    }

    [Test]
    public void AllocatorBytesInUseStayFlatOver1000TrainingSteps()
    {
        using var x = Randn(70, 32, 20).To(Gpu);
        using var labels = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => i % 10).ToArray()).To(Gpu);
        var w1 = Tensor.Normal([64, 20], 0, 0.2, new Generator(71), DType.Float32, Gpu).RequireGrad();
        var b1 = Tensor.Zeros([64], DType.Float32, Gpu).RequireGrad();
        var w2 = Tensor.Normal([10, 64], 0, 0.2, new Generator(72), DType.Float32, Gpu).RequireGrad();
        var b2 = Tensor.Zeros([10], DType.Float32, Gpu).RequireGrad();
        Tensor[] parameters = [w1, b1, w2, b2];
        // Tensors forgotten by earlier tests must not be finalized during the measurement.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        double firstLoss = 0, lastLoss = 0;
        long inUseAfterWarmup = 0, deviceAllocationsAfterWarmup = 0, deviceLiveAfterWarmup = 0;
        try
        {
            for (int step = 0; step < 1000; step++)
            {
                using (new TensorScope())
                {
                    var h = Ops.Relu(Ops.Linear(x, w1, b1));
                    var loss = Ops.SoftmaxCrossEntropy(Ops.Linear(h, w2, b2), labels);
                    loss.Backward();
                    if (step == 0) firstLoss = loss.Item();
                    if (step == 999) lastLoss = loss.Item();
                    foreach (var p in parameters)
                    {
                        Assert.That(Cuda.TryFusedUpdate(FusedUpdateRule.Sgd, p, p.Grad!, null, null, [0.1, 0]), Is.True);
                        p.Grad!.Dispose();
                        p.Grad = null;
                    }
                }
                if (step == 9)
                {
                    inUseAfterWarmup = Cuda.Memory.BytesInUse;
                    deviceAllocationsAfterWarmup = Cuda.Memory.DeviceAllocations;
                    deviceLiveAfterWarmup = Cuda.Memory.DeviceAllocations - Cuda.Memory.DeviceFrees;
                }
            }
            Assert.That(Cuda.Memory.BytesInUse, Is.LessThanOrEqualTo(inUseAfterWarmup), $"allocator: {Cuda.Memory}");
            if (CudaRuntime.IsEmulated)
            {
                // The emulated device's allocator is exact and uncached: every step allocates from the
                // device again, and frees as many blocks, so the device's live blocks stay flat.
                long live = Cuda.Memory.DeviceAllocations - Cuda.Memory.DeviceFrees;
                Assert.That(live, Is.LessThanOrEqualTo(deviceLiveAfterWarmup), $"allocator: {Cuda.Memory}");
            }
            else
                Assert.That(Cuda.Memory.DeviceAllocations, Is.EqualTo(deviceAllocationsAfterWarmup), $"allocator: {Cuda.Memory}");
            Assert.That(lastLoss, Is.LessThan(firstLoss * 0.5), "the fused SGD step trains the model");
        }
        finally
        {
            foreach (var p in parameters) p.Dispose();
        }
    }

    // ---- kernels and the fused entry points ----

    [Test]
    public void KernelDiskCacheIsHitOnASecondCompileAndLoadsOnTheDevice()
    {
        string dir = Path.Combine(Path.GetTempPath(), "nativenet-gpu-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            int arch = CudaRuntime.Devices[0].Architecture;
            Cuda.MakeCurrent(); // cuModuleLoadData needs the device's context on this thread
            var first = new KernelCompiler(dir).Compile("copy.cu", arch);
            Assert.That(first.Source, Is.EqualTo(KernelCacheSource.Compiled));
            var second = new KernelCompiler(dir).Compile("copy.cu", arch);
            Assert.That(second.Source, Is.EqualTo(KernelCacheSource.Disk));
            using var module = CudaModule.Load(second);
            Assert.That(module.GetFunction("fill_f32"), Is.Not.EqualTo((nint)0));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Every optimiser with a fused kernel in optim.cu, with weight decay where it has one.</summary>
    private static readonly (string Name, Func<Tensor[], Optimizer> Make)[] Optimisers =
    [
        ("Sgd", ps => new Sgd(ps, 0.3, weightDecay: 0.1)),
        ("Momentum", ps => new Momentum(ps, 0.3, 0.9, weightDecay: 0.2)),
        ("Momentum(nesterov)", ps => new Momentum(ps, 0.3, 0.8, nesterov: true, weightDecay: 0.2)),
        ("Nesterov", ps => new Nesterov(ps, 0.3, 0.9, weightDecay: 0.2)),
        ("Adam", ps => new Adam(ps, 0.1, 0.85, 0.995, 1e-6, weightDecay: 0.3)),
        ("AdamW", ps => new AdamW(ps, 0.1, weightDecay: 0.7)),
        ("AdaGrad", ps => new AdaGrad(ps, 0.3, 1e-7, weightDecay: 0.1)),
        ("RmsProp", ps => new RmsProp(ps, 0.1, 0.9, 1e-6, weightDecay: 0.1)),
    ];

    private static IEnumerable<TestCaseData> OptimiserCases() =>
        from o in Optimisers from dtype in new[] { DType.Float32, DType.Float64 }
        select new TestCaseData(o.Name, dtype).SetName($"FusedDeviceStepMatchesTheFusedCpuKernel({o.Name},{dtype})");

    /// <summary>
    /// Four steps of an optimiser on the device (one optim.cu kernel per parameter) against the same steps with the fused
    /// CPU kernel, parameters and every state slot. The kernels perform the CPU kernel's operations in its order, so on the
    /// emulated device (IEEE arithmetic, no FMA contraction) they agree bit for bit; a real GPU contracts to FMA, so there
    /// the bound is a few ulps. The device rule from backend primitives must agree to rounding too.
    /// </summary>
    [TestCaseSource(nameof(OptimiserCases))]
    public void FusedDeviceStepMatchesTheFusedCpuKernel(string name, DType dtype)
    {
        var make = Optimisers.Single(o => o.Name == name).Make;
        // A ragged length (not a multiple of any vector width) and a second, small parameter; parameters small next to the
        // steps, so a rounding difference in the update is not absorbed by the subtraction from p.
        var initial = new[] { Tensor.Normal([37], 0, 0.05, new Generator(90), dtype), Tensor.Normal([3, 2], 0, 0.05, new Generator(91), dtype) };
        var grads = Enumerable.Range(0, 4).Select(step => initial.Select((t, k) => Tensor.Normal(t.ShapeArray, 0, 1, new Generator(100 + 10 * step + k), dtype)).ToArray()).ToArray();
        (double[][] Params, double[][] State) Run(Device device, bool fusedDevice)
        {
            Tensor Copy(Tensor t) => device.Kind == DeviceKind.Cpu ? t.Clone() : t.To(device);
            var ps = initial.Select(Copy).ToArray();
            using var opt = make(ps);
            opt.UseFusedDeviceKernels = fusedDevice;
            Assert.That(device.Kind != DeviceKind.Cpu || opt.UseFusedCpuKernels, "the CPU reference is the fused host kernel");
            foreach (var stepGrads in grads)
            {
                for (int k = 0; k < ps.Length; k++)
                {
                    ps[k].Grad?.Dispose();
                    ps[k].Grad = Copy(stepGrads[k]);
                }
                opt.Step();
            }
            var result = (ps.Select(p => p.ToArray<double>()).ToArray(),
                Enumerable.Range(0, ps.Length).SelectMany(k => opt.State(k)).Select(t => t.ToArray<double>()).ToArray());
            foreach (var p in ps) p.Dispose();
            return result;
        }
        var expected = Run(Device.Cpu, fusedDevice: false);
        var fused = Run(Gpu, fusedDevice: true);
        var composed = Run(Gpu, fusedDevice: false);
        double ulp = dtype == DType.Float32 ? 6e-8 : 1.2e-16;
        void Compare(double[][] want, double[][] got, string what, double rtol)
        {
            Assert.That(got, Has.Length.EqualTo(want.Length), what);
            for (int k = 0; k < want.Length; k++)
            for (int i = 0; i < want[k].Length; i++)
            {
                if (rtol == 0) Assert.That(got[k][i], Is.EqualTo(want[k][i]), $"{name} {dtype} {what} [{k}][{i}]: bit for bit");
                else Assert.That(Math.Abs(got[k][i] - want[k][i]), Is.LessThanOrEqualTo(rtol * (Math.Abs(want[k][i]) + 1e-3)), $"{name} {dtype} {what} [{k}][{i}]: expected {want[k][i]}, got {got[k][i]}");
            }
        }
        double fusedTolerance = CudaRuntime.IsEmulated ? 0 : 64 * ulp;
        Compare(expected.Params, fused.Params, "fused parameters", fusedTolerance);
        Compare(expected.State, fused.State, "fused state", fusedTolerance);
        Compare(expected.Params, composed.Params, "composed parameters", 1e5 * ulp);
        Compare(expected.State, composed.State, "composed state", 1e5 * ulp);
    }

    [Test]
    public void FusedUpdateChecksItsOperands()
    {
        using var p = Tensor.Zeros([4], DType.Float32, Gpu);
        using var g = Tensor.Zeros([4], DType.Float32, Gpu);
        using var shortState = Tensor.Zeros([3], DType.Float32, Gpu);
        using var doubleState = Tensor.Zeros([4], DType.Float64, Gpu);
        var e = Assert.Throws<ArgumentException>(() => Cuda.TryFusedUpdate(FusedUpdateRule.Momentum, p, g, shortState, null, [0.1, 0, 0.9]))!;
        Assert.That(e.Message, Does.Contain("MomentumStep").And.Contain("3"));
        Assert.Throws<ArgumentException>(() => Cuda.TryFusedUpdate(FusedUpdateRule.AdaGrad, p, g, doubleState, null, [0.1, 0, 1e-8]));
        Assert.Throws<ArgumentNullException>(() => Cuda.TryFusedUpdate(FusedUpdateRule.Adam, p, g, doubleState, null, new double[9]));
        var count = Assert.Throws<ArgumentException>(() => Cuda.TryFusedUpdate(FusedUpdateRule.Sgd, p, g, null, null, [0.1]))!;
        Assert.That(count.Message, Does.Contain("expected 2 scalars, got 1"));
        using var cpu = Tensor.Zeros([4], DType.Float32);
        Assert.That(NaiveBackend.Instance.TryFusedUpdate(FusedUpdateRule.Sgd, cpu, cpu, null, null, [0.1, 0]), Is.False, "CPU backends compose the rule");
    }

    [Test]
    public void DropoutKeepsAboutOneMinusPAndScalesTheKept()
    {
        const int n = 100_003;
        using var x = Tensor.Full([n], 2.0, DType.Float32, Gpu);
        using var y = Tensor.Zeros([n], DType.Float32, Gpu);
        using var mask = Tensor.Zeros([n], DType.Float32, Gpu);
        Cuda.DropoutForward(x, y, mask, 0.25, seed: 42, offset: 0);
        var m = mask.ToArray();
        var ys = y.ToArray();
        double kept = m.Count(v => v != 0) / (double)n;
        Assert.That(kept, Is.EqualTo(0.75).Within(0.01));
        int badMask = Enumerable.Range(0, n).Count(i => m[i] != 0f && Math.Abs(m[i] - 1 / 0.75f) > 1e-6f);
        int badOutput = Enumerable.Range(0, n).Count(i => Math.Abs(ys[i] - 2 * m[i]) > 1e-6f);
        Assert.That((badMask, badOutput), Is.EqualTo((0, 0)), "mask values are 0 or 1/(1-p), and y = x * mask");
        using var mask2 = Tensor.Zeros([n], DType.Float32, Gpu);
        Cuda.DropoutForward(x, y, mask2, 0.25, seed: 42, offset: 0);
        Assert.That(mask2.ToArray(), Is.EqualTo(m), "same seed and offset: same mask");
        Cuda.DropoutForward(x, y, mask2, 0.25, seed: 42, offset: 1);
        Assert.That(mask2.ToArray(), Is.Not.EqualTo(m), "another offset: another mask");
    }

    [Test]
    public void RandomFillsHaveTheirMoments()
    {
        const int n = 200_000;
        using var u = Tensor.Zeros([n], DType.Float64, Gpu);
        Cuda.RandomUniform(u, -1, 3, seed: 7, offset: 0);
        var us = u.ToArray<double>();
        Assert.That(us.Min(), Is.GreaterThan(-1));
        Assert.That(us.Max(), Is.LessThanOrEqualTo(3));
        Assert.That(us.Average(), Is.EqualTo(1).Within(0.02));
        using var z = Tensor.Zeros([n], DType.Float32, Gpu);
        Cuda.RandomNormal(z, 5, 2, seed: 8, offset: 0);
        var zs = z.ToArray<double>();
        double mean = zs.Average();
        double std = Math.Sqrt(zs.Select(v => (v - mean) * (v - mean)).Average());
        Assert.That(mean, Is.EqualTo(5).Within(0.02));
        Assert.That(std, Is.EqualTo(2).Within(0.02));
    }

    [Test]
    public void FusedSoftmaxCrossEntropyMatchesTheLossGate()
    {
        using var logits = Tensor.Normal([6, 7], 0, 3, new Generator(80));
        int[] labels = [0, 6, 3, 3, 1, 5];
        using var expectedLoss = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray(labels));
        using var g = logits.To(Gpu);
        using var y = Tensor.FromArray(labels).To(Gpu);
        using var rowLoss = Tensor.Zeros([6], DType.Float32, Gpu);
        Cuda.SoftmaxCrossEntropyForward(g, y, rowLoss);
        Assert.That(rowLoss.ToArray().Average(), Is.EqualTo(expectedLoss.Item()).Within(1e-5));

        var cpuLogits = logits.Clone().RequireGrad();
        using (var loss = Ops.SoftmaxCrossEntropy(cpuLogits, Tensor.FromArray(labels))) loss.Backward();
        using var dloss = Tensor.Full([1], 1.0 / 6, DType.Float32, Gpu);
        using var dlogits = Tensor.Zeros([6, 7], DType.Float32, Gpu);
        Cuda.SoftmaxCrossEntropyBackward(g, y, dloss, dlogits);
        Approx.AreClose(cpuLogits.Grad!, dlogits);
    }

    [Test]
    public void Tf32IsOptIn()
    {
        using var a = Randn(90, 256, 256);
        using var b = Randn(91, 256, 256);
        using var exact = Raw.MatMul(a, b);
        using var ga = a.To(Gpu);
        using var gb = b.To(Gpu);
        CudaBackend.AllowTf32 = true;
        try
        {
            using var fast = Raw.MatMul(ga, gb);
            Approx.AreClose(exact, fast, atol: 0.1, rtol: 1e-2); // TF32 keeps ~10 mantissa bits
        }
        finally
        {
            CudaBackend.AllowTf32 = false;
        }
        using var strict = Raw.MatMul(ga, gb);
        Approx.AreClose(exact, strict);
    }
}
