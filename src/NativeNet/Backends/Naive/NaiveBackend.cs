using System.Numerics;

namespace NativeNet.Backends.Naive;

/// <summary>
/// The reference backend: plain scalar loops over strided views, Float32 and Float64 through generic math.
/// Obviously correct rather than fast; every other backend is tested against it.
/// </summary>
public partial class NaiveBackend : Backend
{
    /// <summary>The shared instance.</summary>
    public static NaiveBackend Instance { get; } = new();

    /// <summary>For subclasses that accelerate some primitives and inherit the rest.</summary>
    protected NaiveBackend() { }

    /// <inheritdoc/>
    public override string Name => "naive";

    /// <inheritdoc/>
    public override DeviceKind DeviceKind => DeviceKind.Cpu;

    /// <inheritdoc/>
    public override Storage Allocate(DType dtype, int length, bool zeroed) => dtype switch
    {
        DType.Float32 => CpuStorage<float>.Allocate(length, zeroed),
        DType.Float64 => CpuStorage<double>.Allocate(length, zeroed),
        DType.Int32 => CpuStorage<int>.Allocate(length, zeroed),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Calls the Float32 or Float64 instantiation of a generic kernel.</summary>
    protected static void ByFloat(DType dtype, string op, Action f32, Action f64)
    {
        switch (dtype)
        {
            case DType.Float32: f32(); break;
            case DType.Float64: f64(); break;
            default: throw new DTypeMismatchException($"{op}: dtype {dtype} is not supported (Float32 or Float64 expected)");
        }
    }

    /// <inheritdoc/>
    public override void Fill(Tensor dst, double value)
    {
        switch (dst.DType)
        {
            case DType.Float32: Fill(dst, (float)value); break;
            case DType.Float64: Fill(dst, value); break;
            case DType.Int32: Fill(dst, checked((int)value)); break;
        }
    }

    private static void Fill<T>(Tensor dst, T value) where T : unmanaged
    {
        var d = dst.HostData<T>();
        var w = new StridedWalker(dst);
        for (int i = 0; i < dst.Numel; i++, w.Advance()) d[w.Offset] = value;
    }

    /// <inheritdoc/>
    public override void Copy(Tensor src, Tensor dst)
    {
        switch (src.DType, dst.DType)
        {
            case (DType.Float32, DType.Float32): Copy<float, float>(src, dst); break;
            case (DType.Float32, DType.Float64): Copy<float, double>(src, dst); break;
            case (DType.Float32, DType.Int32): Copy<float, int>(src, dst); break;
            case (DType.Float64, DType.Float32): Copy<double, float>(src, dst); break;
            case (DType.Float64, DType.Float64): Copy<double, double>(src, dst); break;
            case (DType.Float64, DType.Int32): Copy<double, int>(src, dst); break;
            case (DType.Int32, DType.Float32): Copy<int, float>(src, dst); break;
            case (DType.Int32, DType.Float64): Copy<int, double>(src, dst); break;
            case (DType.Int32, DType.Int32): Copy<int, int>(src, dst); break;
        }
    }

    private static void Copy<TS, TD>(Tensor src, Tensor dst) where TS : unmanaged, INumber<TS> where TD : unmanaged, INumber<TD>
    {
        var s = src.HostData<TS>();
        var d = dst.HostData<TD>();
        var ws = new StridedWalker(src);
        var wd = new StridedWalker(dst);
        for (int i = 0; i < dst.Numel; i++, ws.Advance(), wd.Advance()) d[wd.Offset] = TD.CreateTruncating(s[ws.Offset]);
    }

    // ---- elementwise ----

    /// <inheritdoc/>
    public override void Unary(UnaryOp op, Tensor x, Tensor y, double a, double b) =>
        ByFloat(x.DType, op.ToString(), () => Unary<float>(op, x, y, (float)a, (float)b), () => Unary<double>(op, x, y, a, b));

    private static void Unary<T>(UnaryOp op, Tensor x, Tensor y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>();
        var ys = y.HostData<T>();
        var wx = new StridedWalker(x);
        var wy = new StridedWalker(y);
        for (int i = 0; i < y.Numel; i++, wx.Advance(), wy.Advance()) ys[wy.Offset] = Scalar.Unary(op, xs[wx.Offset], a, b);
    }

    /// <inheritdoc/>
    public override void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double scalar) =>
        ByFloat(y.DType, op.ToString(), () => Binary<float>(op, a, b, y, (float)scalar), () => Binary<double>(op, a, b, y, scalar));

