using System.Globalization;
using System.Text;
using NativeNet.Backends;

namespace NativeNet;

public sealed partial class Tensor
{
    // ---- creation ----

    /// <summary>An uninitialised tensor (contents unspecified) on <paramref name="device"/> (default CPU).</summary>
    public static Tensor Empty(int[] shape, DType dtype = DType.Float32, Device? device = null) => Allocate(shape, dtype, device ?? Device.Cpu, zeroed: false);

    /// <summary>A Float32 tensor of zeros on the CPU.</summary>
    public static Tensor Zeros(params int[] shape) => Zeros(shape, DType.Float32);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(int[] shape, DType dtype, Device? device = null) => Allocate(shape, dtype, device ?? Device.Cpu, zeroed: true);

    /// <summary>A Float32 tensor of ones on the CPU.</summary>
    public static Tensor Ones(params int[] shape) => Full(shape, 1.0);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(int[] shape, DType dtype, Device? device = null) => Full(shape, 1.0, dtype, device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var t = Allocate(shape, dtype, device ?? Device.Cpu, zeroed: false);
        t.Backend.Fill(t, value);
        return t;
    }

    /// <summary>A scalar (rank 0) tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) => Full([], value, dtype, device);

    /// <summary>Zeros shaped, typed and placed like <paramref name="t"/>.</summary>
    public static Tensor ZerosLike(Tensor t) => Zeros(t._shape, t.DType, t.Device);

    /// <summary>Ones shaped, typed and placed like <paramref name="t"/>.</summary>
    public static Tensor OnesLike(Tensor t) => Full(t._shape, 1.0, t.DType, t.Device);

