namespace NativeNet.Backends.Cuda;

/// <summary>Element types that kernel entry points are specialised for; the suffix of the entry name.</summary>
public enum KernelElementType
{
    /// <summary>32-bit float, suffix <c>_f32</c>.</summary>
    Float32,

    /// <summary>64-bit float, suffix <c>_f64</c>.</summary>
    Float64,

    /// <summary>32-bit signed integer, suffix <c>_i32</c>.</summary>
    Int32,
}

/// <summary>One <c>extern "C"</c> kernel entry point in an embedded kernels/*.cu file.</summary>
/// <param name="File">The source file, e.g. <c>elementwise.cu</c>.</param>
/// <param name="Op">The op without its element-type suffix, e.g. <c>relu_fwd</c> (a cast such as <c>cast_f32_f64</c> has none).</param>
/// <param name="ElementType">The element type, or null for entry points named without a suffix.</param>
public sealed record KernelEntry(string File, string Op, KernelElementType? ElementType)
{
    /// <summary>The entry-point name passed to cuModuleGetFunction, e.g. <c>relu_fwd_f32</c>.</summary>
    public string Name => ElementType is { } t ? $"{Op}_{KernelCatalog.Suffix(t)}" : Op;
}

/// <summary>
/// Every kernel entry point the Cuda backend uses, with the file that defines it. Entry points
/// follow the convention <c>&lt;op&gt;_&lt;variant&gt;_&lt;f32|f64&gt;</c>; their argument lists are
/// documented in the kernel sources. The kernel-compile tests check this list against the PTX
/// both ways, so a kernel renamed or added without updating it fails CI.
/// </summary>
public static class KernelCatalog
{
    /// <summary>Unary forward ops in elementwise.cu: <c>&lt;op&gt;_fwd_&lt;t&gt;(x, y, n[, a[, b]])</c>.</summary>
    public static readonly IReadOnlyList<string> UnaryOps =
    [
        "neg", "abs", "sign", "exp", "log", "sqrt", "reciprocal", "sigmoid", "tanh", "relu", "square",
        "leaky_relu", "elu", "pow_scalar", "add_scalar", "mul_scalar", "clip", "gelu", "gelu_tanh", "silu", "softplus",
    ];

    /// <summary>Fused backward ops in elementwise.cu: <c>&lt;op&gt;_grad_&lt;t&gt;(dy, v, dx, n[, a])</c>, v = x for relu/leaky_relu/elu/gelu/gelu_tanh/silu, y for sigmoid/tanh.</summary>
    public static readonly IReadOnlyList<string> GradOps = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"];

    /// <summary>Binary ops in elementwise.cu: <c>&lt;op&gt;_&lt;t&gt;(a, b, out, Strided3, n)</c> and <c>&lt;op&gt;_contig_&lt;t&gt;(a, b, out, n)</c>.</summary>
    public static readonly IReadOnlyList<string> BinaryOps =
        ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"];

    /// <summary>Axis reductions in reduce.cu: <c>&lt;op&gt;_axis_&lt;t&gt;</c> and <c>&lt;op&gt;_axis_small_&lt;t&gt;</c>.</summary>
    public static readonly IReadOnlyList<string> ReduceOps = ["sum", "mean", "max", "min", "argmax"];

    /// <summary>Optimizer updates in optim.cu: <c>&lt;name&gt;_step_&lt;t&gt;</c>.</summary>
    public static readonly IReadOnlyList<string> OptimizerOps = ["sgd", "momentum", "nesterov", "nesterov_cs231n", "adam", "adagrad", "rmsprop"];

    /// <summary>Fused recurrent cells in recurrent.cu: <c>&lt;cell&gt;_cell_&lt;fwd|bwd&gt;_&lt;t&gt;</c>.</summary>
    public static readonly IReadOnlyList<string> RecurrentOps = ["lstm_cell_fwd", "lstm_cell_bwd", "gru_cell_fwd", "gru_cell_bwd"];

    private static readonly KernelElementType[] Floats = [KernelElementType.Float32, KernelElementType.Float64];

    /// <summary>All entry points, grouped by file.</summary>
    public static IReadOnlyList<KernelEntry> All { get; } = Build();

    private static readonly Dictionary<string, KernelEntry> ByName = All.ToDictionary(e => e.Name, StringComparer.Ordinal);

    /// <summary>The kernel source files that define entry points.</summary>
    public static IReadOnlyList<string> Files { get; } = All.Select(e => e.File).Distinct().ToArray();

