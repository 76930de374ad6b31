using NativeNet.Interop;
using NUnit.Framework;

namespace NativeNet.Tests.Cuda;

/// <summary>
/// The emulated cuDNN RNN API (tests/CudaEmulator/dnn/rnn.cpp) through the engine's bindings: forward against
/// a C# loop of cuDNN's documented cell equations with the weights found through cudnnGetRNNWeightParams
/// (gate order by linLayerID, bias modes), and backward data and weights against central differences of that
/// loop, for LSTM, GRU, TANH and RELU cells, several layers, both directions, variable lengths and the three
/// data layouts; plus the checks a lax emulator would skip.
/// </summary>
[TestFixture]
public sealed unsafe class EmulatedRnnTests : EmulatorFixture
{
    private const int InputSize = 3, Hidden = 2;

    /// <summary>One RNN configuration of the tests.</summary>
    private sealed record RnnCase(CudnnRnnMode Mode, CudnnRnnDataLayout Layout, bool Bidirectional, int Layers, CudnnRnnBiasMode Bias, int[] Lengths,
        bool F32 = false)
    {
        public CudnnDataType Type => F32 ? CudnnDataType.Float : CudnnDataType.Double;
        public int Element => F32 ? sizeof(float) : sizeof(double);
        public int D => Bidirectional ? 2 : 1;
        public int G => Mode switch { CudnnRnnMode.Lstm => 4, CudnnRnnMode.Gru => 3, _ => 1 };
        public int B => Lengths.Length;
        public int T => Lengths.Max();
        public int InSize(int layer) => layer == 0 ? InputSize : Hidden * D;
        public override string ToString() => $"{Mode} {Layout} {(Bidirectional ? "bi" : "uni")} L{Layers} {Bias} [{string.Join(",", Lengths)}]{(F32 ? " float" : "")}";
    }

    private static readonly RnnCase[] Cases =
    [
        new(CudnnRnnMode.Lstm, CudnnRnnDataLayout.SeqMajorUnpacked, true, 2, CudnnRnnBiasMode.DoubleBias, [4, 2, 3]),
        new(CudnnRnnMode.Gru, CudnnRnnDataLayout.SeqMajorPacked, false, 2, CudnnRnnBiasMode.SingleInputBias, [4, 3, 1]),
        new(CudnnRnnMode.RnnTanh, CudnnRnnDataLayout.BatchMajorUnpacked, true, 1, CudnnRnnBiasMode.SingleRecurrentBias, [2, 4]),
        new(CudnnRnnMode.RnnRelu, CudnnRnnDataLayout.SeqMajorUnpacked, false, 1, CudnnRnnBiasMode.NoBias, [3, 3]),
        new(CudnnRnnMode.Gru, CudnnRnnDataLayout.BatchMajorUnpacked, true, 1, CudnnRnnBiasMode.DoubleBias, [1, 3, 2]),
        new(CudnnRnnMode.Lstm, CudnnRnnDataLayout.SeqMajorPacked, true, 2, CudnnRnnBiasMode.DoubleBias, [3, 3, 2], F32: true),
    ];

