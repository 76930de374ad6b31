namespace NativeNet.Backends;

/// <summary>Elementwise one-input operations. Parameters <c>a</c>/<c>b</c> are used where noted.</summary>
public enum UnaryOp
{
    /// <summary>-x</summary>
    Neg,
    /// <summary>|x|</summary>
    Abs,
    /// <summary>-1, 0 or 1 (0 for ±0; NaN stays NaN)</summary>
    Sign,
    /// <summary>e^x</summary>
    Exp,
    /// <summary>ln x</summary>
    Log,
    /// <summary>√x</summary>
    Sqrt,
    /// <summary>1/x</summary>
    Reciprocal,
    /// <summary>1/(1+e^-x)</summary>
    Sigmoid,
    /// <summary>tanh x</summary>
    Tanh,
    /// <summary>max(0, x)</summary>
    Relu,
    /// <summary>x if x&gt;0 else a·x</summary>
    LeakyRelu,
    /// <summary>x if x&gt;0 else a·(e^x − 1)</summary>
    Elu,
    /// <summary>x²</summary>
    Square,
    /// <summary>x^a</summary>
    PowScalar,
    /// <summary>x + a</summary>
    AddScalar,
    /// <summary>x · a</summary>
    MulScalar,
    /// <summary>min(max(x, a), b)</summary>
    Clip,
    /// <summary>Exact GELU x·Φ(x), Φ the standard normal CDF</summary>
    Gelu,
    /// <summary>GELU's tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³)))</summary>
    GeluTanh,
    /// <summary>SiLU x·σ(x)</summary>
    Silu,
    /// <summary>Softplus with β = a and threshold = b: x if βx &gt; b else log(1 + e^(βx))/β</summary>
    Softplus,
}

/// <summary>Elementwise two-input operations (inputs broadcast to the output's shape). Comparisons give 1 or 0.</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a − b</summary>
    Sub,
    /// <summary>a · b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
    /// <summary>a^b</summary>
    Pow,
    /// <summary>max(a, b) (NaN if either is NaN)</summary>
    Maximum,
    /// <summary>min(a, b) (NaN if either is NaN)</summary>
    Minimum,
    /// <summary>a == b</summary>
    Equal,
    /// <summary>a != b</summary>
    NotEqual,
    /// <summary>a &lt; b</summary>
    Less,
    /// <summary>a &lt;= b</summary>
    LessEqual,
    /// <summary>a &gt; b</summary>
    Greater,
    /// <summary>a &gt;= b</summary>
    GreaterEqual,
    /// <summary>Backward of ReLU: a = upstream gradient, b = input x; a·1[x&gt;0]</summary>
    ReluGrad,
    /// <summary>Backward of leaky ReLU (slope in the scalar parameter): a·(x&gt;0 ? 1 : slope)</summary>
    LeakyReluGrad,
    /// <summary>Backward of ELU (alpha in the scalar parameter): a·(x&gt;0 ? 1 : alpha·e^x)</summary>
    EluGrad,
    /// <summary>Backward of sigmoid from its output y: a·y·(1−y)</summary>
    SigmoidGrad,
    /// <summary>Backward of tanh from its output y: a·(1−y²)</summary>
    TanhGrad,
    /// <summary>Backward of exact GELU, b = input x: a·(Φ(x) + x·φ(x))</summary>
    GeluGrad,
    /// <summary>Backward of GELU's tanh approximation, b = input x</summary>
    GeluTanhGrad,
    /// <summary>Backward of SiLU, b = input x: a·σ(x)·(1 + x·(1 − σ(x)))</summary>
    SiluGrad,
}

/// <summary>Reductions along one axis.</summary>
public enum ReduceOp
{
    /// <summary>Σ</summary>
    Sum,
    /// <summary>max (NaN propagates)</summary>
    Max,
    /// <summary>min (NaN propagates)</summary>
    Min,
}

/// <summary>Pooling mode.</summary>
public enum PoolMode
{
    /// <summary>Maximum over the window; the gradient goes to the first maximum (row-major).</summary>
    Max,
    /// <summary>Mean over the window, padding counted as zeros (count_include_pad).</summary>
    Average,
}

/// <summary>
/// Geometry of a 2-D convolution on NCHW input [N,C,H,W] with filters [K,C,R,S]:
/// output [N,K,OH,OW] with OH = (H + 2·PadH − R)/StrideH + 1.
/// </summary>
public sealed record Conv2dGeometry(int N, int C, int H, int W, int K, int R, int S, int StrideH, int StrideW, int PadH, int PadW)
{
    /// <summary>Output height.</summary>
    public int OH => (H + 2 * PadH - R) / StrideH + 1;
    /// <summary>Output width.</summary>
    public int OW => (W + 2 * PadW - S) / StrideW + 1;