    /// <summary>The entry-name suffix of an element type (<c>f32</c>, <c>f64</c>, <c>i32</c>).</summary>
    /// <param name="type">The element type.</param>
    /// <returns>The suffix without the underscore.</returns>
    public static string Suffix(KernelElementType type) => type switch
    {
        KernelElementType.Float32 => "f32",
        KernelElementType.Float64 => "f64",
        KernelElementType.Int32 => "i32",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Finds the entry point for an op and element type, e.g. (<c>relu_fwd</c>, Float32) → <c>relu_fwd_f32</c> in elementwise.cu.</summary>
    /// <param name="op">The op without suffix.</param>
    /// <param name="type">The element type.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="KeyNotFoundException">No such kernel.</exception>
    public static KernelEntry Get(string op, KernelElementType type) => Get($"{op}_{Suffix(type)}");

    /// <summary>Finds an entry point by its full name, e.g. <c>cast_f32_f64</c>.</summary>
    /// <param name="name">The entry-point name.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="KeyNotFoundException">No such kernel.</exception>
    public static KernelEntry Get(string name) =>
        ByName.TryGetValue(name, out KernelEntry? e) ? e : throw new KeyNotFoundException($"no kernel entry point named '{name}'");

    /// <summary>The entry points defined in one file.</summary>
    /// <param name="file">A kernel file name, e.g. <c>softmax.cu</c>.</param>
    /// <returns>Its entries (empty for an unknown file).</returns>
    public static IReadOnlyList<KernelEntry> InFile(string file) => All.Where(e => e.File == file).ToArray();

    private static List<KernelEntry> Build()
    {
        var list = new List<KernelEntry>();
        void Add(string file, string op, params KernelElementType[] types)
        {
            foreach (KernelElementType t in types)
                list.Add(new KernelEntry(file, op, t));
        }

        const string elementwise = "elementwise.cu";
        foreach (string op in UnaryOps)
            Add(elementwise, op + "_fwd", Floats);
        foreach (string op in GradOps)
            Add(elementwise, op + "_grad", Floats);
        foreach (string op in BinaryOps)
        {
            Add(elementwise, op, Floats);
            Add(elementwise, op + "_contig", Floats);
        }
        Add(elementwise, "where", Floats);

        foreach (string op in ReduceOps)
        {
            Add("reduce.cu", op + "_axis", Floats);
            Add("reduce.cu", op + "_axis_small", Floats);
        }

        foreach (string op in new[] { "softmax_fwd", "log_softmax_fwd", "softmax_bwd", "log_softmax_bwd", "softmax_xent_fwd", "softmax_xent_bwd" })
            Add("softmax.cu", op, Floats);

        foreach (string op in new[] { "dropout_fwd", "rand_uniform", "rand_normal" })
            Add("dropout.cu", op, Floats);

        foreach (string op in OptimizerOps)
            Add("optim.cu", op + "_step", Floats);

        Add("copy.cu", "fill", KernelElementType.Float32, KernelElementType.Float64, KernelElementType.Int32);
        foreach (string cast in new[] { "cast_f32_f64", "cast_f64_f32", "cast_i32_f32", "cast_i32_f64" })
            list.Add(new KernelEntry("copy.cu", cast, null));
        Add("copy.cu", "strided_copy", KernelElementType.Float32, KernelElementType.Float64, KernelElementType.Int32);

        Add("embedding.cu", "embedding_fwd", Floats);
        Add("embedding.cu", "embedding_bwd", Floats);

        Add("resample.cu", "plane_gather", Floats);
        Add("resample.cu", "plane_scatter", Floats);
        Add("resample.cu", "maxpool_indices", Floats);

        foreach (string op in RecurrentOps)
            Add("recurrent.cu", op, Floats);

        foreach (string op in new[] { "gather_axis", "scatter_add_axis", "scatter_write", "index_select_axis", "index_add_axis", "cumsum_axis", "topk_axis" })
            Add("indexing.cu", op, Floats);
        list.Add(new KernelEntry("indexing.cu", "scatter_claim", null));
        Add("norm.cu", "normalize_rows_fwd", Floats);
        Add("norm.cu", "normalize_rows_bwd", Floats);

        foreach (string op in new[] { "attention_fwd", "attention_bwd_dq", "attention_bwd_dkdv" })
            Add("attention.cu", op, Floats);
        return list;
    }
}