    private static IEnumerable<TestCaseData> CaseData() => Cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames(c.ToString()));

    /// <summary>Where cudnnGetRNNWeightParams put each matrix (row-major rows × cols) and bias (-1: none), in elements.</summary>
    private sealed record Layout(int[,] Matrix, int[,] Rows, int[,] Cols, int[,] Bias);

    /// <summary>The RNN's descriptors on the device.</summary>
    private sealed class Setup(nint rnn, nint x, nint y, nint h, nint c) : IDisposable
    {
        public nint Rnn = rnn, X = x, Y = y, H = h, C = c;
        public void Dispose()
        {
            Cudnn.Check(Cudnn.cudnnDestroyRNNDescriptor(Rnn));
            Cudnn.Check(Cudnn.cudnnDestroyRNNDataDescriptor(X));
            Cudnn.Check(Cudnn.cudnnDestroyRNNDataDescriptor(Y));
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(H));
            Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(C));
        }
    }

    private static nint DataDesc(RnnCase k, int vector, void* fill)
    {
        Cudnn.Check(Cudnn.cudnnCreateRNNDataDescriptor(out nint d));
        fixed (int* lengths = k.Lengths)
            Cudnn.Check(Cudnn.cudnnSetRNNDataDescriptor(d, k.Type, k.Layout, k.T, k.B, vector, lengths, fill));
        return d;
    }

    private static nint StateDesc(RnnCase k)
    {
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out nint d));
        int* dims = stackalloc int[] { k.Layers * k.D, k.B, Hidden };
        int* strides = stackalloc int[] { k.B * Hidden, Hidden, 1 };
        Cudnn.Check(Cudnn.cudnnSetTensorNdDescriptor(d, k.Type, 3, dims, strides));
        return d;
    }

    private const double PaddingFill = -7;

    private static Setup Create(RnnCase k, uint auxFlags = Cudnn.RnnPaddedIoEnabled)
    {
        Cudnn.Check(Cudnn.cudnnCreateRNNDescriptor(out nint rnn));
        Cudnn.Check(Cudnn.cudnnSetRNNDescriptor_v8(rnn, CudnnRnnAlgo.Standard, k.Mode, k.Bias,
            k.Bidirectional ? CudnnDirectionMode.Bidirectional : CudnnDirectionMode.Unidirectional, CudnnRnnInputMode.LinearInput,
            k.Type, k.Type, CudnnMathType.Default, InputSize, Hidden, Hidden, k.Layers, 0, auxFlags));
        double fill = PaddingFill;
        float fillF = (float)PaddingFill;
        return new Setup(rnn, DataDesc(k, InputSize, null), DataDesc(k, Hidden * k.D, k.F32 ? &fillF : &fill), StateDesc(k), StateDesc(k));
    }

    private Layout WeightLayout(RnnCase k, Setup s, ulong weights, nuint weightBytes)
    {
        int pseudo = k.Layers * k.D, ids = 2 * k.G;
        var layout = new Layout(new int[pseudo, ids], new int[pseudo, ids], new int[pseudo, ids], new int[pseudo, ids]);
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out nint m));
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out nint b));
        int* dims = stackalloc int[3];
        int* strides = stackalloc int[3];
        for (int p = 0; p < pseudo; p++)
            for (int id = 0; id < ids; id++)
            {
                Cudnn.Check(Cudnn.cudnnGetRNNWeightParams(CudnnHandle, s.Rnn, p, weightBytes, (nint)weights, id, m, out nint mAddr, b, out nint bAddr));
                Cudnn.Check(Cudnn.cudnnGetTensorNdDescriptor(m, 3, out _, out int nb, dims, strides));
                Assert.That((nb, dims[0], strides[1], strides[2]), Is.EqualTo((3, 1, dims[2], 1)), "matrices are [1, rows, cols], row-major");
                layout.Matrix[p, id] = (int)((ulong)mAddr - weights) / k.Element;
                layout.Rows[p, id] = dims[1];
                layout.Cols[p, id] = dims[2];
                layout.Bias[p, id] = bAddr == 0 ? -1 : (int)((ulong)bAddr - weights) / k.Element;
            }
        Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(m));
        Cudnn.Check(Cudnn.cudnnDestroyTensorDescriptor(b));
        return layout;
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>
    /// cuDNN's documented cells (linLayerID g and G + g for gate g's input and recurrent matrices). x is
    /// [b][t][InputSize]; states are [layer·D + dir][b][Hidden]; y is [b][t][Hidden·D] (valid steps only).
    /// </summary>
    private static (double[] Y, double[] Hy, double[] Cy) Reference(RnnCase k, Layout l, double[] w, double[] x, double[] hx, double[] cx)
    {
        int B = k.B, T = k.T, D = k.D, H = Hidden;
        var y = new double[B * T * H * D];
        var hy = new double[k.Layers * D * B * H];
        var cy = new double[hy.Length];
        var below = new double[B * T * InputSize];
        Array.Copy(x, below, x.Length);
        for (int layer = 0; layer < k.Layers; layer++)
        {
            int inSize = k.InSize(layer);
            var output = new double[B * T * H * D];
            for (int dir = 0; dir < D; dir++)
            {
                int p = layer * D + dir;
                double Pre(int id, int row, double[] v, int vOff)
                {
                    double s = 0;
                    for (int i = 0; i < l.Cols[p, id]; i++) s += w[l.Matrix[p, id] + row * l.Cols[p, id] + i] * v[vOff + i];
                    return s + (l.Bias[p, id] >= 0 ? w[l.Bias[p, id] + row] : 0);
                }
                for (int b = 0; b < B; b++)
                {
                    var h = hx.Skip((p * B + b) * H).Take(H).ToArray();
                    var c = cx.Skip((p * B + b) * H).Take(H).ToArray();
                    int len = k.Lengths[b];
                    for (int step = 0; step < len; step++)
                    {
                        int t = dir == 0 ? step : len - 1 - step;
                        int inOff = (b * T + t) * inSize;
                        var hNew = new double[H];
                        for (int r = 0; r < H; r++)
                        {
                            double Gate(int g) => Pre(g, r, below, inOff) + Pre(k.G + g, r, h, 0);
                            switch (k.Mode)
                            {
                                case CudnnRnnMode.RnnRelu: hNew[r] = Math.Max(0, Gate(0)); break;
                                case CudnnRnnMode.RnnTanh: hNew[r] = Math.Tanh(Gate(0)); break;
                                case CudnnRnnMode.Lstm:
                                {
                                    double i = Sigmoid(Gate(0)), f = Sigmoid(Gate(1)), cand = Math.Tanh(Gate(2)), o = Sigmoid(Gate(3));
                                    c[r] = f * c[r] + i * cand;
                                    hNew[r] = o * Math.Tanh(c[r]);
                                    break;
                                }
                                default:
                                {
                                    double reset = Sigmoid(Gate(0)), update = Sigmoid(Gate(1));
                                    double cand = Math.Tanh(Pre(2, r, below, inOff) + reset * Pre(k.G + 2, r, h, 0));
                                    hNew[r] = (1 - update) * cand + update * h[r];
                                    break;
                                }
                            }
                        }
                        h = hNew;
                        for (int r = 0; r < H; r++) output[(b * T + t) * H * D + dir * H + r] = h[r];
                    }
                    for (int r = 0; r < H; r++)
                    {
                        hy[(p * B + b) * H + r] = h[r];
                        cy[(p * B + b) * H + r] = c[r];
                    }
                }
            }
            below = output;
            y = output;
        }
        return (y, hy, cy);
    }

    /// <summary>Element offset of step t of sequence b in the case's data layout.</summary>
    private static int DataOffset(RnnCase k, int t, int b, int vector) => k.Layout switch
    {
        CudnnRnnDataLayout.SeqMajorUnpacked => (t * k.B + b) * vector,
        CudnnRnnDataLayout.BatchMajorUnpacked => (b * k.T + t) * vector,
        _ => (Enumerable.Range(0, t).Sum(s => k.Lengths.Count(len => len > s)) + b) * vector,
    };

    private static int DataElements(RnnCase k, int vector) =>
        (k.Layout == CudnnRnnDataLayout.SeqMajorPacked ? k.Lengths.Sum() : k.T * k.B) * vector;

    /// <summary>[b][t][v] (valid steps) to the device layout, padding NaN so that reading it shows.</summary>
    private static double[] ToLayout(RnnCase k, double[] bt, int vector)
    {
        var data = Enumerable.Repeat(double.NaN, DataElements(k, vector)).ToArray();
        for (int b = 0; b < k.B; b++)
            for (int t = 0; t < k.Lengths[b]; t++)
                Array.Copy(bt, (b * k.T + t) * vector, data, DataOffset(k, t, b, vector), vector);
        return data;
    }

    private static double[] FromLayout(RnnCase k, double[] data, int vector)
    {
        var bt = new double[k.B * k.T * vector];
        for (int b = 0; b < k.B; b++)
            for (int t = 0; t < k.Lengths[b]; t++)
                Array.Copy(data, DataOffset(k, t, b, vector), bt, (b * k.T + t) * vector, vector);
        return bt;
    }

    private static double[] ValidOnly(RnnCase k, double[] bt, int vector) =>
        bt.Select((v, i) => i / vector % k.T < k.Lengths[i / vector / k.T] ? v : 0).ToArray();

    [TestCaseSource(nameof(CaseData))]
    public void ForwardMatchesTheDocumentedCellsAndBackwardMatchesCentralDifferences(int caseIndex)
    {
        var k = Cases[caseIndex];
        using var s = Create(k);
        // Float cases round every input to float first; the reference then sees exactly what the device sees.
        double[] Round(double[] v) => k.F32 ? v.Select(e => (double)(float)e).ToArray() : v;
        ulong Up(double[] v) => k.F32 ? Upload(v.Select(e => (float)e).ToArray()) : Upload(v);
        double[] Down(ulong p, int count) => k.F32 ? Download<float>(p, count).Select(e => (double)e).ToArray() : Download<double>(p, count);
        double tight = k.F32 ? 1e-6 : 1e-12, loose = k.F32 ? 2e-5 : 1e-6;
        Cudnn.Check(Cudnn.cudnnGetRNNWeightSpaceSize(CudnnHandle, s.Rnn, out nuint weightBytes));
        int weightCount = (int)weightBytes / k.Element;
        double[] w = Round(RandomArray(50, weightCount).Select(v => v * 0.4).ToArray());
        ulong gw = Up(w);
        var layout = WeightLayout(k, s, gw, weightBytes);
        int states = k.Layers * k.D * k.B * Hidden, yVector = Hidden * k.D;
        double[] x = Round(ValidOnly(k, RandomArray(51, k.B * k.T * InputSize), InputSize)), hx = Round(RandomArray(52, states));
        double[] cx = k.Mode == CudnnRnnMode.Lstm ? Round(RandomArray(53, states)) : new double[states];
        var (yRef, hyRef, cyRef) = Reference(k, layout, w, x, hx, cx);

        Cudnn.Check(Cudnn.cudnnGetRNNTempSpaceSizes(CudnnHandle, s.Rnn, CudnnForwardMode.Training, s.X, out nuint workBytes, out nuint reserveBytes));
        Assert.That(reserveBytes, Is.GreaterThan((nuint)0));
        ulong work = Upload(new byte[(int)workBytes]), reserve = Upload(new byte[(int)reserveBytes]);
        ulong seq = Upload(k.Lengths);
        ulong gx = Up(ToLayout(k, x, InputSize)), gy = Up(new double[DataElements(k, yVector)]);
        ulong ghx = Up(hx), ghy = Up(new double[states]);
        ulong gcx = Up(cx), gcy = Up(new double[states]);
        Cudnn.Check(Cudnn.cudnnRNNForward(CudnnHandle, s.Rnn, CudnnForwardMode.Training, (nint)seq, s.X, (nint)gx, s.Y, (nint)gy, s.H, (nint)ghx,
            (nint)ghy, s.C, (nint)gcx, (nint)gcy, weightBytes, (nint)gw, workBytes, (nint)work, reserveBytes, (nint)reserve));
        double[] yDevice = Down(gy, DataElements(k, yVector));
        AreClose(yRef, FromLayout(k, yDevice, yVector), tight, $"{k}: y");
        AreClose(hyRef, Down(ghy, states), tight, $"{k}: hy");
        if (k.Mode == CudnnRnnMode.Lstm) AreClose(cyRef, Down(gcy, states), tight, $"{k}: cy");
        if (k.Layout != CudnnRnnDataLayout.SeqMajorPacked)
            for (int b = 0; b < k.B; b++)
                for (int t = k.Lengths[b]; t < k.T; t++)
                    Assert.That(yDevice[DataOffset(k, t, b, yVector)], Is.EqualTo(PaddingFill), $"{k}: y padding at t = {t}, b = {b}");

        // Loss = Σ y·gy + Σ hy·ghy + Σ cy·gcy over valid steps; its gradients from the device against central differences.
        double[] gyBt = Round(ValidOnly(k, RandomArray(54, k.B * k.T * yVector), yVector)), ghyv = Round(RandomArray(55, states));
        double[] gcyv = Round(RandomArray(56, states));
        double Loss(double[] ww, double[] xx, double[] hh, double[] cc)
        {
            var (yy, hyy, cyy) = Reference(k, layout, ww, xx, hh, cc);
            double sum = yy.Zip(gyBt, (a, b) => a * b).Sum() + hyy.Zip(ghyv, (a, b) => a * b).Sum();
            return k.Mode == CudnnRnnMode.Lstm ? sum + cyy.Zip(gcyv, (a, b) => a * b).Sum() : sum;
        }
        ulong gdx = Up(new double[DataElements(k, InputSize)]), gdhx = Up(new double[states]), gdcx = Up(new double[states]);
        Cudnn.Check(Cudnn.cudnnRNNBackwardData_v8(CudnnHandle, s.Rnn, (nint)seq, s.Y, (nint)gy, (nint)Up(ToLayout(k, gyBt, yVector)), s.X, (nint)gdx,
            s.H, (nint)ghx, (nint)Up(ghyv), (nint)gdhx, s.C, (nint)gcx, (nint)Up(gcyv), (nint)gdcx, weightBytes, (nint)gw, workBytes, (nint)work,
            reserveBytes, (nint)reserve));
        ulong gdw = Up(Enumerable.Repeat(double.NaN, weightCount).ToArray());
        Cudnn.Check(Cudnn.cudnnRNNBackwardWeights_v8(CudnnHandle, s.Rnn, CudnnWgradMode.Set, (nint)seq, s.X, (nint)gx, s.H, (nint)ghx, s.Y, (nint)gy,
            weightBytes, (nint)gdw, workBytes, (nint)work, reserveBytes, (nint)reserve));
        double[] dw = Down(gdw, weightCount);

        const double eps = 1e-6;
        double[] Numeric(double[] v, Func<double[], double> loss, Func<int, bool> include) => v.Select((_, i) =>
        {
            if (!include(i)) return 0;
            var plus = (double[])v.Clone();
            var minus = (double[])v.Clone();
            plus[i] += eps;
            minus[i] -= eps;
            return (loss(plus) - loss(minus)) / (2 * eps);
        }).ToArray();
        AreClose(Numeric(w, ww => Loss(ww, x, hx, cx), _ => true), dw, loose, $"{k}: dw (SET over NaN)");
        var validX = ValidOnly(k, Enumerable.Repeat(1.0, x.Length).ToArray(), InputSize);
        AreClose(Numeric(x, xx => Loss(w, xx, hx, cx), i => validX[i] != 0), FromLayout(k, Down(gdx, DataElements(k, InputSize)), InputSize),
            loose, $"{k}: dx");
        AreClose(Numeric(hx, hh => Loss(w, x, hh, cx), _ => true), Down(gdhx, states), loose, $"{k}: dhx");
        if (k.Mode == CudnnRnnMode.Lstm)
            AreClose(Numeric(cx, cc => Loss(w, x, hx, cc), _ => true), Down(gdcx, states), loose, $"{k}: dcx");

        // ADD accumulates onto what is there.
        Cudnn.Check(Cudnn.cudnnRNNBackwardWeights_v8(CudnnHandle, s.Rnn, CudnnWgradMode.Add, (nint)seq, s.X, (nint)gx, s.H, (nint)ghx, s.Y, (nint)gy,
            weightBytes, (nint)gdw, workBytes, (nint)work, reserveBytes, (nint)reserve));
        AreClose(dw.Select(v => 2 * v).ToArray(), Down(gdw, weightCount), tight, $"{k}: dw (ADD)");
    }

    [Test]
    public void WeightParamsFollowTheGateOrderAndBiasModeAndMisuseIsRejected()
    {
        var k = new RnnCase(CudnnRnnMode.Lstm, CudnnRnnDataLayout.SeqMajorUnpacked, false, 1, CudnnRnnBiasMode.SingleInputBias, [2, 1]);
        using var s = Create(k);
        Cudnn.Check(Cudnn.cudnnGetRNNWeightSpaceSize(CudnnHandle, s.Rnn, out nuint weightBytes));
        // LSTM, one layer: 4 input matrices H×In, 4 recurrent H×H, 4 input biases (single input bias).
        Assert.That((int)weightBytes, Is.EqualTo(sizeof(double) * (4 * Hidden * InputSize + 4 * Hidden * Hidden + 4 * Hidden)));
        ulong gw = Upload(new double[(int)weightBytes / sizeof(double)]);
        var layout = WeightLayout(k, s, gw, weightBytes);
        for (int id = 0; id < 8; id++)
        {
            Assert.That((layout.Rows[0, id], layout.Cols[0, id]), Is.EqualTo((Hidden, id < 4 ? InputSize : Hidden)), $"linLayerID {id}");
            Assert.That(layout.Bias[0, id] >= 0, Is.EqualTo(id < 4), $"linLayerID {id}: single input bias");
        }
        Assert.That(Cudnn.cudnnGetRNNWeightParams(CudnnHandle, s.Rnn, 0, weightBytes, (nint)gw, 8, 0, out _, 0, out _), Is.EqualTo(CudnnStatus.BadParam));
        Assert.That(Cudnn.StatusName(CudnnStatus.BadParam), Does.Contain("linLayerID = 8"));
        Assert.That(Cudnn.cudnnGetRNNWeightParams(CudnnHandle, s.Rnn, 1, weightBytes, (nint)gw, 0, 0, out _, 0, out _), Is.EqualTo(CudnnStatus.BadParam));

        Cudnn.Check(Cudnn.cudnnGetRNNTempSpaceSizes(CudnnHandle, s.Rnn, CudnnForwardMode.Training, s.X, out nuint workBytes, out nuint reserveBytes));
        ulong work = Upload(new byte[(int)workBytes]), reserve = Upload(new byte[(int)reserveBytes]);
        ulong x = Upload(new double[2 * 2 * InputSize]), y = Upload(new double[2 * 2 * Hidden]);
        ulong seq = Upload(k.Lengths);
        CudnnStatus Forward(nint seqLengths, nuint reserveSize) => Cudnn.cudnnRNNForward(CudnnHandle, s.Rnn, CudnnForwardMode.Training, seqLengths,
            s.X, (nint)x, s.Y, (nint)y, s.H, 0, 0, s.C, 0, 0, weightBytes, (nint)gw, workBytes, (nint)work, reserveSize, (nint)reserve);
        Assert.That(Forward((nint)Upload(new[] { 2, 2 }), reserveBytes), Is.EqualTo(CudnnStatus.BadParam), "devSeqLengths differ from the descriptor");
        Assert.That(Cudnn.StatusName(CudnnStatus.BadParam), Does.Contain("devSeqLengths[1] = 2"));
        Assert.That(Forward((nint)seq, reserveBytes - 1), Is.EqualTo(CudnnStatus.BadParam), "reserve one byte short");
        Cudnn.Check(Forward((nint)seq, reserveBytes));
        var status = Cudnn.cudnnRNNBackwardWeights_v8(CudnnHandle, s.Rnn, CudnnWgradMode.Add, (nint)seq, s.X, (nint)x, s.H, 0, s.Y, (nint)y,
            weightBytes, (nint)Upload(new double[(int)weightBytes / sizeof(double)]), workBytes, (nint)work, reserveBytes, (nint)reserve);
        Assert.That(status, Is.EqualTo(CudnnStatus.BadParam), "backward weights needs backward data first");
        Assert.That(Cudnn.StatusName(status), Does.Contain("cudnnRNNBackwardData_v8"));

        // Unpacked data needs CUDNN_RNN_PADDED_IO_ENABLED.
        using var unpadded = Create(k, auxFlags: 0);
        Assert.That(Cudnn.cudnnRNNForward(CudnnHandle, unpadded.Rnn, CudnnForwardMode.Training, (nint)seq, unpadded.X, (nint)x, unpadded.Y, (nint)y,
            unpadded.H, 0, 0, unpadded.C, 0, 0, weightBytes, (nint)gw, workBytes, (nint)work, reserveBytes, (nint)reserve), Is.EqualTo(CudnnStatus.BadParam));
        Assert.That(Cudnn.StatusName(CudnnStatus.BadParam), Does.Contain("CUDNN_RNN_PADDED_IO_ENABLED"));
    }
}
