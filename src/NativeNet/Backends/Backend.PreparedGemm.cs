namespace NativeNet.Backends;

/// <summary>
/// A right-hand GEMM operand op(B) (k×n) prepared once by <see cref="Backend.PrepareGemmB(DType, int, int, MatrixOperand)"/>
/// for many products with the same B and different left operands, such as a recurrent layer's W_hh at every time step, or
/// made of several stored matrices side by side (op(B) = [B₁ | B₂ | …], each k×nᵢ) so that one product with one packed A
/// serves them all. This base form only remembers the operands (a product is one plain <see cref="Backend.Gemm"/> per
/// block); a backend may pack B into its micro-kernel layout instead. The stored B must not change while the prepared
/// operand is in use.
/// </summary>
public class PreparedGemmB : IDisposable
{
    /// <summary>Remembers op(B) = <paramref name="source"/> read as a k×n matrix of <paramref name="dtype"/>.</summary>
    public PreparedGemmB(DType dtype, int k, int n, MatrixOperand source) : this(dtype, k, [source], [n]) { }

    /// <summary>Remembers op(B) = [<paramref name="blocks"/>[0] | <paramref name="blocks"/>[1] | …], block i read as k×<paramref name="widths"/>[i].</summary>
    public PreparedGemmB(DType dtype, int k, MatrixOperand[] blocks, int[] widths)
    {
        if (blocks.Length == 0 || blocks.Length != widths.Length)
            throw new ArgumentException($"PreparedGemmB: {blocks.Length} blocks with {widths.Length} widths; expected one width per block, at least one block");
        DType = dtype;
        K = k;
        N = widths.Sum();
        Blocks = blocks;
        Widths = widths;
    }

    /// <summary>Element type of B.</summary>
    public DType DType { get; }

    /// <summary>Rows of op(B): the depth of every product.</summary>
    public int K { get; }

    /// <summary>Columns of op(B) and of every product's C.</summary>
    public int N { get; }

    /// <summary>The operand B was prepared from (its first block).</summary>
    public MatrixOperand Source => Blocks[0];

    /// <summary>The stored matrices whose op(B) lie side by side, left to right.</summary>
    public MatrixOperand[] Blocks { get; }

    /// <summary>Columns of each block.</summary>
    public int[] Widths { get; }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Frees what the backend prepared (packed panels); the operand can no longer be used.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the backend's prepared form; called once, from <see cref="Dispose"/>.</summary>
    protected virtual void Release() { }
}

public abstract partial class Backend
{
    /// <summary>
    /// Prepares op(B) (k×n, read from <paramref name="b"/> as in <see cref="Gemm"/>) for many products
    /// <see cref="GemmPrepared"/> with it: the one-block form of <see cref="PrepareGemmB(DType, int, MatrixOperand[], int[])"/>.
    /// </summary>
    public PreparedGemmB PrepareGemmB(DType dtype, int k, int n, MatrixOperand b) => PrepareGemmB(dtype, k, [b], [n]);

    /// <summary>
    /// Prepares op(B) = [op(B₁) | op(B₂) | …] (block i read from <paramref name="blocks"/>[i] as k×<paramref name="widths"/>[i],
    /// as in <see cref="Gemm"/>) for products <see cref="GemmPrepared"/> with it. The base form packs nothing.
    /// </summary>
    public virtual PreparedGemmB PrepareGemmB(DType dtype, int k, MatrixOperand[] blocks, int[] widths)
    {
        CheckPrepared("PrepareGemmB", dtype, k, blocks, widths);
        return new PreparedGemmB(dtype, k, blocks, widths);
    }

    /// <summary>
    /// C = op(A)·op(B) + beta·C for one matrix, op(A) m×k, with op(B) prepared by <see cref="PrepareGemmB(DType, int, MatrixOperand[], int[])"/> on this backend;
    /// the same result as <see cref="Gemm"/> on <see cref="PreparedGemmB.Source"/>. beta = 0 overwrites C even where it holds NaN.
    /// </summary>
    public virtual void GemmPrepared(DType dtype, int m, MatrixOperand a, PreparedGemmB b, Storage c, int cOffset, int ldc, double beta)
    {
        CheckPrepared(dtype, b);
        for (int i = 0, column = 0; i < b.Blocks.Length; column += b.Widths[i], i++)
            Gemm(dtype, 1, m, b.Widths[i], b.K, a, b.Blocks[i], c, cOffset + column, ldc, 0, beta);
    }

    /// <summary>Checks a prepared operand before a product: alive and of the product's dtype.</summary>
    protected static void CheckPrepared(DType dtype, PreparedGemmB b)
    {
        ObjectDisposedException.ThrowIf(b.IsDisposed, b);
        if (b.DType != dtype)
            throw new DTypeMismatchException($"GemmPrepared: B was prepared as {b.DType} [{b.K}, {b.N}], the product is {dtype}");
    }

    /// <summary>Checks the arguments of <see cref="PrepareGemmB(DType, int, MatrixOperand[], int[])"/>.</summary>
    protected static void CheckPrepared(string op, DType dtype, int k, MatrixOperand[] blocks, int[] widths)
    {
        if (!dtype.IsFloat()) throw new DTypeMismatchException($"{op}: dtype {dtype} is not supported (Float32 or Float64 expected)");
        if (blocks.Length == 0 || blocks.Length != widths.Length)
            throw new ArgumentException($"{op}: {blocks.Length} blocks with {widths.Length} widths; expected one width per block, at least one block");
        for (int i = 0; i < blocks.Length; i++)
        {
            if (blocks[i].Storage.DType != dtype) throw new DTypeMismatchException($"{op}: block {i} of B is stored as {blocks[i].Storage.DType}, expected {dtype}");
            if (k < 0 || widths[i] < 0) throw new ArgumentOutOfRangeException(nameof(k), $"{op}: block {i} of op(B) must be k×n with k, n ≥ 0, got {k}×{widths[i]}");
        }
    }
}
