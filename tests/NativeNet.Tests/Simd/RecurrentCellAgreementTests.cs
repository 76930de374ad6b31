using NativeNet.Backends;
using NativeNet.Backends.Cuda;
using NativeNet.Backends.Simd;
using NUnit.Framework;
using static NativeNet.Tests.Simd.SimdTestUtil;

namespace NativeNet.Tests.Simd;

/// <summary>
/// The fused recurrent cell primitives of the fast backends against the Naive reference: every output (activations written in
/// place, states, gate gradients, carried dc / accumulated dh) for hidden sizes that exercise the vector bodies and scalar
/// tails, one and two threads (the batch split), and pre-activations up to ±60 so the saturating formulas are exercised.
/// </summary>
[TestFixture]
public class RecurrentCellAgreementTests
{
    private static readonly (int Batch, int Hidden)[] Shapes = [(1, 1), (3, 7), (2, 16), (5, 33), (64, 256)];

    /// <summary>Float: σ and tanh from e^x in float are within a few ulp, products of them within 2e-6; double: 1e-12.</summary>
    private static (double Abs, double Rel) CellTol(DType dtype) => dtype == DType.Float32 ? (2e-6, 1e-5) : (1e-12, 1e-10);

    private static Tensor Pre(int[] shape, DType dtype, int seed)
    {
        var t = Random(shape, dtype, seed, -4, 4);
        var v = t.ToArray<double>();
        for (int i = 0; i < v.Length; i += 11) v[i] = (i % 2 == 0 ? 1 : -1) * 60.0;
        using var host = Tensor.FromArray(v, shape);
        t.Dispose();
        return dtype == DType.Float32 ? host.To(DType.Float32) : host.Clone();
    }

    private static Tensor[] Copies(Tensor[] inputs, Device device) => inputs.Select(t => device.Kind == DeviceKind.Cpu ? t.Clone() : t.To(device)).ToArray();

    /// <summary>Runs <paramref name="run"/> on fresh copies with the reference and with <paramref name="backend"/>, then compares every operand.</summary>
    private static void Agree(Backend backend, Device device, Tensor[] operands, Action<Backend, Tensor[]> run, string context)
    {
        var want = operands.Select(t => t.Clone()).ToArray();
        var got = Copies(operands, device);
        run(Naive, want);
        run(backend, got);
        var (abs, rel) = CellTol(operands[0].DType);
        for (int i = 0; i < want.Length; i++)
        {
            using var back = got[i].ToCpu();
            AssertClose(back, want[i], abs, rel, $"{context}, operand {i}");
        }
        foreach (var t in want.Concat(got)) t.Dispose();
    }

