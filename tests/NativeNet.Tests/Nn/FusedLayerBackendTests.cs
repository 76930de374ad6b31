using NativeNet.Backends;
using NativeNet.Backends.Naive;
using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// The layers a device backend runs through fused primitives (batch norm through cuDNN, the embedding gather and
/// scatter through embedding.cu on Cuda) against the Naive backend's composed reference on every backend: outputs,
/// running statistics over several training steps, evaluation, gradients of every input, and the errors.
/// </summary>
public class FusedLayerBackendTests(string backendName) : BackendTest(backendName)
{
    /// <summary>A private copy of a host tensor on the backend's device (never a view sharing the host storage).</summary>
    private Tensor Fresh(Tensor host) => Dev.Kind == DeviceKind.Cpu ? host.Clone() : host.To(Dev);

    private sealed record BatchNormRun(double[][] Outputs, double[] RunningMean, double[] RunningVar, double[][] Grads);

    /// <summary>Two training steps (gradients of Σ y·w) and one evaluation step of Ops.BatchNorm, tensors made by <paramref name="fresh"/>.</summary>
    private static BatchNormRun RunBatchNorm(Func<Tensor, Tensor> fresh, int[] shape, DType dtype, bool affine, bool running, bool transposed,
        double momentum, double eps)
    {
        int c = shape[1];
        var g = new Generator(40);
        using var gammaHost = Tensor.Normal([c], 1, 0.5, g, dtype);
        using var betaHost = Tensor.Normal([c], 0, 0.5, g, dtype);
        using var meanHost = Tensor.Normal([c], 0, 0.1, g, dtype);
        using var varHost = Tensor.Uniform([c], 0.5, 1.5, g, dtype);
        var gamma = affine ? fresh(gammaHost).RequireGrad() : null;
        var beta = affine ? fresh(betaHost).RequireGrad() : null;
        var runningMean = running ? fresh(meanHost) : null;
        var runningVar = running ? fresh(varHost) : null;
        var outputs = new List<double[]>();
        var grads = new List<double[]>();
        for (int step = 0; step < 3; step++)
        {
            bool training = step < 2;
            if (!training && !running) break;
            using var scope = new TensorScope();
            // A shifted, scaled input so the statistics are far from 0 and 1; transposed: a strided view of the same values.
            var hostX = Tensor.Normal(shape, 2 + step, 3, new Generator(50 + step), dtype);
            var x = transposed ? Ops.Transpose(fresh(Ops.Contiguous(Ops.Transpose(hostX, 0, 1))), 0, 1) : fresh(hostX);
            Assert.That(x.IsContiguous, Is.EqualTo(!transposed));
            x.RequireGrad();
            var y = Ops.BatchNorm(x, gamma, beta, runningMean, runningVar, training, momentum, eps);
            outputs.Add(y.ToArray<double>());
            var w = fresh(Tensor.Normal(shape, 0, 1, new Generator(60 + step), dtype));
            Ops.Sum(Ops.Mul(y, w)).Backward();
            grads.Add(x.Grad!.ToArray<double>());
            if (affine)
            {
                grads.Add(gamma!.Grad!.ToArray<double>());
                grads.Add(beta!.Grad!.ToArray<double>());
                gamma.Grad = null;
                beta.Grad = null;
            }
        }
        var result = new BatchNormRun(outputs.ToArray(), runningMean?.ToArray<double>() ?? [], runningVar?.ToArray<double>() ?? [], grads.ToArray());
        gamma?.Dispose(); beta?.Dispose(); runningMean?.Dispose(); runningVar?.Dispose();
        return result;
    }

    private static IEnumerable<TestCaseData> BatchNormCases()
    {
        yield return new TestCaseData(new[] { 6, 3 }, DType.Float32, true, true, false).SetName("BatchNormMatchesNaive([6,3],Float32)");
        yield return new TestCaseData(new[] { 4, 3, 5 }, DType.Float32, true, true, false).SetName("BatchNormMatchesNaive([4,3,5],Float32)");
        yield return new TestCaseData(new[] { 2, 4, 3, 5 }, DType.Float32, true, true, false).SetName("BatchNormMatchesNaive([2,4,3,5],Float32)");
        yield return new TestCaseData(new[] { 2, 3, 2, 3, 2 }, DType.Float64, true, true, false).SetName("BatchNormMatchesNaive([2,3,2,3,2],Float64)");
        yield return new TestCaseData(new[] { 3, 2, 4, 4 }, DType.Float64, false, true, true).SetName("BatchNormMatchesNaive([3,2,4,4],Float64,no affine,strided)");
        yield return new TestCaseData(new[] { 5, 4, 2, 2 }, DType.Float32, true, false, false).SetName("BatchNormMatchesNaive([5,4,2,2],Float32,no running statistics)");
    }

