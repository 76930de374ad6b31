using System.Runtime.InteropServices;
using NativeNet.Backends.Cuda;
using NativeNet.Interop;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>
/// The emulated cuBLAS and cuDNN (tests/CudaEmulator/blas, dnn) through the engine's own bindings, each
/// against a plain C# loop or a check a lax emulator would pass wrongly: cuBLAS's argument checks,
/// column-major transposed and strided-batched GEMM, beta = 0 over NaN, device extents, convolution vs
/// cross-correlation, stride/padding/dilation/groups in all three convolution passes with alpha/beta
/// blending, pooling modes, workspace sizes and batch norm. On a real GPU the same calls are covered by
/// the backend tests.
/// </summary>
[TestFixture]
public sealed unsafe class EmulatedBlasDnnTests : EmulatorFixture
{
    private static float[] F(double[] a) => a.Select(v => (float)v).ToArray();

    private static string CublasMessage(CublasStatus status)
    {
        Assert.That(NativeLibraryResolver.TryLoad(NativeLibraryResolver.Cublas, out nint lib, out string error), error);
        var getStatusString = (delegate* unmanaged<CublasStatus, nint>)NativeLibrary.GetExport(lib, "cublasGetStatusString");
        return Marshal.PtrToStringUTF8(getStatusString(status)) ?? "";
    }

    // ---- cuBLAS