    /// <summary>[start, start+step, ...) below <paramref name="stop"/> (rank 1).</summary>
    public static Tensor Arange(double start, double stop, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0 || double.IsNaN(step)) throw new ArgumentException($"Arange: step must be non-zero, got {step}");
        int n = Math.Max(0, (int)Math.Ceiling((stop - start) / step));
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = start + i * step;
        return FromArray(values, [n]).To(dtype);
    }

    /// <summary>[0, 1, ..., n-1] as Float32.</summary>
    public static Tensor Arange(int n) => Arange(0, n);

    /// <summary>Wraps a copy of <paramref name="data"/> with <paramref name="shape"/> (default: rank 1).</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => FromHost((float[])data.Clone(), shape.Length == 0 ? [data.Length] : shape);

    /// <summary>Wraps a copy of <paramref name="data"/> with <paramref name="shape"/> (default: rank 1).</summary>
    public static Tensor FromArray(double[] data, params int[] shape) => FromHost((double[])data.Clone(), shape.Length == 0 ? [data.Length] : shape);

    /// <summary>Wraps a copy of <paramref name="data"/> (e.g. class labels) with <paramref name="shape"/> (default: rank 1).</summary>
    public static Tensor FromArray(int[] data, params int[] shape) => FromHost((int[])data.Clone(), shape.Length == 0 ? [data.Length] : shape);

    /// <summary>A 2-D Float32 tensor from a rectangular array.</summary>
    public static Tensor FromArray(float[,] data)
    {
        var flat = new float[data.Length];
        int cols = data.GetLength(1), k = 0;
        for (int i = 0; i < data.GetLength(0); i++) for (int j = 0; j < cols; j++) flat[k++] = data[i, j];
        return FromHost(flat, [data.GetLength(0), cols]);
    }

    /// <summary>A 2-D Float64 tensor from a rectangular array.</summary>
    public static Tensor FromArray(double[,] data)
    {
        var flat = new double[data.Length];
        int cols = data.GetLength(1), k = 0;
        for (int i = 0; i < data.GetLength(0); i++) for (int j = 0; j < cols; j++) flat[k++] = data[i, j];
        return FromHost(flat, [data.GetLength(0), cols]);
    }

    /// <summary>Takes ownership of <paramref name="data"/> without copying (the caller must not keep writing to it).</summary>
    internal static Tensor FromHost<T>(T[] data, int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        int numel = ShapeUtil.Numel(shape, "FromArray");
        if (numel != data.Length)
            throw new ShapeMismatchException($"FromArray: {data.Length} values do not fill shape {ShapeUtil.Format(shape)} ({numel} elements)");
        return new Tensor(new CpuStorage<T>(data), (int[])shape.Clone());
    }

    /// <summary>Uniform samples in [low, high).</summary>
    public static Tensor Uniform(int[] shape, double low = 0, double high = 1, Generator? generator = null, DType dtype = DType.Float32, Device? device = null)
    {
        var g = generator ?? Generator.Default;
        return Sampled(shape, () => low + (high - low) * g.NextDouble(), dtype, device);
    }

    /// <summary>Normal samples with the given mean and standard deviation.</summary>
    public static Tensor Normal(int[] shape, double mean = 0, double std = 1, Generator? generator = null, DType dtype = DType.Float32, Device? device = null)
    {
        var g = generator ?? Generator.Default;
        return Sampled(shape, () => mean + std * g.NextNormal(), dtype, device);
    }

    private static Tensor Sampled(int[] shape, Func<double> sample, DType dtype, Device? device)
    {
        var values = new double[ShapeUtil.Numel(shape, "random")];
        for (int i = 0; i < values.Length; i++) values[i] = sample();
        using var host = FromHost(values, shape);
        return host.To(dtype).To(device ?? Device.Cpu);
    }

    private static Tensor Allocate(int[] shape, DType dtype, Device device, bool zeroed)
    {
        ArgumentNullException.ThrowIfNull(shape);
        string op = zeroed ? "Zeros" : "Empty";
        int numel = ShapeUtil.Numel(shape, op);
        if (device.Kind == DeviceKind.Cpu && numel > Array.MaxLength)
            throw new ArgumentException($"{op}: shape {ShapeUtil.Format(shape)} has {numel} elements; a CPU tensor holds at most {Array.MaxLength} (the largest .NET array)");
        var storage = Backend.For(device).Allocate(dtype, numel, zeroed);
        return new Tensor(storage, (int[])shape.Clone());
    }

    internal static Tensor EmptyLike(Tensor t) => Allocate(t._shape, t.DType, t.Device, zeroed: false);

    // ---- conversion and access ----

    /// <summary>A contiguous tensor with the same values: this tensor's data if already contiguous (a new view), else a copy. Differentiable.</summary>
    public Tensor Contiguous() => Ops.Contiguous(this);

    /// <summary>A copy in new storage. Differentiable.</summary>
    public Tensor Clone() => Ops.Clone(this);

    /// <summary>This tensor converted to <paramref name="dtype"/> (a new view when already of that type). Differentiable between float types.</summary>
    public Tensor To(DType dtype) => Ops.Cast(this, dtype);

    /// <summary>This tensor on <paramref name="device"/> (a new view when already there). Not recorded on the tape.</summary>
    public Tensor To(Device device)
    {
        ThrowIfDisposed();
        if (device == Device) return Detach().RequireGradLike(this);
        if (Device.Kind == DeviceKind.Cpu)
        {
            using var dense = Raw.Contiguous(this);
            return new Tensor(Backend.For(device).Upload(dense), ShapeArray).RequireGradLike(this);
        }
        using var onDevice = Raw.Contiguous(this);
        var host = new Tensor(Backend.Download(onDevice), ShapeArray);
        return device.Kind == DeviceKind.Cpu ? host.RequireGradLike(this) : host.To(device);
    }

    private Tensor RequireGradLike(Tensor other)
    {
        RequiresGrad = other.RequiresGrad && other.IsLeaf;
        return this;
    }

    /// <summary>This tensor on the CPU.</summary>
    public Tensor ToCpu() => To(Device.Cpu);

    /// <summary>The elements in row-major order, copied to a new host array of <typeparamref name="T"/> (converting dtype when needed).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        var wanted = DTypeExtensions.Of<T>();
        using var host = Device.Kind == DeviceKind.Cpu ? Detach() : ToCpu();
        using var converted = Raw.CastTo(host, wanted, forceCopy: true, Backends.Naive.NaiveBackend.Instance);
        return converted.TakeHostData<T>();
    }

    /// <summary>
    /// The elements of a Float32 tensor as float (row-major copy). Refuses other dtypes rather than narrowing them
    /// silently: call <see cref="ToArray{T}"/> with the element type wanted (<c>ToArray&lt;double&gt;()</c>, <c>ToArray&lt;int&gt;()</c>).
    /// </summary>
    public float[] ToArray()
    {
        ThrowIfDisposed("ToArray");
        if (DType != DType.Float32)
            throw new DTypeMismatchException($"ToArray: tensor {Describe()} is {DType}, not Float32; call ToArray<{(DType == DType.Float64 ? "double" : DType == DType.Int32 ? "int" : "T")}>() to read it (ToArray() does not narrow values)");
        return ToArray<float>();
    }

    /// <summary>
    /// Copies <paramref name="source"/> into this tensor in place (broadcast to this shape; same dtype; any device and
    /// strides). Not recorded on the tape. Refuses a destination whose elements overlap (an expanded view) and a
    /// tensor produced by a recorded op, whose history the write would invalidate.
    /// </summary>
    public void CopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ThrowIfDisposed("CopyFrom");
        source.ThrowIfDisposed("CopyFrom (source)");
        CheckWritable("CopyFrom");
        if (source.DType != DType)
            throw new DTypeMismatchException($"CopyFrom: source {source.Describe()} has dtype {source.DType} but the destination {Describe()} has {DType}; convert it with To({DType})");
        ShapeUtil.Broadcast("CopyFrom", source.Shape, _shape);
        if (source.Device == Device) { Raw.CopyInto(source, this); return; }
        using var moved = source.To(Device);
        Raw.CopyInto(moved, this);
    }

    /// <summary>Copies <paramref name="values"/> (row-major, exactly <see cref="Numel"/> of them) into this Float32 or Float64 tensor in place.</summary>
    public void CopyFrom(float[] values) => CopyFromHost(values);

    /// <summary>Copies <paramref name="values"/> (row-major, exactly <see cref="Numel"/> of them) into this Float32 or Float64 tensor in place.</summary>
    public void CopyFrom(double[] values) => CopyFromHost(values);

    private void CopyFromHost<T>(T[] values) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(values);
        ThrowIfDisposed("CopyFrom");
        if (values.Length != Numel)
            throw new ShapeMismatchException($"CopyFrom: {values.Length} values for tensor {Describe()} of {Numel} elements");
        using var host = FromHost((T[])values.Clone(), ShapeArray);
        using var typed = Raw.CastTo(host, DType);
        CopyFrom(typed);
    }

    private void CheckWritable(string op)
    {
        if (Node is not null)
            throw new InvalidOperationException($"{op}: tensor {Describe()} was produced by a recorded op; writing into it would corrupt its gradient (Detach() it or write under GradMode.Disable())");
        for (int d = 0; d < Rank; d++)
            if (_strides[d] == 0 && _shape[d] > 1)
                throw new InvalidOperationException($"{op}: tensor {Describe()} is an expanded view (stride 0 in dimension {d}); its elements overlap and cannot be written one by one");
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double Item()
    {
        ThrowIfDisposed("Item");
        if (Numel != 1) throw new InvalidOperationException($"Item: tensor {Describe()} has {Numel} elements, not 1");
        return ToArray<double>()[0];
    }

    /// <summary>Element at <paramref name="index"/> (one index per dimension, negative counts from the end).</summary>
    [System.Runtime.CompilerServices.IndexerName("Element")]
    public double this[params int[] index]
    {
        get
        {
            using var one = ElementView(index);
            return one.Item();
        }
        set
        {
            using var one = ElementView(index);
            one.Backend.Fill(one, value);
        }
    }

    private Tensor ElementView(int[] index)
    {
        ThrowIfDisposed();
        if (index.Length != Rank) throw new ArgumentException($"indexer: {index.Length} indices for a tensor of rank {Rank} {ShapeUtil.Format(_shape)}");
        long offset = Offset;
        for (int d = 0; d < Rank; d++)
        {
            long i = index[d] < 0 ? (long)index[d] + _shape[d] : index[d];
            if (i < 0 || i >= _shape[d]) throw new IndexOutOfRangeException($"indexer: index {index[d]} is out of range for dimension {d} of size {_shape[d]} in {Describe()}");
            offset += i * _strides[d];
        }
        return new Tensor(Storage, [], [], offset, "indexer");
    }

    // ---- text ----

    /// <summary>NumPy-like text of the values (summarised with "..." beyond 1000 elements).</summary>
    public override string ToString()
    {
        if (_disposed) return $"tensor(disposed, {DType}{ShapeUtil.Format(_shape)})";
        var values = ToArray<double>();
        bool summarize = Numel > 1000;
        var sb = new StringBuilder("tensor(");
        bool integral = DType == DType.Int32 || values.All(v => double.IsFinite(v) && v == Math.Floor(v) && Math.Abs(v) < 1e15);
        string Fmt(double v) => DType == DType.Int32 ? ((long)v).ToString(CultureInfo.InvariantCulture)
            : double.IsNaN(v) ? "nan" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf"
            : integral ? v.ToString("0", CultureInfo.InvariantCulture) + "."
            : v.ToString(Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-4 && v != 0) ? "0.####e+00" : "0.####", CultureInfo.InvariantCulture);
        int indent = "tensor(".Length;
        void Write(int dim, int offset)
        {
            if (Rank == 0) { sb.Append(Fmt(values[0])); return; }
            sb.Append('[');
            int stride = 1;
            for (int d = dim + 1; d < Rank; d++) stride *= _shape[d];
            int n = _shape[dim];
            for (int i = 0; i < n; i++)
            {
                if (summarize && n > 6 && i == 3) { sb.Append(dim == Rank - 1 ? "..., " : "...,\n" + new string(' ', indent + dim + 1)); i = n - 4; continue; }
                if (dim == Rank - 1) sb.Append(Fmt(values[offset + i]));
                else Write(dim + 1, offset + i * stride);
                if (i < n - 1) sb.Append(dim == Rank - 1 ? ", " : "," + new string('\n', Rank - dim - 1) + new string(' ', indent + dim + 1));
            }
            sb.Append(']');
        }
        Write(0, 0);
        if (DType != DType.Float32) sb.Append(", dtype=").Append(DType);
        if (Device.Kind != DeviceKind.Cpu) sb.Append(", device=").Append(Device);
        return sb.Append(')').ToString();
    }
}
