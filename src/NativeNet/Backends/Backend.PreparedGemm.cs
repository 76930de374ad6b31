namespace NativeNet.Backends;

/// <summary>
/// A right-hand GEMM operand op(B) (k×n) prepared once by <see cref="Backend.PrepareGemmB"/> for many products with the
/// same B and different left operands, such as a recurrent layer's W_hh at every time step. This base form only remembers
/// the operand (products go through the plain <see cref="Backend.Gemm"/>); a backend may pack B into its micro-kernel
/// layout instead. The stored B must not change while the prepared operand is in use.
/// </summary>
public class PreparedGemmB : IDisposable
{
    /// <summary>Remembers op(B) = <paramref name="source"/> read as a k×n matrix of <paramref name="dtype"/>.</summary>
    public PreparedGemmB(DType dtype, int k, int n, MatrixOperand source)
    {
        DType = dtype;
        K = k;
        N = n;
        Source = source;
    }

    /// <summary>Element type of B.</summary>
    public DType DType { get; }

    /// <summary>Rows of op(B): the depth of every product.</summary>
    public int K { get; }

    /// <summary>Columns of op(B) and of every product's C.</summary>
    public int N { get; }

    /// <summary>The operand B was prepared from.</summary>
    public MatrixOperand Source { get; }

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
    /// <see cref="GemmPrepared"/> with it. The base form packs nothing.
    /// </summary>
    public virtual PreparedGemmB PrepareGemmB(DType dtype, int k, int n, MatrixOperand b)
    {
        CheckPrepared("PrepareGemmB", dtype, k, n, b.Storage.DType);
        return new PreparedGemmB(dtype, k, n, b);
    }

    /// <summary>
    /// C = op(A)·op(B) + beta·C for one matrix, op(A) m×k, with op(B) prepared by <see cref="PrepareGemmB"/> on this backend;
    /// the same result as <see cref="Gemm"/> on <see cref="PreparedGemmB.Source"/>. beta = 0 overwrites C even where it holds NaN.
    /// </summary>
    public virtual void GemmPrepared(DType dtype, int m, MatrixOperand a, PreparedGemmB b, Storage c, int cOffset, int ldc, double beta)
    {
        CheckPrepared(dtype, b);
        Gemm(dtype, 1, m, b.N, b.K, a, b.Source, c, cOffset, ldc, 0, beta);
    }

    /// <summary>Checks a prepared operand before a product: alive and of the product's dtype.</summary>
    protected static void CheckPrepared(DType dtype, PreparedGemmB b)
    {
        ObjectDisposedException.ThrowIf(b.IsDisposed, b);
        if (b.DType != dtype)
            throw new DTypeMismatchException($"GemmPrepared: B was prepared as {b.DType} [{b.K}, {b.N}], the product is {dtype}");
    }

    /// <summary>Checks the arguments of <see cref="PrepareGemmB"/>.</summary>
    protected static void CheckPrepared(string op, DType dtype, int k, int n, DType stored)
    {
        if (!dtype.IsFloat()) throw new DTypeMismatchException($"{op}: dtype {dtype} is not supported (Float32 or Float64 expected)");
        if (stored != dtype) throw new DTypeMismatchException($"{op}: B is stored as {stored}, expected {dtype}");
        if (k < 0 || n < 0) throw new ArgumentOutOfRangeException(nameof(k), $"{op}: op(B) must be k×n with k, n ≥ 0, got {k}×{n}");
    }
}