    /// <summary>Column-major C = alpha·op(A)·op(B) + beta·C, beta = 0 not reading C.</summary>
    private static void ReferenceGemm(bool ta, bool tb, int m, int n, int k, double alpha, double[] a, int aOff, int lda,
        double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc)
    {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += a[aOff + (ta ? p + i * lda : i + p * lda)] * b[bOff + (tb ? j + p * ldb : p + j * ldb)];
                int ci = cOff + i + j * ldc;
                c[ci] = alpha * sum + (beta == 0 ? 0 : beta * c[ci]);
            }
    }

    [Test]
    public void GemmRejectsEveryInvalidArgumentCublasRejects()
    {
        ulong a = Upload(new float[64]), b = Upload(new float[64]), c = Upload(new float[64]);
        float one = 1, zero = 0;
        CublasStatus Sgemm(CublasOperation ta, CublasOperation tb, int m, int n, int k, int lda, int ldb, int ldc)
        {
            float alpha = 1, beta = 0;
            return Cublas.cublasSgemm_v2(CublasHandle, ta, tb, m, n, k, &alpha, (nint)a, lda, (nint)b, ldb, &beta, (nint)c, ldc);
        }

        // A is m×k = 4×3 as stored when not transposed: lda must be at least 4.
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, 4, 2, 3, 3, 3, 4), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(CublasMessage(CublasStatus.InvalidValue), Does.Contain("cublasSgemm_v2").And.Contain("lda = 3"));
        // Transposed, A is stored k×m = 3×4: lda = 3 is enough, 2 is not.
        Assert.That(Sgemm(CublasOperation.T, CublasOperation.N, 4, 2, 3, 3, 3, 4), Is.EqualTo(CublasStatus.Success));
        Assert.That(Sgemm(CublasOperation.T, CublasOperation.N, 4, 2, 3, 2, 3, 4), Is.EqualTo(CublasStatus.InvalidValue));
        // B is k×n = 3×2 (ldb ≥ 3), transposed n×k = 2×3 (ldb ≥ 2).
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, 4, 2, 3, 4, 2, 4), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(CublasMessage(CublasStatus.InvalidValue), Does.Contain("ldb = 2"));
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.T, 4, 2, 3, 4, 2, 4), Is.EqualTo(CublasStatus.Success));
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, 4, 2, 3, 4, 3, 3), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(CublasMessage(CublasStatus.InvalidValue), Does.Contain("ldc = 3"));
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, -1, 2, 3, 4, 3, 4), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, 4, 2, -3, 4, 3, 4), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(Sgemm((CublasOperation)7, CublasOperation.N, 4, 2, 3, 4, 3, 4), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(CublasMessage(CublasStatus.InvalidValue), Does.Contain("transa = 7"));
        // Empty dimensions use lda ≥ max(1, rows): lda = 0 is rejected even for m = 0.
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, 0, 2, 3, 0, 3, 1), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(Sgemm(CublasOperation.N, CublasOperation.N, 0, 2, 3, 1, 3, 1), Is.EqualTo(CublasStatus.Success));
        Assert.That(Cublas.cublasSgemmStridedBatched(CublasHandle, CublasOperation.N, CublasOperation.N, 4, 2, 3, &one, (nint)a, 4, 12,
            (nint)b, 3, 6, &zero, (nint)c, 4, 8, -1), Is.EqualTo(CublasStatus.InvalidValue));
        Assert.That(CublasMessage(CublasStatus.InvalidValue), Does.Contain("batchCount = -1"));
        Assert.That(Cublas.cublasSetMathMode(CublasHandle, (CublasMath)9), Is.EqualTo(CublasStatus.InvalidValue));

        Cublas.Check(Cublas.cublasCreate_v2(out nint destroyed));
        Cublas.Check(Cublas.cublasDestroy_v2(destroyed));
        Assert.That(Cublas.cublasSgemm_v2(destroyed, CublasOperation.N, CublasOperation.N, 4, 2, 3, &one, (nint)a, 4, (nint)b, 3, &zero, (nint)c, 4),
            Is.EqualTo(CublasStatus.NotInitialized));
        Assert.That(Cublas.cublasDestroy_v2(destroyed), Is.EqualTo(CublasStatus.NotInitialized));
    }

    [Test]
    public void CublasCheckPutsCublasGetStatusStringIntoTheException()
    {
        ulong a = Upload(new float[64]), b = Upload(new float[64]), c = Upload(new float[64]);
        float* scalars = stackalloc float[2] { 1, 0 };
        nint handle = CublasHandle;
        var e = Assert.Throws<CudaException>(() => Cublas.Check(
            Cublas.cublasSgemm_v2(handle, CublasOperation.N, CublasOperation.N, 4, 2, 3, scalars, (nint)a, 3, (nint)b, 3, scalars + 1, (nint)c, 4)))!;
        Assert.That(e.Message, Does.Contain("CUBLAS_STATUS_INVALID_VALUE").And.Contain("cublasSgemm_v2").And.Contain("lda = 3"));
        Assert.That(Cublas.StatusDetail(CublasStatus.NotSupported), Is.Null, "no failure of that status: only its name, which the exception already has");
    }

    [Test]
    public void TransposedGemmMatchesTheColumnMajorDefinition([Values] bool transA, [Values] bool transB)
    {
        const int m = 5, n = 4, k = 3, lda = 7, ldb = 6, ldc = 8;
        int aCols = transA ? m : k, bCols = transB ? k : n;
        double[] a = RandomArray(1, lda * aCols), b = RandomArray(2, ldb * bCols), c = RandomArray(3, ldc * n);
        double[] expected = (double[])c.Clone();
        ReferenceGemm(transA, transB, m, n, k, 1.5, a, 0, lda, b, 0, ldb, -0.5, expected, 0, ldc);
        var opA = transA ? CublasOperation.T : CublasOperation.N;
        var opB = transB ? CublasOperation.T : CublasOperation.N;

        ulong da = Upload(a), db = Upload(b), dc = Upload(c);
        double alpha = 1.5, beta = -0.5;
        Cublas.Check(Cublas.cublasDgemm_v2(CublasHandle, opA, opB, m, n, k, &alpha, (nint)da, lda, (nint)db, ldb, &beta, (nint)dc, ldc));
        AreClose(expected, Download<double>(dc, c.Length), 1e-12, $"Dgemm {opA}{opB}");

        ulong fa = Upload(F(a)), fb = Upload(F(b)), fc = Upload(F(c));
        float alphaF = 1.5f, betaF = -0.5f;
        Cublas.Check(Cublas.cublasSgemm_v2(CublasHandle, opA, opB, m, n, k, &alphaF, (nint)fa, lda, (nint)fb, ldb, &betaF, (nint)fc, ldc));
        AreClose(expected, Download<float>(fc, c.Length).Select(v => (double)v).ToArray(), 1e-5, $"Sgemm {opA}{opB}");
    }

    [Test]
    public void StridedBatchedGemmMatchesEachBatchIncludingABroadcastOperand()
    {
        const int m = 3, n = 4, k = 5, batch = 3, lda = 5, ldb = 5, ldc = 4;
        const long strideA = 0, strideB = 5 * 4 + 3, strideC = 4 * 4 + 1; // A shared by every batch; gaps between B and C matrices
        double[] a = RandomArray(4, lda * m), b = RandomArray(5, (int)strideB * batch), c = RandomArray(6, (int)strideC * batch);
        double[] expected = (double[])c.Clone();
        for (int i = 0; i < batch; i++)
            ReferenceGemm(true, false, m, n, k, 2, a, 0, lda, b, (int)(i * strideB), ldb, 1, expected, (int)(i * strideC), ldc);
        ulong da = Upload(a), db = Upload(b), dc = Upload(c);
        double alpha = 2, beta = 1;
        Cublas.Check(Cublas.cublasDgemmStridedBatched(CublasHandle, CublasOperation.T, CublasOperation.N, m, n, k, &alpha, (nint)da, lda, strideA,
            (nint)db, ldb, strideB, &beta, (nint)dc, ldc, strideC, batch));
        AreClose(expected, Download<double>(dc, c.Length), 1e-12, "DgemmStridedBatched");

        ulong fa = Upload(F(a)), fb = Upload(F(b)), fc = Upload(F(c));
        float alphaF = 2, betaF = 1;
        Cublas.Check(Cublas.cublasSgemmStridedBatched(CublasHandle, CublasOperation.T, CublasOperation.N, m, n, k, &alphaF, (nint)fa, lda, strideA,
            (nint)fb, ldb, strideB, &betaF, (nint)fc, ldc, strideC, batch));
        AreClose(expected, Download<float>(fc, c.Length).Select(v => (double)v).ToArray(), 1e-5, "SgemmStridedBatched");
    }

    [Test]
    public void BetaZeroDoesNotReadC()
    {
        const int m = 2, n = 3, k = 2;
        float[] a = [1, 2, 3, 4], b = [1, 0, 0, 1, 1, 1];
        float[] c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        ulong da = Upload(a), db = Upload(b), dc = Upload(c);
        float alpha = 1, beta = 0;
        Cublas.Check(Cublas.cublasSgemm_v2(CublasHandle, CublasOperation.N, CublasOperation.N, m, n, k, &alpha, (nint)da, m, (nint)db, k, &beta, (nint)dc, m));
        Assert.That(Download<float>(dc, m * n), Is.EqualTo(new float[] { 1, 2, 3, 4, 4, 6 }));
        // k = 0 with beta = 0 is C = 0, NaN included.
        Cublas.Check(Cublas.cublasSgemm_v2(CublasHandle, CublasOperation.N, CublasOperation.N, m, n, 0, &alpha, (nint)da, m, (nint)db, 1, &beta, (nint)Upload(c), m));
        Assert.That(Download<float>(LastAllocation, m * n), Is.All.EqualTo(0f));
    }

    [Test]
    public void GemmOperandLargerThanItsAllocationIsReported()
    {
        const int m = 4, n = 4, k = 4;
        ulong a = Upload(new float[m * k]), b = Upload(new float[k * n]);
        ulong c = Upload(new float[m * n - 1], m * n - 1); // one element short
        float one = 1, zero = 0;
        var status = Cublas.cublasSgemm_v2(CublasHandle, CublasOperation.N, CublasOperation.N, m, n, k, &one, (nint)a, m, (nint)b, k, &zero, (nint)c, m);
        Assert.That(status, Is.EqualTo(CublasStatus.ExecutionFailed));
        Assert.That(CublasMessage(status), Does.Contain("cublasSgemm_v2").And.Contain(" C "));
        // The same with a leading dimension that walks past the end of A.
        status = Cublas.cublasSgemm_v2(CublasHandle, CublasOperation.N, CublasOperation.N, m, n, k, &one, (nint)a, m + 1, (nint)b, k, &zero,
            (nint)Upload(new float[m * n]), m);
        Assert.That(status, Is.EqualTo(CublasStatus.ExecutionFailed));
        Assert.That(CublasMessage(status), Does.Contain(" A "));
    }

    // ---- cuDNN helpers

    private nint Tensor4d(int n, int c, int h, int w, CudnnDataType type = CudnnDataType.Double)
    {
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out nint d));
        Cudnn.Check(Cudnn.cudnnSetTensor4dDescriptor(d, CudnnTensorFormat.Nchw, type, n, c, h, w));
        return d;
    }

    private nint Filter(int k, int c, int r, int s, CudnnDataType type = CudnnDataType.Double)
    {
        Cudnn.Check(Cudnn.cudnnCreateFilterDescriptor(out nint d));
        Cudnn.Check(Cudnn.cudnnSetFilter4dDescriptor(d, type, CudnnTensorFormat.Nchw, k, c, r, s));
        return d;
    }

    private static string CudnnMessage(CudnnStatus status) => Cudnn.StatusName(status);

    /// <summary>One 2-d convolution problem, NCHW, filter [K, C/groups, R, S]; Flip is CUDNN_CONVOLUTION mode.</summary>
    public sealed record Conv(int N, int C, int H, int W, int K, int R, int S, int Pad, int Stride, int Dilation, int Groups, bool Flip)
    {
        public int OH => (H + 2 * Pad - ((R - 1) * Dilation + 1)) / Stride + 1;
        public int OW => (W + 2 * Pad - ((S - 1) * Dilation + 1)) / Stride + 1;
        public int Cg => C / Groups;
        public int Kg => K / Groups;

        /// <summary>Visits every (y index, x index, w index) product term of the forward convolution.</summary>
        public void Terms(Action<int, int, int> term)
        {
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++)
                    for (int oh = 0; oh < OH; oh++)
                        for (int ow = 0; ow < OW; ow++)
                            for (int c = 0; c < Cg; c++)
                                for (int r = 0; r < R; r++)
                                    for (int s = 0; s < S; s++)
                                    {
                                        int ih = oh * Stride - Pad + r * Dilation, iw = ow * Stride - Pad + s * Dilation;
                                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                        int fr = Flip ? R - 1 - r : r, fs = Flip ? S - 1 - s : s;
                                        int ci = k / Kg * Cg + c;
                                        term(((n * K + k) * OH + oh) * OW + ow, ((n * C + ci) * H + ih) * W + iw, ((k * Cg + c) * R + fr) * S + fs);
                                    }
        }
    }

    private (nint X, nint W, nint Y, nint Conv) Descriptors(Conv p, CudnnDataType type = CudnnDataType.Double)
    {
        nint x = Tensor4d(p.N, p.C, p.H, p.W, type), w = Filter(p.K, p.Cg, p.R, p.S, type), y = Tensor4d(p.N, p.K, p.OH, p.OW, type);
        Cudnn.Check(Cudnn.cudnnCreateConvolutionDescriptor(out nint conv));
        Cudnn.Check(Cudnn.cudnnSetConvolution2dDescriptor(conv, p.Pad, p.Pad, p.Stride, p.Stride, p.Dilation, p.Dilation,
            p.Flip ? CudnnConvolutionMode.Convolution : CudnnConvolutionMode.CrossCorrelation, type));
        Cudnn.Check(Cudnn.cudnnSetConvolutionGroupCount(conv, p.Groups));
        return (x, w, y, conv);
    }

    private void Destroy((nint X, nint W, nint Y, nint Conv) d)
    {
        Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(d.X));
        Cudnn.Check(Cudnn.cudnnDestroyFilterDescriptor(d.W));
        Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(d.Y));
        Cudnn.Check(Cudnn.cudnnDestroyConvolutionDescriptor(d.Conv));
    }

    private double[] ForwardOnDevice(Conv p, double[] x, double[] w, double[] y0, double alpha, double beta, int algo)
    {
        var d = Descriptors(p);
        try
        {
            Cudnn.Check(Cudnn.cudnnGetConvolutionForwardWorkspaceSize(CudnnHandle, d.X, d.W, d.Conv, d.Y, algo, out nuint bytes));
            ulong dx = Upload(x), dw = Upload(w), dy = Upload(y0), ws = bytes > 0 ? Upload(new byte[(int)bytes]) : 0;
            Cudnn.Check(Cudnn.cudnnConvolutionForward(CudnnHandle, &alpha, d.X, (nint)dx, d.W, (nint)dw, d.Conv, algo, (nint)ws, bytes, &beta, d.Y, (nint)dy));
            return Download<double>(dy, y0.Length);
        }
        finally { Destroy(d); }
    }

    [Test]
    public void ConvolutionModeFlipsTheFilterCrossCorrelationDoesNot()
    {
        var cross = new Conv(1, 1, 4, 4, 1, 2, 3, 0, 1, 1, 1, false);
        var conv = cross with { Flip = true };
        double[] x = RandomArray(10, 16), w = [1, 2, 3, 4, 5, 6]; // asymmetric: flipping changes the result
        foreach (var p in new[] { cross, conv })
        {
            var expected = new double[p.N * p.K * p.OH * p.OW];
            p.Terms((yi, xi, wi) => expected[yi] += x[xi] * w[wi]);
            AreClose(expected, ForwardOnDevice(p, x, w, new double[expected.Length], 1, 0, 1), 1e-12, p.Flip ? "CUDNN_CONVOLUTION" : "CUDNN_CROSS_CORRELATION");
        }
        double[] a = ForwardOnDevice(cross, x, w, new double[6], 1, 0, 1), b = ForwardOnDevice(conv, x, w, new double[6], 1, 0, 1);
        Assert.That(a.Zip(b).Any(t => Math.Abs(t.First - t.Second) > 1e-6), "the two modes must differ for an asymmetric filter");
        // Element (0, 0) by hand: cross-correlation pairs x[0][0] with w[0][0]; convolution pairs it with w[1][2].
        Assert.That(a[0], Is.EqualTo(x[0] * 1 + x[1] * 2 + x[2] * 3 + x[4] * 4 + x[5] * 5 + x[6] * 6).Within(1e-12));
        Assert.That(b[0], Is.EqualTo(x[0] * 6 + x[1] * 5 + x[2] * 4 + x[4] * 3 + x[5] * 2 + x[6] * 1).Within(1e-12));
    }

    private static IEnumerable<Conv> Problems() =>
    [
        new Conv(2, 3, 7, 6, 4, 3, 3, 1, 2, 1, 1, false),  // padding + stride
        new Conv(1, 2, 9, 8, 3, 3, 2, 2, 1, 2, 1, false),  // dilation + padding
        new Conv(2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2, true),   // groups, convolution mode
        new Conv(1, 2, 8, 7, 2, 2, 3, 1, 3, 2, 1, true),   // everything at once
    ];

    [TestCaseSource(nameof(Problems))]
    public void ConvolutionPassesMatchReferenceLoopsWithBlending(Conv p)
    {
        int xn = p.N * p.C * p.H * p.W, wn = p.K * p.Cg * p.R * p.S, yn = p.N * p.K * p.OH * p.OW;
        double[] x = RandomArray(20, xn), w = RandomArray(21, wn), dy = RandomArray(22, yn);
        double[] y0 = RandomArray(23, yn), dx0 = RandomArray(24, xn), dw0 = RandomArray(25, wn);
        const double alpha = 0.75, beta = -1.25;

        double[] y = new double[yn], dx = new double[xn], dw = new double[wn];
        p.Terms((yi, xi, wi) =>
        {
            y[yi] += x[xi] * w[wi];
            dx[xi] += dy[yi] * w[wi];
            dw[wi] += dy[yi] * x[xi];
        });
        double[] Blend(double[] v, double[] prior) => v.Select((e, i) => alpha * e + beta * prior[i]).ToArray();

        var d = Descriptors(p);
        try
        {
            ulong gx = Upload(x), gw = Upload(w), gdy = Upload(dy), gdx = Upload(dx0), gdw = Upload(dw0);
            double a = alpha, b = beta;
            foreach (int algo in new[] { 0, 1, 2 })
            {
                Cudnn.Check(Cudnn.cudnnGetConvolutionForwardWorkspaceSize(CudnnHandle, d.X, d.W, d.Conv, d.Y, algo, out nuint bytes));
                ulong ws = bytes > 0 ? Upload(new byte[(int)bytes]) : 0;
                ulong outY = Upload(y0);
                Cudnn.Check(Cudnn.cudnnConvolutionForward(CudnnHandle, &a, d.X, (nint)gx, d.W, (nint)gw, d.Conv, algo, (nint)ws, bytes, &b, d.Y, (nint)outY));
                AreClose(Blend(y, y0), Download<double>(outY, yn), 1e-10, $"forward algo {algo}");
            }
            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(CudnnHandle, d.W, d.Y, d.Conv, d.X, 1, out nuint dataBytes));
            ulong wsData = Upload(new byte[(int)dataBytes]);
            Cudnn.Check(Cudnn.cudnnConvolutionBackwardData(CudnnHandle, &a, d.W, (nint)gw, d.Y, (nint)gdy, d.Conv, 1, (nint)wsData, dataBytes, &b, d.X, (nint)gdx));
            AreClose(Blend(dx, dx0), Download<double>(gdx, xn), 1e-10, "backward data");
            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(CudnnHandle, d.X, d.Y, d.Conv, d.W, 1, out nuint filterBytes));
            ulong wsFilter = Upload(new byte[(int)filterBytes]);
            Cudnn.Check(Cudnn.cudnnConvolutionBackwardFilter(CudnnHandle, &a, d.X, (nint)gx, d.Y, (nint)gdy, d.Conv, 1, (nint)wsFilter, filterBytes, &b, d.W, (nint)gdw));
            AreClose(Blend(dw, dw0), Download<double>(gdw, wn), 1e-10, "backward filter");
        }
        finally { Destroy(d); }
    }

    [Test]
    public void OutputDimAndDescriptorMismatchesAreChecked()
    {
        var p = new Conv(2, 3, 7, 6, 4, 3, 3, 1, 2, 2, 1, false);
        var d = Descriptors(p);
        try
        {
            Cudnn.Check(Cudnn.cudnnGetConvolution2dForwardOutputDim(d.Conv, d.X, d.W, out int n, out int c, out int h, out int w));
            Assert.That((n, c, h, w), Is.EqualTo((2, 4, p.OH, p.OW)));
            Assert.That((h, w), Is.EqualTo((3, 2)));
            nint wrongY = Tensor4d(2, 4, p.OH + 1, p.OW);
            double one = 1, zero = 0;
            var status = Cudnn.cudnnConvolutionForward(CudnnHandle, &one, d.X, (nint)Upload(new double[252]), d.W, (nint)Upload(new double[108]), d.Conv, 0,
                0, 0, &zero, wrongY, (nint)Upload(new double[64]));
            Assert.That(status, Is.EqualTo(CudnnStatus.BadParam));
            Assert.That(CudnnMessage(status), Does.Contain("cudnnConvolutionForward").And.Contain("expected [2,4,3,2]"));
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(wrongY));
            Assert.That(Cudnn.cudnnSetConvolution2dDescriptor(d.Conv, 0, 0, 0, 1, 1, 1, CudnnConvolutionMode.CrossCorrelation, CudnnDataType.Double),
                Is.EqualTo(CudnnStatus.BadParam));
            Assert.That(Cudnn.cudnnSetTensor4dDescriptor(d.X, CudnnTensorFormat.Nchw, CudnnDataType.Double, 0, 1, 1, 1), Is.EqualTo(CudnnStatus.BadParam));
        }
        finally { Destroy(d); }
    }

    [Test]
    public void AlgorithmQueriesRankSupportedAlgorithmsAndTooSmallAWorkspaceFails()
    {
        var p = new Conv(2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, false);
        var d = Descriptors(p, CudnnDataType.Float);
        try
        {
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(d.Conv, CudnnMathType.Fma));
            var perf = stackalloc CudnnConvolutionAlgoPerf[8];
            Cudnn.Check(Cudnn.cudnnGetConvolutionForwardAlgorithm_v7(CudnnHandle, d.X, d.W, d.Conv, d.Y, 8, out int count, perf));
            Assert.That(count, Is.EqualTo(8));
            Assert.That(perf[0].Status, Is.EqualTo(CudnnStatus.Success));
            Assert.That(perf[0].Memory, Is.GreaterThan((nuint)0), "the first-ranked forward algorithm reports a workspace");
            Assert.That(perf[0].MathType, Is.EqualTo(CudnnMathType.Fma));
            Assert.That(Enumerable.Range(0, count).Select(i => perf[i].Algo).Distinct().Count(), Is.EqualTo(8));
            Assert.That(Enumerable.Range(0, count).Any(i => perf[i].Status == CudnnStatus.NotSupported), "unsupported algorithms are listed as such");
            int algo = perf[0].Algo;
            Cudnn.Check(Cudnn.cudnnGetConvolutionForwardWorkspaceSize(CudnnHandle, d.X, d.W, d.Conv, d.Y, algo, out nuint bytes));
            Assert.That(bytes, Is.EqualTo(perf[0].Memory));

            ulong x = Upload(new float[2 * 3 * 64]), w = Upload(new float[4 * 3 * 9]), y = Upload(new float[2 * 4 * 64]);
            ulong ws = Upload(new byte[(int)bytes]);
            float one = 1, zero = 0;
            var status = Cudnn.cudnnConvolutionForward(CudnnHandle, &one, d.X, (nint)x, d.W, (nint)w, d.Conv, algo, (nint)ws, bytes - 1, &zero, d.Y, (nint)y);
            Assert.That(status, Is.EqualTo(CudnnStatus.BadParam));
            Assert.That(CudnnMessage(status), Does.Contain("CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM").And.Contain($"workSpaceSizeInBytes = {bytes - 1}"));
            Cudnn.Check(Cudnn.cudnnConvolutionForward(CudnnHandle, &one, d.X, (nint)x, d.W, (nint)w, d.Conv, algo, (nint)ws, bytes, &zero, d.Y, (nint)y));

            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(CudnnHandle, d.X, d.Y, d.Conv, d.W, 8, out count, perf));
            Assert.That(count, Is.EqualTo(7));
            Assert.That(perf[0].Memory, Is.GreaterThan((nuint)0));
            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(CudnnHandle, d.X, d.Y, d.Conv, d.W, perf[0].Algo, out nuint filterBytes));
            status = Cudnn.cudnnConvolutionBackwardFilter(CudnnHandle, &one, d.X, (nint)x, d.Y, (nint)y, d.Conv, perf[0].Algo, (nint)ws, filterBytes - 1,
                &zero, d.W, (nint)w);
            Assert.That(status, Is.EqualTo(CudnnStatus.BadParam));
            Assert.That(CudnnMessage(status), Does.Contain("cudnnConvolutionBackwardFilter").And.Contain("CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1"));

            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(CudnnHandle, d.W, d.Y, d.Conv, d.X, 8, out count, perf));
            Assert.That(count, Is.EqualTo(6));
            Assert.That(perf[0].Status, Is.EqualTo(CudnnStatus.Success));
            Assert.That(Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(CudnnHandle, d.W, d.Y, d.Conv, d.X, 2, out _), Is.EqualTo(CudnnStatus.NotSupported));

            // Find…Ex runs the best algorithm that fits the workspace given: with none, one that needs none.
            Cudnn.Check(Cudnn.cudnnFindConvolutionForwardAlgorithmEx(CudnnHandle, d.X, (nint)x, d.W, (nint)w, d.Conv, d.Y, (nint)y, 8, out count, perf, 0, 0));
            int firstOk = Enumerable.Range(0, count).First(i => perf[i].Status == CudnnStatus.Success);
            Assert.That(perf[firstOk].Memory, Is.EqualTo((nuint)0));
        }
        finally { Destroy(d); }
    }

    [Test]
    public void TensorLargerThanItsAllocationIsReported()
    {
        var p = new Conv(1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1, false);
        var d = Descriptors(p);
        try
        {
            ulong x = Upload(new double[50]), w = Upload(new double[36]);
            ulong y = Upload(new double[49], 49); // y is 1×2×5×5 = 50 elements
            double one = 1, zero = 0;
            var status = Cudnn.cudnnConvolutionForward(CudnnHandle, &one, d.X, (nint)x, d.W, (nint)w, d.Conv, 0, 0, 0, &zero, d.Y, (nint)y);
            Assert.That(status, Is.EqualTo(CudnnStatus.ExecutionFailed));
            Assert.That(CudnnMessage(status), Does.Contain("cudnnConvolutionForward").And.Contain(" y "));
        }
        finally { Destroy(d); }
    }

    // ---- pooling

    private double[] PoolOnDevice(CudnnPoolingMode mode, int n, int c, int h, int w, int window, int pad, int stride, double[] x,
        out int oh, out int ow, double[]? dy, out double[]? dx)
    {
        oh = (h + 2 * pad - window) / stride + 1;
        ow = (w + 2 * pad - window) / stride + 1;
        nint xd = Tensor4d(n, c, h, w), yd = Tensor4d(n, c, oh, ow);
        Cudnn.Check(Cudnn.cudnnCreatePoolingDescriptor(out nint pool));
        try
        {
            Cudnn.Check(Cudnn.cudnnSetPooling2dDescriptor(pool, mode, CudnnNanPropagation.Propagate, window, window, pad, pad, stride, stride));
            int yn = n * c * oh * ow;
            ulong gx = Upload(x), gy = Upload(new double[yn]);
            double one = 1, zero = 0;
            Cudnn.Check(Cudnn.cudnnPoolingForward(CudnnHandle, pool, &one, xd, (nint)gx, &zero, yd, (nint)gy));
            dx = null;
            if (dy is not null)
            {
                ulong gdy = Upload(dy), gdx = Upload(Enumerable.Repeat(double.NaN, x.Length).ToArray());
                Cudnn.Check(Cudnn.cudnnPoolingBackward(CudnnHandle, pool, &one, yd, (nint)gy, yd, (nint)gdy, xd, (nint)gx, &zero, xd, (nint)gdx));
                dx = Download<double>(gdx, x.Length);
            }
            return Download<double>(gy, yn);
        }
        finally
        {
            Cudnn.Check(Cudnn.cudnnDestroyPoolingDescriptor(pool));
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(xd));
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(yd));
        }
    }

    [Test]
    public void AveragePoolingIncludingAndExcludingPaddingDifferAsDocumented()
    {
        const int n = 1, c = 2, h = 5, w = 4, window = 3, pad = 1, stride = 2;
        double[] x = RandomArray(30, n * c * h * w), dy = RandomArray(31, 2 * 3 * 2);
        foreach (var mode in new[] { CudnnPoolingMode.AverageCountIncludePadding, CudnnPoolingMode.AverageCountExcludePadding, CudnnPoolingMode.Max })
        {
            double[] y = PoolOnDevice(mode, n, c, h, w, window, pad, stride, x, out int oh, out int ow, dy, out double[]? dx);
            var expectedY = new double[y.Length];
            var expectedDx = new double[x.Length];
            for (int p = 0; p < n * c; p++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        var cells = new List<int>();
                        for (int r = 0; r < window; r++)
                            for (int s = 0; s < window; s++)
                            {
                                int ih = i * stride - pad + r, iw = j * stride - pad + s;
                                if (ih >= 0 && ih < h && iw >= 0 && iw < w) cells.Add((p * h + ih) * w + iw);
                            }
                        int yi = (p * oh + i) * ow + j;
                        if (mode == CudnnPoolingMode.Max)
                        {
                            int best = cells.OrderByDescending(k => x[k]).First();
                            expectedY[yi] = x[best];
                            expectedDx[best] += dy[yi];
                            continue;
                        }
                        double divisor = mode == CudnnPoolingMode.AverageCountIncludePadding ? window * window : cells.Count;
                        expectedY[yi] = cells.Sum(k => x[k]) / divisor;
                        foreach (int k in cells) expectedDx[k] += dy[yi] / divisor;
                    }
            AreClose(expectedY, y, 1e-12, $"{mode} forward");
            AreClose(expectedDx, dx!, 1e-12, $"{mode} backward");
        }
        double[] include = PoolOnDevice(CudnnPoolingMode.AverageCountIncludePadding, n, c, h, w, window, pad, stride, x, out _, out _, null, out _);
        double[] exclude = PoolOnDevice(CudnnPoolingMode.AverageCountExcludePadding, n, c, h, w, window, pad, stride, x, out _, out _, null, out _);
        // The corner window (0, 0) covers 4 of its 9 cells: exclude-padding divides by 4, include-padding by 9.
        Assert.That(exclude[0], Is.EqualTo(include[0] * 9 / 4).Within(1e-12));
    }

    // ---- batch norm

    [Test]
    public void BatchNormTrainingInferenceAndBackwardMatchTheDefinition(
        [Values] bool perActivation, [Values] bool f32)
    {
        var mode = perActivation ? CudnnBatchNormMode.PerActivation : CudnnBatchNormMode.Spatial;
        const int n = 3, c = 2, h = 2, w = 3, hw = h * w;
        const double eps = 1e-5, factor = 0.1;
        bool spatial = mode == CudnnBatchNormMode.Spatial;
        int features = spatial ? c : c * hw, m = spatial ? n * hw : n;
        double tolerance = f32 ? 2e-5 : 1e-10;
        var type = f32 ? CudnnDataType.Float : CudnnDataType.Double;
        // Element i = ((ni·c + ci)·hw + s) of x belongs to feature ci (spatial) or ci·hw + s (per activation).
        int Feature(int i) => spatial ? i / hw % c : i % (c * hw);
        double[] x = RandomArray(40, n * c * hw), dy = RandomArray(41, x.Length);
        double[] gamma = RandomArray(42, features), betaBias = RandomArray(43, features), runMean = RandomArray(44, features);
        double[] runVar = RandomArray(45, features).Select(v => Math.Abs(v) + 0.5).ToArray();
        if (f32)
            foreach (var a in new[] { x, dy, gamma, betaBias, runMean, runVar })
                for (int i = 0; i < a.Length; i++) a[i] = (float)a[i];
        ulong Up(double[] v) => f32 ? Upload(F(v)) : Upload(v);
        double[] Down(ulong p, int count) => f32 ? Download<float>(p, count).Select(v => (double)v).ToArray() : Download<double>(p, count);

        nint xd = Tensor4d(n, c, h, w, type);
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out nint pd));
        try
        {
            Cudnn.Check(Cudnn.cudnnDeriveBNTensorDescriptor(pd, xd, mode));
            int* dims = stackalloc int[4];
            int* strides = stackalloc int[4];
            Cudnn.Check(Cudnn.cudnnGetTensorNdDescriptor(pd, 4, out var paramType, out int nb, dims, strides));
            Assert.That((paramType, nb, dims[0], dims[1], dims[2], dims[3]), Is.EqualTo((type, 4, 1, c, spatial ? 1 : h, spatial ? 1 : w)));

            var mean = new double[features];
            var variance = new double[features];
            for (int i = 0; i < x.Length; i++) mean[Feature(i)] += x[i] / m;
            for (int i = 0; i < x.Length; i++) variance[Feature(i)] += (x[i] - mean[Feature(i)]) * (x[i] - mean[Feature(i)]) / m;
            var xhat = x.Select((v, i) => (v - mean[Feature(i)]) / Math.Sqrt(variance[Feature(i)] + eps)).ToArray();

            ulong gx = Up(x), gy = Up(new double[x.Length]), gg = Up(gamma), gb = Up(betaBias);
            ulong grm = Up(runMean), grv = Up(runVar), gsm = Up(new double[features]), gsi = Up(new double[features]);
            float oneF = 1, zeroF = 0;
            double oneD = 1, zeroD = 0;
            void* one = f32 ? &oneF : &oneD;
            void* zero = f32 ? &zeroF : &zeroD;
            Cudnn.Check(Cudnn.cudnnBatchNormalizationForwardTraining(CudnnHandle, mode, one, zero, xd, (nint)gx, xd, (nint)gy,
                pd, (nint)gg, (nint)gb, factor, (nint)grm, (nint)grv, eps, (nint)gsm, (nint)gsi));
            AreClose(x.Select((_, i) => gamma[Feature(i)] * xhat[i] + betaBias[Feature(i)]).ToArray(), Down(gy, x.Length), tolerance, "training y");
            AreClose(mean, Down(gsm, features), tolerance, "saved mean");
            AreClose(variance.Select(v => 1 / Math.Sqrt(v + eps)).ToArray(), Down(gsi, features), tolerance, "saved inverse std");
            AreClose(runMean.Select((r, i) => (1 - factor) * r + factor * mean[i]).ToArray(), Down(grm, features), tolerance, "running mean");
            AreClose(runVar.Select((r, i) => (1 - factor) * r + factor * variance[i] * m / (m - 1)).ToArray(), Down(grv, features), tolerance,
                "running variance (unbiased)");

            ulong gyi = Up(new double[x.Length]);
            Cudnn.Check(Cudnn.cudnnBatchNormalizationForwardInference(CudnnHandle, mode, one, zero, xd, (nint)gx, xd, (nint)gyi,
                pd, (nint)gg, (nint)gb, (nint)Up(runMean), (nint)Up(runVar), eps));
            var expectedInference = x.Select((v, i) =>
                gamma[Feature(i)] * (v - runMean[Feature(i)]) / Math.Sqrt(runVar[Feature(i)] + eps) + betaBias[Feature(i)]).ToArray();
            AreClose(expectedInference, Down(gyi, x.Length), tolerance, "inference y");

            // Backward with alphaDataDiff = 1, betaDataDiff = 0.5 (dx blends), alphaParamDiff = 2, betaParamDiff = 0.
            double[] dxPrior = RandomArray(46, x.Length);
            if (f32) dxPrior = dxPrior.Select(v => (double)(float)v).ToArray();
            ulong gdy = Up(dy), gdx = Up(dxPrior), gds = Up(new double[features]), gdb = Up(new double[features]);
            float halfF = 0.5f, twoF = 2;
            double halfD = 0.5, twoD = 2;
            Cudnn.Check(Cudnn.cudnnBatchNormalizationBackward(CudnnHandle, mode, one, f32 ? &halfF : &halfD, f32 ? &twoF : &twoD, zero,
                xd, (nint)gx, xd, (nint)gdy, xd, (nint)gdx, pd, (nint)gg, (nint)gds, (nint)gdb, eps, (nint)gsm, (nint)gsi));
            var dBias = new double[features];
            var dScale = new double[features];
            for (int i = 0; i < x.Length; i++)
            {
                dBias[Feature(i)] += dy[i];
                dScale[Feature(i)] += dy[i] * xhat[i];
            }
            var expectedDx = x.Select((_, i) =>
            {
                int f = Feature(i);
                return gamma[f] / Math.Sqrt(variance[f] + eps) / m * (m * dy[i] - dBias[f] - xhat[i] * dScale[f]) + 0.5 * dxPrior[i];
            }).ToArray();
            AreClose(expectedDx, Down(gdx, x.Length), tolerance * 10, "backward dx");
            AreClose(dScale.Select(v => 2 * v).ToArray(), Down(gds, features), tolerance, "backward dScale");
            AreClose(dBias.Select(v => 2 * v).ToArray(), Down(gdb, features), tolerance, "backward dBias");
        }
        finally
        {
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(pd));
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(xd));
        }
    }
}