    [TestCaseSource(nameof(BatchNormCases))]
    public void BatchNormMatchesNaive(int[] shape, DType dtype, bool affine, bool running, bool transposed)
    {
        const double momentum = 0.3, eps = 1e-3;
        BatchNormRun expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = RunBatchNorm(t => t.Clone(), shape, dtype, affine, running, transposed, momentum, eps);
        var actual = RunBatchNorm(Fresh, shape, dtype, affine, running, transposed, momentum, eps);
        double tol = dtype == DType.Float32 ? 2e-4 : 1e-10;
        Assert.That(actual.Outputs, Has.Length.EqualTo(expected.Outputs.Length));
        for (int i = 0; i < expected.Outputs.Length; i++) Approx.AreClose(expected.Outputs[i], Tensor.FromArray(actual.Outputs[i]), tol, tol);
        Approx.AreClose(expected.RunningMean, Tensor.FromArray(actual.RunningMean), tol, tol);
        Approx.AreClose(expected.RunningVar, Tensor.FromArray(actual.RunningVar), tol, tol);
        for (int i = 0; i < expected.Grads.Length; i++) Approx.AreClose(expected.Grads[i], Tensor.FromArray(actual.Grads[i]), tol, tol);
    }

    [Test]
    public void BatchNorm2dModuleUpdatesRunningStatisticsAsPyTorch()
    {
        // momentum 0.1, one step from running (0, 1): running_mean = 0.1·mean, running_var = 0.9 + 0.1·unbiased variance.
        using var bn = new BatchNorm2d(2, momentum: 0.1, dtype: DType.Float64);
        bn.To(Dev);
        double[] values = [1, 2, 3, 4, -1, 0, 5, 8, 10, 20, 30, 40, 1, 1, 1, 3];
        using var x = Tensor.FromArray(values, 2, 2, 2, 2).To(Dev);
        using (var scope = new TensorScope()) bn.Forward(x);
        double[] expectedMean = new double[2], expectedVar = new double[2];
        for (int ch = 0; ch < 2; ch++)
        {
            var xs = Enumerable.Range(0, 2).SelectMany(n => Enumerable.Range(0, 4).Select(s => values[n * 8 + ch * 4 + s])).ToArray();
            double mean = xs.Average();
            double unbiased = xs.Sum(v => (v - mean) * (v - mean)) / (xs.Length - 1);
            expectedMean[ch] = 0.1 * mean;
            expectedVar[ch] = 0.9 + 0.1 * unbiased;
        }
        Approx.AreClose(expectedMean, bn.RunningMean, 1e-12, 1e-12);
        Approx.AreClose(expectedVar, bn.RunningVar, 1e-12, 1e-12);
        Assert.That(bn.NumBatchesTracked.ToArray<int>(), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void EmbeddingMatchesNaiveWithRepeatedAndStridedIndices()
    {
        using var table = Tensor.Normal([7, 3], 0, 1, new Generator(70), DType.Float64);
        // Indices [2, 3] stored transposed: a strided view.
        using var idsStored = Tensor.FromArray(new[] { 6, 0, 3, 6, 0, 6 }, 3, 2);
        (double[] Y, double[] Grad) Run(Func<Tensor, Tensor> fresh)
        {
            using var scope = new TensorScope();
            var w = fresh(table).RequireGrad();
            var ids = Ops.Transpose(fresh(idsStored), 0, 1);
            var y = Ops.Embedding(ids, w);
            Assert.That(y.ShapeArray, Is.EqualTo(new[] { 2, 3, 3 }));
            var weights = fresh(Tensor.Normal([2, 3, 3], 0, 1, new Generator(71), DType.Float64));
            Ops.Sum(Ops.Mul(y, weights)).Backward();
            var result = (y.ToArray<double>(), w.Grad!.ToArray<double>());
            w.Dispose();
            return result;
        }
        (double[] Y, double[] Grad) expected;
        using (Backend.Use(NaiveBackend.Instance)) expected = Run(t => t.Clone());
        var actual = Run(Fresh);
        Approx.AreClose(expected.Y, Tensor.FromArray(actual.Y), 1e-12, 1e-12);
        Approx.AreClose(expected.Grad, Tensor.FromArray(actual.Grad), 1e-12, 1e-12);
    }

    [TestCase(9)]
    [TestCase(-1)]
    public void EmbeddingIndexOutsideTheTableNamesTheOpIndexPositionAndSize(int bad)
    {
        using var w = Fresh(Tensor.Normal([5, 2], 0, 1, new Generator(72)));
        using var ids = Fresh(Tensor.FromArray(new[] { 1, 4, bad, 0, bad }));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Embedding(ids, w))!;
        Assert.That(e.Message, Does.Contain("Embedding").And.Contain($"index {bad} at position 2").And.Contain("[0, 5)"));
        // The same indices from the host work too (moved to the table's device).
        using var hostIds = Tensor.FromArray(new[] { 1, 4, 4 });
        using var y = Ops.Embedding(hostIds, w);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 3, 2 }));
        Assert.That(y.Device, Is.EqualTo(Dev));
    }
}