    internal static void CheckAllCells(Backend backend, Device device, DType dtype, string label)
    {
        int seed = 0;
        foreach (var (batch, hidden) in Shapes)
        {
            string ctx = $"{label} {dtype} N={batch} H={hidden}";
            Tensor R(int cols, double scale = 1) { var t = Random([batch, cols], dtype, ++seed, -scale, scale); return t; }
            foreach (bool bias in new[] { true, false })
            {
                using var b4 = Random([4 * hidden], dtype, ++seed, -1, 1);
                var operands = new List<Tensor> { Pre([batch, 4 * hidden], dtype, ++seed), R(hidden, 2), Tensor.Zeros([batch, hidden], dtype), Tensor.Zeros([batch, hidden], dtype) };
                if (bias) operands.Add(b4);
                Agree(backend, device, operands.ToArray(), (b, t) => b.LstmCellForward(t[0], bias ? t[4] : null, t[1], t[2], t[3]), $"LstmCellForward(bias={bias}) " + ctx);
            }

            // Backward from a consistent forward state (activations in range, c from them).
            using var gates = Pre([batch, 4 * hidden], dtype, ++seed);
            using var cPrev = R(hidden, 2);
            using var c = Tensor.Zeros([batch, hidden], dtype);
            using var h = Tensor.Zeros([batch, hidden], dtype);
            Naive.LstmCellForward(gates, null, cPrev, c, h);
            Agree(backend, device, [gates, cPrev, c, R(hidden), R(hidden), Tensor.Zeros([batch, 4 * hidden], dtype)],
                (b, t) => b.LstmCellBackward(t[0], t[1], t[2], t[3], t[4], t[5]), "LstmCellBackward " + ctx);

            foreach (bool bias in new[] { true, false })
            {
                using var bi = Random([3 * hidden], dtype, ++seed, -1, 1);
                using var bh = Random([3 * hidden], dtype, ++seed, -1, 1);
                var operands = new List<Tensor> { Pre([batch, 3 * hidden], dtype, ++seed), Pre([batch, 3 * hidden], dtype, ++seed), R(hidden, 2), Tensor.Zeros([batch, hidden], dtype) };
                if (bias) { operands.Add(bi); operands.Add(bh); }
                Agree(backend, device, operands.ToArray(), (b, t) => b.GruCellForward(t[0], t[1], bias ? t[4] : null, bias ? t[5] : null, t[2], t[3]), $"GruCellForward(bias={bias}) " + ctx);
            }

            using var xg = Pre([batch, 3 * hidden], dtype, ++seed);
            using var hg = Pre([batch, 3 * hidden], dtype, ++seed);
            using var hPrev = R(hidden, 2);
            using var hOut = Tensor.Zeros([batch, hidden], dtype);
            Naive.GruCellForward(xg, hg, null, null, hPrev, hOut);
            Agree(backend, device, [xg, hg, hPrev, R(hidden), R(hidden), Tensor.Zeros([batch, 3 * hidden], dtype), Tensor.Zeros([batch, 3 * hidden], dtype)],
                (b, t) => b.GruCellBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6]), "GruCellBackward " + ctx);
        }
    }

    [Test]
    public void SimdCellsAgreeWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype, [Values(1, 2)] int threads)
    {
        int saved = SimdBackend.Threads;
        SimdBackend.Threads = threads;
        try { CheckAllCells(SimdB, Device.Cpu, dtype, $"simd T={threads}"); }
        finally { SimdBackend.Threads = saved; }
    }

    [Test]
    [Category("Gpu")]
    [Category("Cuda")]
    public void CudaCellsAgreeWithNaive([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        if (!CudaRuntime.IsAvailable) Assert.Ignore("no CUDA device: " + CudaRuntime.UnavailableReason);
        CheckAllCells(CudaBackend.Get(0), Device.Cuda(0), dtype, "cuda");
    }

    /// <summary>The CPU cell backwards may write their gradients over their inputs (the layer does on the cache's last use): same values as into fresh tensors.</summary>
    [Test]
    public void CpuCellBackwardsMayOverwriteTheirInputs([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        const int batch = 3, hidden = 37; // vector body and scalar tail
        foreach (Backend b in new Backend[] { Naive, SimdB })
        {
            using var act = Pre([batch, 4 * hidden], dtype, 1);
            using var cPrev = Random([batch, hidden], dtype, 2, -2, 2);
            using var c = Tensor.Zeros([batch, hidden], dtype);
            using var h = Tensor.Zeros([batch, hidden], dtype);
            Naive.LstmCellForward(act, null, cPrev, c, h);
            using var dh = Random([batch, hidden], dtype, 3);
            using var dc0 = Random([batch, hidden], dtype, 4);
            using var dc1 = dc0.Clone();
            using var dcAlias = dc0.Clone();
            using var dGates = Tensor.Zeros([batch, 4 * hidden], dtype);
            using var inPlace = act.Clone();
            b.LstmCellBackward(act, cPrev, c, dh, dc1, dGates);
            b.LstmCellBackward(inPlace, cPrev, c, dh, dcAlias, inPlace);
            Assert.That(Values(inPlace), Is.EqualTo(Values(dGates)), $"{b.Name} {dtype} LSTM dGates");
            Assert.That(Values(dcAlias), Is.EqualTo(Values(dc1)), $"{b.Name} {dtype} LSTM dc");

            using var xg = Pre([batch, 3 * hidden], dtype, 5);
            using var hg = Pre([batch, 3 * hidden], dtype, 6);
            using var hPrev = Random([batch, hidden], dtype, 7);
            Naive.GruCellForward(xg, hg, null, null, hPrev, h);
            using var dhPrev = Tensor.Zeros([batch, hidden], dtype);
            using var dhPrevAlias = Tensor.Zeros([batch, hidden], dtype);
            using var dx = Tensor.Zeros([batch, 3 * hidden], dtype);
            using var dhg = Tensor.Zeros([batch, 3 * hidden], dtype);
            using var xgInPlace = xg.Clone();
            using var hgInPlace = hg.Clone();
            b.GruCellBackward(xg, hg, hPrev, dh, dhPrev, dx, dhg);
            b.GruCellBackward(xgInPlace, hgInPlace, hPrev, dh, dhPrevAlias, xgInPlace, hgInPlace);
            Assert.That(Values(xgInPlace), Is.EqualTo(Values(dx)), $"{b.Name} {dtype} GRU dXGates");
            Assert.That(Values(hgInPlace), Is.EqualTo(Values(dhg)), $"{b.Name} {dtype} GRU dHGates");
            Assert.That(Values(dhPrevAlias), Is.EqualTo(Values(dhPrev)), $"{b.Name} {dtype} GRU dhPrev");
        }
    }

    [Test]
    public void NaNPreActivationsGiveNaNStates([ValueSource(typeof(SimdTestUtil), nameof(FloatTypes))] DType dtype)
    {
        const int batch = 2, hidden = 40; // vector body and scalar tail
        foreach (int unit in new[] { 3, 37 })
        {
            using var gates = Random([batch, 4 * hidden], dtype, 1);
            var values = gates.ToArray<double>();
            values[hidden + unit] = double.NaN; // f of batch row 0
            using var host = Tensor.FromArray(values, [batch, 4 * hidden]);
            using var poisoned = dtype == DType.Float32 ? host.To(DType.Float32) : host.Clone();
            using var cPrev = Random([batch, hidden], dtype, 2);
            using var c = Tensor.Zeros([batch, hidden], dtype);
            using var h = Tensor.Zeros([batch, hidden], dtype);
            SimdB.LstmCellForward(poisoned, null, cPrev, c, h);
            var hs = h.ToArray<double>();
            Assert.That(double.IsNaN(hs[unit]), $"{dtype} unit {unit}: h = {hs[unit]}");
            Assert.That(hs.Count(double.IsNaN), Is.EqualTo(1), $"{dtype} unit {unit}: only that state is NaN");
        }
    }

    [Test]
    public void CellsRejectMismatchedOperands()
    {
        using var gates = Tensor.Zeros([2, 12], DType.Float32);
        using var state = Tensor.Zeros([2, 3], DType.Float32);
        using var wrong = Tensor.Zeros([2, 4], DType.Float32);
        using var f64 = Tensor.Zeros([2, 3], DType.Float64);
        using var ints = Tensor.Zeros([2, 3], DType.Int32);
        foreach (Backend b in new Backend[] { Naive, SimdB })
        {
            var e = Assert.Throws<ShapeMismatchException>(() => b.LstmCellForward(gates, null, state, state, wrong))!;
            Assert.That(e.Message, Does.Contain("LstmCellForward").And.Contain("[2, 3]"));
            Assert.Throws<ShapeMismatchException>(() => b.GruCellForward(gates, gates, null, null, state, state), "GRU gates must be [N, 3H]");
            Assert.Throws<DTypeMismatchException>(() => b.LstmCellForward(gates, null, state, f64, state));
            Assert.Throws<DTypeMismatchException>(() => b.LstmCellForward(gates, null, ints, ints, ints));
            using var strided = Tensor.Zeros([3, 2], DType.Float32);
            using var transposed = strided.Transpose(0, 1);
            Assert.Throws<ShapeMismatchException>(() => b.LstmCellForward(gates, null, transposed, state, state), "strided state");
            using var shortBias = Tensor.Zeros([11], DType.Float32);
            Assert.Throws<ShapeMismatchException>(() => b.LstmCellForward(gates, shortBias, state, state, state), "bias [4H]");
            using var gruGates = Tensor.Zeros([2, 9], DType.Float32);
            using var gruBias = Tensor.Zeros([9], DType.Float32);
            Assert.Throws<ArgumentException>(() => b.GruCellForward(gruGates, gruGates, gruBias, null, state, state), "one GRU bias");
        }
    }
}