    /// <summary>Floating-point operations of one forward pass (2 per multiply-add).</summary>
    public double ForwardFlops => 2.0 * N * K * OH * OW * C * R * S;

    /// <summary>
    /// Checks the geometry and returns it, or throws an exception that names the op and the numbers.
    /// As in CS231n, a stride that leaves real input rows or columns outside every window is an error;
    /// <paramref name="floor"/> accepts it and drops them, as PyTorch does (e.g. a 1x1 stride-2 projection on an even size).
    /// </summary>
    public static Conv2dGeometry Create(string op, ReadOnlySpan<int> x, ReadOnlySpan<int> w, int strideH, int strideW, int padH, int padW, bool floor = false)
    {
        if (x.Length != 4) throw new ShapeMismatchException($"{op}: input must be NCHW (rank 4), got {ShapeUtil.Format(x)}");
        if (w.Length != 4) throw new ShapeMismatchException($"{op}: filters must be [K, C, R, S] (rank 4), got {ShapeUtil.Format(w)}");
        if (x[1] != w[1]) throw new ShapeMismatchException($"{op}: input {ShapeUtil.Format(x)} has {x[1]} channels but filters {ShapeUtil.Format(w)} expect {w[1]}");
        if (strideH < 1 || strideW < 1) throw new ArgumentException($"{op}: stride must be at least 1, got ({strideH}, {strideW})");
        if (padH < 0 || padW < 0) throw new ArgumentException($"{op}: padding must be non-negative, got ({padH}, {padW})");
        CheckWindow(op, "height", x[2], w[2], strideH, padH, floor);
        CheckWindow(op, "width", x[3], w[3], strideW, padW, floor);
        return new Conv2dGeometry(x[0], x[1], x[2], x[3], w[0], w[2], w[3], strideH, strideW, padH, padW);
    }

    internal static void CheckWindow(string op, string dim, int n, int f, int s, int p, bool floor)
    {
        int span = n + 2 * p - f;
        if (span < 0) throw new ShapeMismatchException($"{op}: window {f} is larger than the padded input {dim} {n}+2*{p}");
        // The last span % s padded positions are skipped; that is harmless only when they are all padding.
        if (!floor && span % s > p)
            throw new ShapeMismatchException($"{op}: invalid stride {s} for input {dim} {n}, window {f}, padding {p}: (n + 2p - f)/s = {span}/{s} leaves input outside every window");
    }
}

/// <summary>Geometry of 2-D pooling on NCHW input: output [N,C,OH,OW].</summary>
public sealed record Pool2dGeometry(int N, int C, int H, int W, int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW)
{
    /// <summary>Output height.</summary>
    public int OH => (H + 2 * PadH - KernelH) / StrideH + 1;
    /// <summary>Output width.</summary>
    public int OW => (W + 2 * PadW - KernelW) / StrideW + 1;

    /// <summary>Checks the geometry (every input element must fall in a window unless <paramref name="floor"/>) or throws naming the op.</summary>
    public static Pool2dGeometry Create(string op, ReadOnlySpan<int> x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, bool floor = false)
    {
        if (x.Length != 4) throw new ShapeMismatchException($"{op}: input must be NCHW (rank 4), got {ShapeUtil.Format(x)}");
        if (kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1) throw new ArgumentException($"{op}: kernel ({kernelH}, {kernelW}) and stride ({strideH}, {strideW}) must be positive");
        if (padH < 0 || padW < 0 || padH * 2 > kernelH || padW * 2 > kernelW) throw new ArgumentException($"{op}: padding ({padH}, {padW}) must be between 0 and half the kernel ({kernelH}, {kernelW})");
        Conv2dGeometry.CheckWindow(op, "height", x[2], kernelH, strideH, padH, floor);
        Conv2dGeometry.CheckWindow(op, "width", x[3], kernelW, strideW, padW, floor);
        return new Pool2dGeometry(x[0], x[1], x[2], x[3], kernelH, kernelW, strideH, strideW, padH, padW);
    }
}

/// <summary>
/// One operand of a (batched) matrix product: matrix b of the batch starts at <c>Offset + b·BatchStride</c>,
/// element (i, j) of the stored matrix at <c>i·Ld + j</c>; <c>Trans</c> says the product uses its transpose.
/// </summary>
public readonly record struct MatrixOperand(Storage Storage, int Offset, int Ld, int BatchStride, bool Trans);
