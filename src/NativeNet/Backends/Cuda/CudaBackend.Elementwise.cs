namespace NativeNet.Backends.Cuda;

public sealed partial class CudaBackend
{
    /// <summary>The elementwise.cu name of a unary op and how many scalar parameters its kernel takes.</summary>
    internal static (string Name, int Scalars) UnaryKernel(UnaryOp op) => op switch
    {
        UnaryOp.Neg => ("neg", 0),
        UnaryOp.Abs => ("abs", 0),
        UnaryOp.Sign => ("sign", 0),
        UnaryOp.Exp => ("exp", 0),
        UnaryOp.Log => ("log", 0),
        UnaryOp.Sqrt => ("sqrt", 0),
        UnaryOp.Reciprocal => ("reciprocal", 0),
        UnaryOp.Sigmoid => ("sigmoid", 0),
        UnaryOp.Tanh => ("tanh", 0),
        UnaryOp.Relu => ("relu", 0),
        UnaryOp.Square => ("square", 0),
        UnaryOp.LeakyRelu => ("leaky_relu", 1),
        UnaryOp.Elu => ("elu", 1),
        UnaryOp.PowScalar => ("pow_scalar", 1),
        UnaryOp.AddScalar => ("add_scalar", 1),
        UnaryOp.MulScalar => ("mul_scalar", 1),
        UnaryOp.Clip => ("clip", 2),
        UnaryOp.Gelu => ("gelu", 0),
        UnaryOp.GeluTanh => ("gelu_tanh", 0),
        UnaryOp.Silu => ("silu", 0),
        UnaryOp.Softplus => ("softplus", 2),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "no Cuda kernel for this unary op"),
    };

    /// <summary>
    /// The elementwise.cu kernel of a binary op: a broadcasting op (<c>add</c> … <c>ge</c>), or a fused
    /// backward (<c>relu_grad</c> …, contiguous only) with whether it takes the scalar parameter.
    /// </summary>
    internal static (string Name, bool IsGrad, bool TakesScalar) BinaryKernel(BinaryOp op) => op switch
    {
        BinaryOp.Add => ("add", false, false),
        BinaryOp.Sub => ("sub", false, false),
        BinaryOp.Mul => ("mul", false, false),
        BinaryOp.Div => ("div", false, false),
        BinaryOp.Pow => ("pow", false, false),
        BinaryOp.Maximum => ("maximum", false, false),
        BinaryOp.Minimum => ("minimum", false, false),
        BinaryOp.Equal => ("eq", false, false),
        BinaryOp.NotEqual => ("ne", false, false),
        BinaryOp.Less => ("lt", false, false),
        BinaryOp.LessEqual => ("le", false, false),
        BinaryOp.Greater => ("gt", false, false),
        BinaryOp.GreaterEqual => ("ge", false, false),
        BinaryOp.ReluGrad => ("relu_grad", true, false),
        BinaryOp.LeakyReluGrad => ("leaky_relu_grad", true, true),
        BinaryOp.EluGrad => ("elu_grad", true, true),
        BinaryOp.SigmoidGrad => ("sigmoid_grad", true, false),
        BinaryOp.TanhGrad => ("tanh_grad", true, false),
        BinaryOp.GeluGrad => ("gelu_grad", true, false),
        BinaryOp.GeluTanhGrad => ("gelu_tanh_grad", true, false),
        BinaryOp.SiluGrad => ("silu_grad", true, false),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "no Cuda kernel for this binary op"),
    };

    /// <inheritdoc/>
    public override void Unary(UnaryOp op, Tensor x, Tensor y, double a, double b)
    {
        string sfx = FloatSfx(op.ToString(), x.DType);
        CheckOutput(op.ToString(), x, y);
        if (y.Numel == 0) return;
        var (name, scalars) = UnaryKernel(op);
        var (dense, owned) = Dense(x);
        using (owned)
        {
            Span<byte> data = stackalloc byte[64];
            Span<int> offsets = stackalloc int[8];
            var args = new KernelArgs(data, offsets);
            args.Add(Ptr(dense));
            args.Add(Ptr(y));
            args.Add((long)y.Numel);
            if (scalars >= 1) AddScalar(ref args, x.DType, a);
            if (scalars >= 2) AddScalar(ref args, x.DType, b);
            LaunchElementwise($"{name}_fwd_{sfx}", y.Numel, ref args);
        }
    }

    /// <inheritdoc/>
    public override void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double scalar)
    {
        string sfx = FloatSfx(op.ToString(), y.DType);
        CheckOutput(op.ToString(), a, y);
        CheckOutput(op.ToString(), b, y);
        if (y.Numel == 0) return;
        var (name, isGrad, takesScalar) = BinaryKernel(op);
        Span<byte> data = stackalloc byte[512];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        if (isGrad || (a.IsContiguous && b.IsContiguous))
        {
            var (da, ownedA) = Dense(a);
            var (db, ownedB) = Dense(b);
            using (ownedA)
            using (ownedB)
            {
                args.Add(Ptr(da));
                args.Add(Ptr(db));
                args.Add(Ptr(y));
                args.Add((long)y.Numel);
                if (takesScalar) AddScalar(ref args, y.DType, scalar);
                LaunchElementwise(isGrad ? $"{name}_{sfx}" : $"{name}_contig_{sfx}", y.Numel, ref args);
            }
            return;
        }
        Strided3 s = LaunchShape.ToStrided3(op.ToString(), LaunchShape.Coalesce(y.Shape, a.StridesRef, b.StridesRef, y.StridesRef));
        args.Add(Ptr(a));
        args.Add(Ptr(b));
        args.Add(Ptr(y));
        args.Add(s);
        args.Add((long)y.Numel);
        LaunchElementwise($"{name}_{sfx}", y.Numel, ref args);
    }

    /// <inheritdoc/>
    public override void Where(Tensor cond, Tensor a, Tensor b, Tensor y)
    {
        string sfx = FloatSfx("Where", y.DType);
        if (cond.DType != y.DType || a.DType != y.DType || b.DType != y.DType)
            throw new DTypeMismatchException($"Where: condition {cond.Describe()}, {a.Describe()} and {b.Describe()} must all have the output's dtype {y.DType} on cuda");
        CheckOutput("Where", cond, y);
        CheckOutput("Where", a, y);
        CheckOutput("Where", b, y);
        if (y.Numel == 0) return;
        Strided4 s = LaunchShape.ToStrided4("Where", LaunchShape.Coalesce(y.Shape, cond.StridesRef, a.StridesRef, b.StridesRef, y.StridesRef));
        Span<byte> data = stackalloc byte[512];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(cond));
        args.Add(Ptr(a));
        args.Add(Ptr(b));
        args.Add(Ptr(y));
        args.Add(s);
        args.Add((long)y.Numel);
        LaunchElementwise("where_" + sfx, y.Numel, ref args);
    }

    private static void CheckOutput(string op, Tensor input, Tensor y)
    {
        if (!input.Shape.SequenceEqual(y.Shape))
            throw new ShapeMismatchException($"{op}: input {input.Describe()} is not broadcast to the output {y.Describe()}");
        if (!y.IsContiguous)
            throw new ArgumentException($"{op}: the output {y.Describe()} must be contiguous");
        if (input.DType != y.DType)
            throw new DTypeMismatchException($"{op}: input {input.Describe()} and output {y.Describe()} differ in dtype");
    }
}