    private static void Binary<T>(BinaryOp op, Tensor a, Tensor b, Tensor y, T scalar) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ad = a.HostData<T>();
        var bd = b.HostData<T>();
        var yd = y.HostData<T>();
        var wa = new StridedWalker(a);
        var wb = new StridedWalker(b);
        var wy = new StridedWalker(y);
        for (int i = 0; i < y.Numel; i++, wa.Advance(), wb.Advance(), wy.Advance())
            yd[wy.Offset] = Scalar.Binary(op, ad[wa.Offset], bd[wb.Offset], scalar);
    }

    /// <inheritdoc/>
    public override void Where(Tensor cond, Tensor a, Tensor b, Tensor y) =>
        ByFloat(y.DType, "Where", () => Where<float>(cond, a, b, y), () => Where<double>(cond, a, b, y));

    private static void Where<T>(Tensor cond, Tensor a, Tensor b, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cd = cond.HostData<T>();
        var ad = a.HostData<T>();
        var bd = b.HostData<T>();
        var yd = y.HostData<T>();
        var wc = new StridedWalker(cond);
        var wa = new StridedWalker(a);
        var wb = new StridedWalker(b);
        var wy = new StridedWalker(y);
        for (int i = 0; i < y.Numel; i++, wc.Advance(), wa.Advance(), wb.Advance(), wy.Advance())
            yd[wy.Offset] = cd[wc.Offset] != T.Zero ? ad[wa.Offset] : bd[wb.Offset];
    }

    // ---- reductions and softmax ----

    /// <inheritdoc/>
    public override void Reduce(ReduceOp op, Tensor x, Tensor y, int outer, int dim, int inner) =>
        ByFloat(x.DType, op.ToString(), () => Reduce<float>(op, x, y, outer, dim, inner), () => Reduce<double>(op, x, y, outer, dim, inner));

    private static void Reduce<T>(ReduceOp op, Tensor x, Tensor y, int outer, int dim, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>();
        var ys = y.HostData<T>();
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int first = x.Offset + o * dim * inner + i;
            T result;
            if (op == ReduceOp.Sum)
            {
                double acc = 0; // the reference accumulates in double so fast backends are compared against an accurate sum
                for (int d = 0; d < dim; d++) acc += double.CreateTruncating(xs[first + d * inner]);
                result = T.CreateTruncating(acc);
            }
            else
            {
                result = xs[first];
                for (int d = 1; d < dim; d++)
                    result = op == ReduceOp.Max ? T.Max(result, xs[first + d * inner]) : T.Min(result, xs[first + d * inner]);
            }
            ys[y.Offset + o * inner + i] = result;
        }
    }

    /// <inheritdoc/>
    public override void ArgMax(Tensor x, Tensor y, int outer, int dim, int inner) =>
        ByFloat(x.DType, "ArgMax", () => ArgMax<float>(x, y, outer, dim, inner), () => ArgMax<double>(x, y, outer, dim, inner));

    private static void ArgMax<T>(Tensor x, Tensor y, int outer, int dim, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>();
        var ys = y.HostData<int>();
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int first = x.Offset + o * dim * inner + i;
            int best = 0;
            T bestValue = xs[first];
            for (int d = 1; d < dim && !T.IsNaN(bestValue); d++)
            {
                T v = xs[first + d * inner];
                if (v > bestValue || T.IsNaN(v)) { best = d; bestValue = v; }
            }
            ys[y.Offset + o * inner + i] = best;
        }
    }

    /// <inheritdoc/>
    public override void Softmax(Tensor x, Tensor y, int outer, int dim, int inner, bool log) =>
        ByFloat(x.DType, "Softmax", () => Softmax<float>(x, y, outer, dim, inner, log), () => Softmax<double>(x, y, outer, dim, inner, log));

    private static void Softmax<T>(Tensor x, Tensor y, int outer, int dim, int inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.HostData<T>();
        var ys = y.HostData<T>();
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int xf = x.Offset + o * dim * inner + i, yf = y.Offset + o * dim * inner + i;
            T max = T.NegativeInfinity;
            for (int d = 0; d < dim; d++) max = T.Max(max, xs[xf + d * inner]);
            if (T.IsNegativeInfinity(max)) max = T.Zero; // an all −∞ row gives NaN (−∞ − −∞ after the log-sum), as PyTorch; a +∞ max makes the row NaN too
            T sum = T.Zero;
            for (int d = 0; d < dim; d++) sum += T.Exp(xs[xf + d * inner] - max);
            T logSum = T.Log(sum);
            for (int d = 0; d < dim; d++)
            {
                T shifted = xs[xf + d * inner] - max;
                ys[yf + d * inner] = log ? shifted - logSum : T.Exp(shifted) / sum;
            }
        }
    }

    /// <inheritdoc/>
    public override void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int dim, int inner, bool log) =>
        ByFloat(y.DType, "SoftmaxBackward", () => SoftmaxBackward<float>(y, dy, dx, outer, dim, inner, log), () => SoftmaxBackward<double>(y, dy, dx, outer, dim, inner, log));

    private static void SoftmaxBackward<T>(Tensor y, Tensor dy, Tensor dx, int outer, int dim, int inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ys = y.HostData<T>();
        var gs = dy.HostData<T>();
        var xs = dx.HostData<T>();
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int baseIdx = o * dim * inner + i;
            T dot = T.Zero;
            for (int d = 0; d < dim; d++)
            {
                int k = baseIdx + d * inner;
                dot += log ? gs[dy.Offset + k] : gs[dy.Offset + k] * ys[y.Offset + k];
            }
            for (int d = 0; d < dim; d++)
            {
                int k = baseIdx + d * inner;
                T yv = ys[y.Offset + k], g = gs[dy.Offset + k];
                xs[dx.Offset + k] = log ? g - T.Exp(yv) * dot : yv * (g - dot);
            }
        }
    }
}
