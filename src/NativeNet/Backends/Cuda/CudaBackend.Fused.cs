namespace NativeNet.Backends.Cuda;

// Fused kernels beyond the Backend primitives, for the optimizers (optim.cu), dropout and random fills
// (dropout.cu), embeddings (embedding.cu) and softmax cross-entropy (softmax.cu). All operands must be
// contiguous tensors on this device with the same float dtype; scalars are converted to that dtype.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    /// <remarks>One kernel of optim.cu per update; every operand must be a contiguous tensor on this device of the parameter's dtype and size.</remarks>
    internal override bool TryFusedUpdate(FusedUpdateRule rule, Tensor p, Tensor g, Tensor? s0, Tensor? s1, ReadOnlySpan<double> scalars)
    {
        var (kernel, slots, scalarCount, order) = rule switch
        {
            // momentum_step/nesterov_step take (lr, mu, dampening, wd); dampening is 0 as in the CPU kernel.
            FusedUpdateRule.Sgd => ("sgd", 0, 2, (int[]?)null),
            FusedUpdateRule.Momentum => ("momentum", 1, 3, [0, 2, -1, 1]),
            FusedUpdateRule.MomentumNesterov => ("nesterov", 1, 3, [0, 2, -1, 1]),
            FusedUpdateRule.NesterovCs231n => ("nesterov_cs231n", 1, 4, null),
            FusedUpdateRule.Adam => ("adam", 2, 9, null),
            // adagrad_step takes (lr, eps, wd).
            FusedUpdateRule.AdaGrad => ("adagrad", 1, 3, [0, 2, 1]),
            FusedUpdateRule.RmsProp => ("rmsprop", 1, 5, null),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "no fused optimiser kernel"),
        };
        string op = $"{rule}Step";
        if (scalars.Length != scalarCount) throw new ArgumentException($"{op}: expected {scalarCount} scalars, got {scalars.Length}");
        Tensor[] operands = slots switch
        {
            0 => [p, g],
            1 => [p, g, s0 ?? throw new ArgumentNullException(nameof(s0), $"{op}: the state slot is missing")],
            _ => [p, g, s0 ?? throw new ArgumentNullException(nameof(s0), $"{op}: the first state slot is missing"),
                  s1 ?? throw new ArgumentNullException(nameof(s1), $"{op}: the second state slot is missing")],
        };
        string sfx = CheckFused(op, operands);
        if (p.Numel == 0) return true;
        var values = new double[order?.Length ?? scalars.Length];
        for (int k = 0; k < values.Length; k++) values[k] = order is null ? scalars[k] : order[k] < 0 ? 0 : scalars[order[k]];
        LaunchFused($"{kernel}_step_{sfx}", p.Numel, operands.Select(Ptr).ToArray(), p.DType, values);
        return true;
    }

    /// <summary>
    /// Inverted dropout: mask = (u &gt; p ? 1/(1−p) : 0) with u uniform from Philox(seed, offset, i); y = x·mask.
    /// The backward pass is dy·mask (Binary Mul). Advance <paramref name="offset"/> between calls so masks differ.
    /// </summary>
    internal void DropoutForward(Tensor x, Tensor y, Tensor mask, double p, ulong seed, ulong offset)
    {
        string sfx = CheckFused("DropoutForward", x, y, mask);
        if (p is < 0 or > 1 || double.IsNaN(p)) throw new ArgumentOutOfRangeException(nameof(p), p, "DropoutForward: p must lie in [0, 1]");
        LaunchRandom($"dropout_fwd_{sfx}", x.Numel, [Ptr(x), Ptr(y), Ptr(mask)], x.DType, [p], seed, offset);
    }

    /// <summary>Fills <paramref name="y"/> with values uniform in (lo, hi] from Philox(seed, offset).</summary>
    internal void RandomUniform(Tensor y, double lo, double hi, ulong seed, ulong offset)
    {
        string sfx = CheckFused("RandomUniform", y);
        LaunchRandom($"rand_uniform_{sfx}", y.Numel, [Ptr(y)], y.DType, [lo, hi], seed, offset);
    }

    /// <summary>Fills <paramref name="y"/> with normal values N(mean, std²) from Philox(seed, offset) (Box–Muller).</summary>
    internal void RandomNormal(Tensor y, double mean, double std, ulong seed, ulong offset)
    {
        string sfx = CheckFused("RandomNormal", y);
        LaunchRandom($"rand_normal_{sfx}", y.Numel, [Ptr(y)], y.DType, [mean, std], seed, offset);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The kernel writes a zero row for an index outside the table and lowers a one-element device flag to the first such
    /// position; the flag is read once after the kernel (4 bytes), and only on failure the offending index (4 more).
    /// </remarks>
    internal override bool TryEmbeddingForward(string op, Tensor weight, Tensor indices, Tensor output)
    {
        var (count, dim, num, sfx) = CheckEmbedding(op, weight, indices, output);
        if (count == 0 || dim == 0) return true;
        if (count > int.MaxValue) throw new ArgumentException($"{op}: {count} indices exceed the kernel's Int32 positions");
        using var firstBad = NewContiguous(DType.Int32, [1]);
        Fill(firstBad, int.MaxValue);
        LaunchEmbedding($"embedding_fwd_{sfx}", Ptr(weight), Ptr(indices), Ptr(output), count, dim, num, Ptr(firstBad));
        int position = firstBad.ToArray<int>()[0];
        if (position != int.MaxValue)
        {
            using var at = indices.View([1], [1], indices.Offset + position);
            int index = at.ToArray<int>()[0];
            throw new ArgumentOutOfRangeException(nameof(indices),
                $"{op}: index {index} at position {position} is outside [0, {num}) for weight {ShapeUtil.Format(weight.Shape)}");
        }
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>Atomic adds: repeated indices make float sums not bit-deterministic.</remarks>
    internal override bool TryEmbeddingBackward(Tensor dy, Tensor indices, Tensor dweight)
    {
        var (count, dim, num, sfx) = CheckEmbedding("EmbeddingBackward", dweight, indices, dy);
        if (count == 0 || dim == 0) return true;
        LaunchEmbedding($"embedding_bwd_{sfx}", Ptr(dy), Ptr(indices), Ptr(dweight), count, dim, num, null);
        return true;
    }

    /// <summary>loss[r] = logsumexp(logits[r]) − logits[r, labels[r]] for logits [rows, classes]; 0 for a label outside [0, classes).</summary>
    internal void SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor loss)
    {
        var (rows, classes, sfx) = CheckXent("SoftmaxCrossEntropyForward", logits, labels);
        CheckFused("SoftmaxCrossEntropyForward", logits);
        if (loss.Numel != rows || !loss.IsContiguous || loss.DType != logits.DType)
            throw new ShapeMismatchException($"SoftmaxCrossEntropyForward: loss {loss.Describe()} must be contiguous {logits.DType} with {rows} elements");
        if (rows == 0 || classes == 0) return;
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(logits));
        args.Add(Ptr(labels));
        args.Add(Ptr(loss));
        args.Add((long)rows);
        args.Add((long)classes);
        Launch($"softmax_xent_fwd_{sfx}", LaunchShape.SliceGrid(rows, Info.MultiprocessorCount), LaunchShape.SliceThreads(classes), ref args);
    }

    /// <summary>
    /// dlogits[r, c] = (softmax(logits[r])[c] − [c = labels[r]])·dloss[r], or ·dloss[0] for every row when
    /// <paramref name="dloss"/> has one element (e.g. 1/rows for a mean).
    /// </summary>
    internal void SoftmaxCrossEntropyBackward(Tensor logits, Tensor labels, Tensor dloss, Tensor dlogits)
    {
        var (rows, classes, sfx) = CheckXent("SoftmaxCrossEntropyBackward", logits, labels);
        CheckFused("SoftmaxCrossEntropyBackward", logits, dlogits);
        if (!dloss.IsContiguous || dloss.DType != logits.DType || (dloss.Numel != rows && dloss.Numel != 1))
            throw new ShapeMismatchException($"SoftmaxCrossEntropyBackward: dloss {dloss.Describe()} must be contiguous {logits.DType} with {rows} elements or one");
        if (rows == 0 || classes == 0) return;
        Span<byte> data = stackalloc byte[96];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(Ptr(logits));
        args.Add(Ptr(labels));
        args.Add(Ptr(dloss));
        args.Add(dloss.Numel == 1 && rows != 1 ? 0L : 1L);
        args.Add(Ptr(dlogits));
        args.Add((long)rows);
        args.Add((long)classes);
        Launch($"softmax_xent_bwd_{sfx}", LaunchShape.SliceGrid(rows, Info.MultiprocessorCount), LaunchShape.SliceThreads(classes), ref args);
    }

    private static (int Rows, int Classes, string Sfx) CheckXent(string op, Tensor logits, Tensor labels)
    {
        if (logits.Rank != 2) throw new ShapeMismatchException($"{op}: logits must be [rows, classes], got {logits.Describe()}");
        if (labels.DType != DType.Int32 || !labels.IsContiguous || labels.Numel != logits.Shape[0])
            throw new ShapeMismatchException($"{op}: labels {labels.Describe()} must be contiguous Int32 with {logits.Shape[0]} elements");
        return (logits.Shape[0], logits.Shape[1], FloatSfx(op, logits.DType));
    }

    private (long Count, long Dim, long Num, string Sfx) CheckEmbedding(string op, Tensor weight, Tensor indices, Tensor rows)
    {
        string sfx = CheckFused(op, weight);
        CheckFused(op, rows);
        if (rows.DType != weight.DType) throw new DTypeMismatchException($"{op}: {rows.Describe()} and table {weight.Describe()} differ in dtype");
        if (weight.Rank != 2) throw new ShapeMismatchException($"{op}: the table must be [num_embeddings, dim], got {weight.Describe()}");
        if (indices.DType != DType.Int32 || !indices.IsContiguous)
            throw new DTypeMismatchException($"{op}: indices {indices.Describe()} must be contiguous Int32");
        long dim = weight.Shape[1];
        if ((long)rows.Numel != indices.Numel * dim)
            throw new ShapeMismatchException($"{op}: rows {rows.Describe()} must hold {indices.Numel}x{dim} elements for indices {indices.Describe()} and table {weight.Describe()}");
        _ = Ptr(indices);
        return (indices.Numel, dim, weight.Shape[0], sfx);
    }

    private void LaunchEmbedding(string entryPoint, ulong a, ulong idx, ulong b, long count, long dim, long num, ulong? firstBad)
    {
        Span<byte> data = stackalloc byte[64];
        Span<int> offsets = stackalloc int[8];
        var args = new KernelArgs(data, offsets);
        args.Add(a);
        args.Add(idx);
        args.Add(b);
        args.Add(count);
        args.Add(dim);
        args.Add(num);
        if (firstBad is { } flag) args.Add(flag);
        LaunchElementwise(entryPoint, count * dim, ref args);
    }

    /// <summary>Checks that every tensor is contiguous, on this device, of one float dtype and the first's element count.</summary>
    private string CheckFused(string op, params Tensor[] tensors)
    {
        var first = tensors[0];
        string sfx = FloatSfx(op, first.DType);
        foreach (var t in tensors)
        {
            if (!t.IsContiguous || t.DType != first.DType || t.Numel != first.Numel)
                throw new ArgumentException($"{op}: every operand must be contiguous {first.DType} with {first.Numel} elements; got {string.Join(", ", tensors.Select(x => x.Describe()))}");
            _ = Ptr(t);
        }
        return sfx;
    }

    /// <summary>(pointers..., n, scalars...) kernels of optim.cu.</summary>
    private void LaunchFused(string entryPoint, long n, ulong[] pointers, DType dtype, double[] scalars)
    {
        Span<byte> data = stackalloc byte[160];
        Span<int> offsets = stackalloc int[16];
        var args = new KernelArgs(data, offsets);
        foreach (ulong p in pointers) args.Add(p);
        args.Add(n);
        foreach (double s in scalars) AddScalar(ref args, dtype, s);
        LaunchElementwise(entryPoint, n, ref args);
    }

    /// <summary>(pointers..., n, scalars..., seed, offset) kernels of dropout.cu; one thread per group of 4 elements.</summary>
    private void LaunchRandom(string entryPoint, long n, ulong[] pointers, DType dtype, double[] scalars, ulong seed, ulong offset)
    {
        Span<byte> data = stackalloc byte[128];
        Span<int> offsets = stackalloc int[16];
        var args = new KernelArgs(data, offsets);
        foreach (ulong p in pointers) args.Add(p);
        args.Add(n);
        foreach (double s in scalars) AddScalar(ref args, dtype, s);
        args.Add(seed);
        args.Add(offset);
        LaunchElementwise(entryPoint, (n + 3) / 4, ref args);
    }
}
