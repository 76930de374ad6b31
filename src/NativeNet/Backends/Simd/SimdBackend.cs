using System.Numerics;
using System.Numerics.Tensors;
using NativeNet.Backends.Naive;

namespace NativeNet.Backends.Simd;

/// <summary>
/// The fast CPU backend: SIMD loops (<c>Vector512</c>/<c>Vector256</c>/<c>Vector128</c>, whichever the CPU
/// accelerates, plus <see cref="TensorPrimitives"/> for transcendentals), a packed cache-blocked GEMM, im2col
/// convolution and branch-free pooling, multithreaded above a size threshold. Every primitive is overridden;
/// the Naive base class is only used for rare partially-overlapping in-place calls, which it handles element by element.
/// </summary>
public sealed partial class SimdBackend : NaiveBackend
{
    private static int s_threads = Environment.ProcessorCount;

    private SimdBackend() { }

    /// <summary>The shared instance.</summary>
    public static new SimdBackend Instance { get; } = new();

    /// <inheritdoc/>
    public override string Name => "simd";

    /// <summary>
    /// Threads used for large operations (default <see cref="Environment.ProcessorCount"/>). Results of every primitive
    /// are deterministic for a given thread count; reductions split their work into pieces whose layout does not depend
    /// on it, so their results are identical for every thread count.
    /// </summary>
    public static int Threads
    {
        get => s_threads;
        set => s_threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "SimdBackend.Threads must be at least 1");
    }

    private static void ByFloatType(DType dtype, string op, Action f32, Action f64) => ByFloat(dtype, op, f32, f64);

    /// <summary>
    /// Whether <paramref name="input"/> shares storage with the output: <paramref name="inPlace"/> when it is the very
    /// same view (safe element by element), otherwise the caller must fall back to the sequential reference.
    /// </summary>
    private static bool SharesStorage(Tensor input, Tensor output, out bool inPlace)
    {
        inPlace = false;
        if (!ReferenceEquals(input.Storage, output.Storage)) return false;
        inPlace = input.Offset == output.Offset && input.StridesRef.AsSpan().SequenceEqual(output.StridesRef);
        return true;
    }

    // ---- fill and copy ----

    /// <inheritdoc/>
    public override void Fill(Tensor dst, double value)
    {
        if (dst.Numel == 0) return;
        switch (dst.DType)
        {
            case DType.Float32: FillCore(dst, (float)value); break;
            case DType.Float64: FillCore(dst, value); break;
            case DType.Int32: FillCore(dst, checked((int)value)); break;
        }
    }

    private static unsafe void FillCore<T>(Tensor dst, T value) where T : unmanaged
    {
        var data = dst.HostData<T>();
        // SAFETY: the layout only produces offsets of dst's elements inside its pinned array.
        var layout = new ElementwiseLayout(dst);
        fixed (T* p = data)
            layout.Run(new FillRows<T> { Data = (nint)p, Stride = layout.InnerStride(0), Value = value });
    }

    private unsafe struct FillRows<T> : IRowVisitor where T : unmanaged
    {
        public nint Data;
        public int Stride;
        public T Value;
        // SAFETY: offsets come from the layout of the pinned destination.
        public void Row(Span<nint> offsets, int start, int length)
        {
            T* p = (T*)Data + offsets[0] + (nint)start * Stride;
            if (Stride == 1) new Span<T>(p, length).Fill(Value);
            else for (int i = 0; i < length; i++) p[(nint)i * Stride] = Value;
        }
    }

    /// <inheritdoc/>
    public override void Copy(Tensor src, Tensor dst)
    {
        if (dst.Numel == 0) return;
        if (SharesStorage(src, dst, out bool inPlace))
        {
            if (!inPlace) base.Copy(src, dst);
            return;
        }
        switch (src.DType, dst.DType)
        {
            case (DType.Float32, DType.Float32): CopyCore<float, float>(src, dst); break;
            case (DType.Float32, DType.Float64): CopyCore<float, double>(src, dst); break;
            case (DType.Float32, DType.Int32): CopyCore<float, int>(src, dst); break;
            case (DType.Float64, DType.Float32): CopyCore<double, float>(src, dst); break;
            case (DType.Float64, DType.Float64): CopyCore<double, double>(src, dst); break;
            case (DType.Float64, DType.Int32): CopyCore<double, int>(src, dst); break;
            case (DType.Int32, DType.Float32): CopyCore<int, float>(src, dst); break;
            case (DType.Int32, DType.Float64): CopyCore<int, double>(src, dst); break;
            case (DType.Int32, DType.Int32): CopyCore<int, int>(src, dst); break;
        }
    }

    private static unsafe void CopyCore<TS, TD>(Tensor src, Tensor dst)
        where TS : unmanaged, INumber<TS> where TD : unmanaged, INumber<TD>
    {
        var layout = new ElementwiseLayout(dst, src);
        // SAFETY: both arrays are pinned for the duration of the copy; offsets come from the layout.
        fixed (TS* ps = src.HostData<TS>())
        fixed (TD* pd = dst.HostData<TD>())
            layout.Run(new CopyRows<TS, TD> { Src = (nint)ps, Dst = (nint)pd, SrcStride = layout.InnerStride(1), DstStride = layout.InnerStride(0) });
    }

    private unsafe struct CopyRows<TS, TD> : IRowVisitor where TS : unmanaged, INumber<TS> where TD : unmanaged, INumber<TD>
    {
        public nint Src, Dst;
        public int SrcStride, DstStride;

        // SAFETY: offsets and strides come from the layout of the two pinned views.
        public void Row(Span<nint> offsets, int start, int length)
        {
            TS* s = (TS*)Src + offsets[1] + (nint)start * SrcStride;
            TD* d = (TD*)Dst + offsets[0] + (nint)start * DstStride;
            if (SrcStride == 1 && DstStride == 1)
            {
                if (typeof(TS) == typeof(TD)) new ReadOnlySpan<TD>(s, length).CopyTo(new Span<TD>(d, length));
                else TensorPrimitives.ConvertTruncating(new ReadOnlySpan<TS>(s, length), new Span<TD>(d, length));
                return;
            }
            if (SrcStride == 0 && DstStride == 1)
            {
                new Span<TD>(d, length).Fill(TD.CreateTruncating(*s));
                return;
            }
            for (int i = 0; i < length; i++) d[(nint)i * DstStride] = TD.CreateTruncating(s[(nint)i * SrcStride]);
        }
    }

    // ---- elementwise ----

    /// <inheritdoc/>
    public override void Unary(UnaryOp op, Tensor x, Tensor y, double a, double b) =>
        ByFloatType(x.DType, op.ToString(), () => UnaryCore(op, x, y, (float)a, (float)b), () => UnaryCore(op, x, y, a, b));

    private void UnaryCore<T>(UnaryOp op, Tensor x, Tensor y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Numel == 0) return;
        bool aliased = false;
        if (SharesStorage(x, y, out bool inPlace))
        {
            if (!inPlace) { base.Unary(op, x, y, double.CreateTruncating(a), double.CreateTruncating(b)); return; }
            aliased = true;
        }
        switch (op)
        {
            case UnaryOp.Neg: RunUnary<NegOp<T>, T>(new NegOp<T>(), x, y, aliased); break;
            case UnaryOp.Abs: RunUnary<AbsOp<T>, T>(new AbsOp<T>(), x, y, aliased); break;
            case UnaryOp.Sign: RunUnary<SignOp<T>, T>(new SignOp<T>(), x, y, aliased); break;
            case UnaryOp.Sqrt: RunUnary<SqrtOp<T>, T>(new SqrtOp<T>(), x, y, aliased); break;
            case UnaryOp.Reciprocal: RunUnary<ReciprocalOp<T>, T>(new ReciprocalOp<T>(), x, y, aliased); break;
            case UnaryOp.Relu: RunUnary<ReluOp<T>, T>(new ReluOp<T>(), x, y, aliased); break;
            case UnaryOp.LeakyRelu: RunUnary<LeakyReluOp<T>, T>(new LeakyReluOp<T>(a), x, y, aliased); break;
            case UnaryOp.Elu: RunUnary<EluOp<T>, T>(new EluOp<T>(a), x, y, aliased); break;
            case UnaryOp.Square: RunUnary<SquareOp<T>, T>(new SquareOp<T>(), x, y, aliased); break;
            case UnaryOp.AddScalar: RunUnary<AddScalarOp<T>, T>(new AddScalarOp<T>(a), x, y, aliased); break;
            case UnaryOp.MulScalar: RunUnary<MulScalarOp<T>, T>(new MulScalarOp<T>(a), x, y, aliased); break;
            case UnaryOp.Clip: RunUnary<ClipOp<T>, T>(new ClipOp<T>(a, b), x, y, aliased); break;
            case UnaryOp.Gelu when typeof(T) == typeof(float): RunUnary<GeluFloatOp, float>(new GeluFloatOp(), x, y, aliased); break;
            case UnaryOp.Gelu: RunUnary<ActivationOp<GeluActivation, T>, T>(new(0, 0), x, y, aliased); break;
            case UnaryOp.GeluTanh: RunUnary<ActivationOp<GeluTanhActivation, T>, T>(new(0, 0), x, y, aliased); break;
            case UnaryOp.Silu: RunUnary<ActivationOp<SiluActivation, T>, T>(new(0, 0), x, y, aliased); break;
            case UnaryOp.Softplus:
                RunUnary<ActivationOp<SoftplusActivation, T>, T>(new(double.CreateTruncating(a), double.CreateTruncating(b)), x, y, aliased);
                break;
            // transcendentals: TensorPrimitives (vectorised, within a few ulp of the scalar functions)
            case UnaryOp.Exp: RunSpanUnary<T>(x, y, static (s, d) => TensorPrimitives.Exp(s, d)); break;
            case UnaryOp.Log: RunSpanUnary<T>(x, y, static (s, d) => TensorPrimitives.Log(s, d)); break;
            case UnaryOp.Sigmoid: RunSpanUnary<T>(x, y, static (s, d) => TensorPrimitives.Sigmoid(s, d)); break;
            case UnaryOp.Tanh:
                if (typeof(T) == typeof(float)) RunUnary<TanhFloatOp, float>(new TanhFloatOp(), x, y, aliased); // see TanhFloatOp: TensorPrimitives is inaccurate near 0
                else RunSpanUnary<T>(x, y, static (s, d) => TanhDouble(s, d));
                break;
            case UnaryOp.PowScalar: RunSpanUnary<T>(x, y, (s, d) => TensorPrimitives.Pow(s, a, d)); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    /// <summary>
    /// TensorPrimitives.Tanh for double (within 3e-9 relative of Math.Tanh), except that it flushes |x| &lt; ~1e-16 to
    /// −0: there tanh x = x to double precision, so such inputs are copied through.
    /// </summary>
    private static void TanhDouble<T>(ReadOnlySpan<T> source, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T tiny = T.CreateTruncating(1e-8);
        ReadOnlySpan<T> input = source;
        if (source.Overlaps(destination))
        {
            var copy = ThreadScratch<T>.Get(source.Length);
            source.CopyTo(copy);
            input = copy;
        }
        TensorPrimitives.Tanh(input, destination);
        for (int i = 0; i < input.Length; i++)
            if (T.Abs(input[i]) < tiny) destination[i] = input[i];
    }

    private static unsafe void RunUnary<TOp, T>(TOp op, Tensor x, Tensor y, bool aliased)
        where TOp : struct, IUnaryOperator<T> where T : unmanaged
    {
        var layout = new ElementwiseLayout(y, x);
        // SAFETY: both arrays pinned during the run; the layout only yields offsets of the two views.
        fixed (T* px = x.HostData<T>())
        fixed (T* py = y.HostData<T>())
            layout.Run(new UnaryRows<TOp, T> { Op = op, X = (nint)px, Y = (nint)py, Sx = layout.InnerStride(1), Aliased = aliased });
    }

    private unsafe struct UnaryRows<TOp, T> : IRowVisitor where TOp : struct, IUnaryOperator<T> where T : unmanaged
    {
        public TOp Op;
        public nint X, Y;
        public int Sx;
        public bool Aliased;

        // SAFETY: offsets from the layout of the pinned x and y.
        public void Row(Span<nint> offsets, int start, int length)
        {
            T* y = (T*)Y + offsets[0] + start;
            T* x = (T*)X + offsets[1] + (nint)start * Sx;
            if (Sx == 1) SimdLoops.Unary<TOp, T, Contiguous<T>>(ref Op, x, y, length, Aliased);
            else if (Sx == 0) SimdLoops.Unary<TOp, T, Broadcast<T>>(ref Op, x, y, length, Aliased);
            else SimdLoops.UnaryStrided(ref Op, x, Sx, y, length);
        }
    }

    internal delegate void SpanMap<T>(ReadOnlySpan<T> source, Span<T> destination);

    /// <summary>Applies a span function row by row; strided rows are first gathered into the (contiguous) output row.</summary>
    private static unsafe void RunSpanUnary<T>(Tensor x, Tensor y, SpanMap<T> map) where T : unmanaged
    {
        var layout = new ElementwiseLayout(y, x);
        // SAFETY: both arrays pinned during the run; the layout only yields offsets of the two views.
        fixed (T* px = x.HostData<T>())
        fixed (T* py = y.HostData<T>())
            layout.Run(new SpanUnaryRows<T> { Map = map, X = (nint)px, Y = (nint)py, Sx = layout.InnerStride(1) });
    }

    private unsafe struct SpanUnaryRows<T> : IRowVisitor where T : unmanaged
    {
        public SpanMap<T> Map;
        public nint X, Y;
        public int Sx;

        // SAFETY: offsets from the layout of the pinned x and y.
        public void Row(Span<nint> offsets, int start, int length)
        {
            var y = new Span<T>((T*)Y + offsets[0] + start, length);
            T* x = (T*)X + offsets[1] + (nint)start * Sx;
            if (Sx == 1)
            {
                Map(new ReadOnlySpan<T>(x, length), y);
                return;
            }
            for (int i = 0; i < length; i++) y[i] = x[(nint)i * Sx];
            Map(y, y);
        }
    }

    /// <inheritdoc/>
    public override void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double scalar) =>
        ByFloatType(y.DType, op.ToString(), () => BinaryCore(op, a, b, y, (float)scalar), () => BinaryCore(op, a, b, y, scalar));

    private void BinaryCore<T>(BinaryOp op, Tensor a, Tensor b, Tensor y, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Numel == 0) return;
        bool aliased = false;
        bool aShared = SharesStorage(a, y, out bool aInPlace), bShared = SharesStorage(b, y, out bool bInPlace);
        if ((aShared && !aInPlace) || (bShared && !bInPlace))
        {
            base.Binary(op, a, b, y, double.CreateTruncating(s));
            return;
        }
        aliased = aShared || bShared;
        switch (op)
        {
            case BinaryOp.Add: RunBinary<AddOp<T>, T>(new AddOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Sub: RunBinary<SubOp<T>, T>(new SubOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Mul: RunBinary<MulOp<T>, T>(new MulOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Div: RunBinary<DivOp<T>, T>(new DivOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Pow: RunBinary<PowOp<T>, T>(new PowOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Maximum: RunBinary<MaximumOp<T>, T>(new MaximumOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Minimum: RunBinary<MinimumOp<T>, T>(new MinimumOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Equal: RunBinary<EqualOp<T>, T>(new EqualOp<T>(), a, b, y, aliased); break;
            case BinaryOp.NotEqual: RunBinary<NotEqualOp<T>, T>(new NotEqualOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Less: RunBinary<LessOp<T>, T>(new LessOp<T>(), a, b, y, aliased); break;
            case BinaryOp.LessEqual: RunBinary<LessEqualOp<T>, T>(new LessEqualOp<T>(), a, b, y, aliased); break;
            case BinaryOp.Greater: RunBinary<GreaterOp<T>, T>(new GreaterOp<T>(), a, b, y, aliased); break;
            case BinaryOp.GreaterEqual: RunBinary<GreaterEqualOp<T>, T>(new GreaterEqualOp<T>(), a, b, y, aliased); break;
            case BinaryOp.ReluGrad: RunBinary<ReluGradOp<T>, T>(new ReluGradOp<T>(), a, b, y, aliased); break;
            case BinaryOp.LeakyReluGrad: RunBinary<LeakyReluGradOp<T>, T>(new LeakyReluGradOp<T>(s), a, b, y, aliased); break;
            case BinaryOp.EluGrad: RunBinary<EluGradOp<T>, T>(new EluGradOp<T>(s), a, b, y, aliased); break;
            case BinaryOp.SigmoidGrad: RunBinary<SigmoidGradOp<T>, T>(new SigmoidGradOp<T>(), a, b, y, aliased); break;
            case BinaryOp.TanhGrad: RunBinary<TanhGradOp<T>, T>(new TanhGradOp<T>(), a, b, y, aliased); break;
            case BinaryOp.GeluGrad when typeof(T) == typeof(float): RunBinary<GeluGradFloatOp, float>(new GeluGradFloatOp(), a, b, y, aliased); break;
            case BinaryOp.GeluGrad: RunBinary<ActivationGradOp<GeluActivationGrad, T>, T>(new(), a, b, y, aliased); break;
            case BinaryOp.GeluTanhGrad: RunBinary<ActivationGradOp<GeluTanhActivationGrad, T>, T>(new(), a, b, y, aliased); break;
            case BinaryOp.SiluGrad: RunBinary<ActivationGradOp<SiluActivationGrad, T>, T>(new(), a, b, y, aliased); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    private static unsafe void RunBinary<TOp, T>(TOp op, Tensor a, Tensor b, Tensor y, bool aliased)
        where TOp : struct, IBinaryOperator<T> where T : unmanaged
    {
        var layout = new ElementwiseLayout(y, a, b);
        // SAFETY: all three arrays pinned during the run; the layout only yields offsets of the views.
        fixed (T* pa = a.HostData<T>())
        fixed (T* pb = b.HostData<T>())
        fixed (T* py = y.HostData<T>())
            layout.Run(new BinaryRows<TOp, T>
            {
                Op = op, A = (nint)pa, B = (nint)pb, Y = (nint)py,
                Sa = layout.InnerStride(1), Sb = layout.InnerStride(2), Aliased = aliased,
            });
    }

    private unsafe struct BinaryRows<TOp, T> : IRowVisitor where TOp : struct, IBinaryOperator<T> where T : unmanaged
    {
        public TOp Op;
        public nint A, B, Y;
        public int Sa, Sb;
        public bool Aliased;

        // SAFETY: offsets from the layout of the pinned a, b and y.
        public void Row(Span<nint> offsets, int start, int length)
        {
            T* y = (T*)Y + offsets[0] + start;
            T* a = (T*)A + offsets[1] + (nint)start * Sa;
            T* b = (T*)B + offsets[2] + (nint)start * Sb;
            switch (Sa, Sb)
            {
                case (1, 1): SimdLoops.Binary<TOp, T, Contiguous<T>, Contiguous<T>>(ref Op, a, b, y, length, Aliased); break;
                case (1, 0): SimdLoops.Binary<TOp, T, Contiguous<T>, Broadcast<T>>(ref Op, a, b, y, length, Aliased); break;
                case (0, 1): SimdLoops.Binary<TOp, T, Broadcast<T>, Contiguous<T>>(ref Op, a, b, y, length, Aliased); break;
                case (0, 0): SimdLoops.Binary<TOp, T, Broadcast<T>, Broadcast<T>>(ref Op, a, b, y, length, Aliased); break;
                default: SimdLoops.BinaryStrided(ref Op, a, Sa, b, Sb, y, length); break;
            }
        }
    }

    /// <inheritdoc/>
    public override void Where(Tensor cond, Tensor a, Tensor b, Tensor y) =>
        ByFloatType(y.DType, "Where", () => WhereCore<float>(cond, a, b, y), () => WhereCore<double>(cond, a, b, y));

    private unsafe void WhereCore<T>(Tensor cond, Tensor a, Tensor b, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Numel == 0) return;
        bool cShared = SharesStorage(cond, y, out bool cIn), aShared = SharesStorage(a, y, out bool aIn), bShared = SharesStorage(b, y, out bool bIn);
        if ((cShared && !cIn) || (aShared && !aIn) || (bShared && !bIn))
        {
            base.Where(cond, a, b, y);
            return;
        }
        var layout = new ElementwiseLayout(y, cond, a, b);
        // SAFETY: all four arrays pinned during the run; the layout only yields offsets of the views.
        fixed (T* pc = cond.HostData<T>())
        fixed (T* pa = a.HostData<T>())
        fixed (T* pb = b.HostData<T>())
        fixed (T* py = y.HostData<T>())
            layout.Run(new SelectRows<T>
            {
                C = (nint)pc, A = (nint)pa, B = (nint)pb, Y = (nint)py,
                Sc = layout.InnerStride(1), Sa = layout.InnerStride(2), Sb = layout.InnerStride(3),
                Aliased = cShared || aShared || bShared,
            });
    }

    private unsafe struct SelectRows<T> : IRowVisitor where T : unmanaged, IFloatingPointIeee754<T>
    {
        public nint C, A, B, Y;
        public int Sc, Sa, Sb;
        public bool Aliased;

        // SAFETY: offsets from the layout of the pinned views.
        public void Row(Span<nint> offsets, int start, int length)
        {
            T* y = (T*)Y + offsets[0] + start;
            T* c = (T*)C + offsets[1] + (nint)start * Sc;
            T* a = (T*)A + offsets[2] + (nint)start * Sa;
            T* b = (T*)B + offsets[3] + (nint)start * Sb;
            bool ok = Sc is 0 or 1 && Sa is 0 or 1 && Sb is 0 or 1;
            if (!ok)
            {
                for (int i = 0; i < length; i++) y[i] = c[(nint)i * Sc] != T.Zero ? a[(nint)i * Sa] : b[(nint)i * Sb];
                return;
            }
            if (Sc == 1) SelectA<Contiguous<T>>(c, a, b, y, length);
            else SelectA<Broadcast<T>>(c, a, b, y, length);
        }

        private readonly void SelectA<TC>(T* c, T* a, T* b, T* y, int n) where TC : ILoad<T>
        {
            if (Sa == 1) SelectB<TC, Contiguous<T>>(c, a, b, y, n);
            else SelectB<TC, Broadcast<T>>(c, a, b, y, n);
        }

        private readonly void SelectB<TC, TA>(T* c, T* a, T* b, T* y, int n) where TC : ILoad<T> where TA : ILoad<T>
        {
            if (Sb == 1) SimdLoops.Select<T, TC, TA, Contiguous<T>>(c, a, b, y, n, Aliased);
            else SimdLoops.Select<T, TC, TA, Broadcast<T>>(c, a, b, y, n, Aliased);
        }
    }
}
