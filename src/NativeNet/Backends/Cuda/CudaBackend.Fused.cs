namespace NativeNet.Backends.Cuda;

// Fused kernels beyond the Backend primitives, for the optimizers (optim.cu), dropout and random fills
// (dropout.cu), embeddings (embedding.cu) and softmax cross-entropy (softmax.cu). All operands must be
// contiguous tensors on this device with the same float dtype; scalars are converted to that dtype.
public sealed partial class CudaBackend
{
    /// <summary>p -= lr·(g + wd·p).</summary>
    internal void SgdStep(Tensor p, Tensor g, double lr, double weightDecay)
    {
        string sfx = CheckFused("SgdStep", p, g);
        LaunchFused($"sgd_step_{sfx}", p.Numel, [Ptr(p), Ptr(g)], p.DType, [lr, weightDecay]);
    }

    /// <summary>
    /// PyTorch's SGD with momentum: g' = g + wd·p; v = mu·v + (1 − dampening)·g'; p -= lr·(nesterov ? g' + mu·v : v).
    /// </summary>
    internal void MomentumStep(Tensor p, Tensor g, Tensor velocity, double lr, double momentum, double dampening, double weightDecay, bool nesterov)
    {
        string sfx = CheckFused(nesterov ? "NesterovStep" : "MomentumStep", p, g, velocity);
        LaunchFused($"{(nesterov ? "nesterov" : "momentum")}_step_{sfx}", p.Numel, [Ptr(p), Ptr(g), Ptr(velocity)], p.DType,
            [lr, momentum, dampening, weightDecay]);
    }

    /// <summary>
    /// Adam (L2 weight decay added to the gradient) or, with <paramref name="decoupled"/>, AdamW (p *= 1 − lr·wd),
    /// at step <paramref name="step"/> (1 for the first), with bias corrections 1 − beta^step.
    /// </summary>
    internal void AdamStep(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps, double weightDecay, int step, bool decoupled)
    {
        string sfx = CheckFused(decoupled ? "AdamWStep" : "AdamStep", p, g, m, v);
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamStep: the step count starts at 1");
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        LaunchFused($"{(decoupled ? "adamw" : "adam")}_step_{sfx}", p.Numel, [Ptr(p), Ptr(g), Ptr(m), Ptr(v)], p.DType,
            [lr, beta1, beta2, eps, weightDecay, bc1, bc2]);
    }

    /// <summary>AdaGrad: g' = g + wd·p; s += g'²; p -= lr·g' / (√s + eps).</summary>
    internal void AdaGradStep(Tensor p, Tensor g, Tensor sumSquares, double lr, double eps, double weightDecay)
    {
        string sfx = CheckFused("AdaGradStep", p, g, sumSquares);
        LaunchFused($"adagrad_step_{sfx}", p.Numel, [Ptr(p), Ptr(g), Ptr(sumSquares)], p.DType, [lr, eps, weightDecay]);
    }

    /// <summary>RMSProp: g' = g + wd·p; s = alpha·s + (1 − alpha)·g'²; p -= lr·g' / (√s + eps).</summary>
    internal void RmsPropStep(Tensor p, Tensor g, Tensor meanSquares, double lr, double alpha, double eps, double weightDecay)
    {
        string sfx = CheckFused("RmsPropStep", p, g, meanSquares);
        LaunchFused($"rmsprop_step_{sfx}", p.Numel, [Ptr(p), Ptr(g), Ptr(meanSquares)], p.DType, [lr, alpha, eps, weightDecay]);
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

    /// <summary>output[r, :] = weight[indices[r], :] (a zero row for an index outside the table).</summary>
    internal void EmbeddingForward(Tensor weight, Tensor indices, Tensor output)
    {
        var (count, dim, num, sfx) = CheckEmbedding("EmbeddingForward", weight, indices, output);
        LaunchEmbedding($"embedding_fwd_{sfx}", Ptr(weight), Ptr(indices), Ptr(output), count, dim, num);
    }

    /// <summary>dweight[indices[r], :] += dy[r, :] (accumulates; zero dweight first for a fresh gradient). Atomic adds: not bit-deterministic.</summary>
    internal void EmbeddingBackward(Tensor dy, Tensor indices, Tensor dweight)
    {
        var (count, dim, num, sfx) = CheckEmbedding("EmbeddingBackward", dweight, indices, dy);
        LaunchEmbedding($"embedding_bwd_{sfx}", Ptr(dy), Ptr(indices), Ptr(dweight), count, dim, num);
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

    private void LaunchEmbedding(string entryPoint, ulong a, ulong idx, ulong b, long count, long dim, long num)
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
