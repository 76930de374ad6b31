namespace NativeNet.Backends;

/// <summary>
/// Visits the elements of a strided view in row-major order, keeping the storage offset up to date
/// incrementally (no division per element).
/// </summary>
internal struct StridedWalker
{
    private readonly int[] _shape;
    private readonly int[] _strides;
    private readonly int[] _index;

    /// <summary>Storage offset of the current element.</summary>
    public int Offset;

    public StridedWalker(Tensor t) : this(t.ShapeRef, t.StridesRef, t.Offset) { }

    public StridedWalker(int[] shape, int[] strides, int offset)
    {
        _shape = shape;
        _strides = strides;
        _index = new int[shape.Length];
        Offset = offset;
    }

    /// <summary>Moves to the next element in row-major order.</summary>
    public void Advance()
    {
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            Offset += _strides[d];
            if (++_index[d] < _shape[d]) return;
            Offset -= _strides[d] * _shape[d];
            _index[d] = 0;
        }
    }
}
