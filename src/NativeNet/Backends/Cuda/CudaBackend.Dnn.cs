using NativeNet.Interop;

namespace NativeNet.Backends.Cuda;

public sealed partial class CudaBackend
{
    private readonly Dictionary<(Conv2dGeometry, DType, bool), ConvPlan> _convPlans = [];
    private readonly Dictionary<(PoolMode, Pool2dGeometry, DType), PoolPlan> _poolPlans = [];
    private DeviceBlock _workspace;

    /// <summary>cuDNN descriptors of one convolution geometry and the algorithms chosen for it (each picked on first use).</summary>
    private sealed class ConvPlan
    {
        public nint X, W, Y, Conv;
        public int? Forward, BackwardData, BackwardFilter;
    }

    /// <summary>cuDNN descriptors of one pooling geometry.</summary>
    private sealed class PoolPlan
    {
        public nint X, Y, Pool;
    }

    private static CudnnDataType DnnType(string op, DType dtype) => dtype switch
    {
        DType.Float32 => CudnnDataType.Float,
        DType.Float64 => CudnnDataType.Double,
        _ => throw new DTypeMismatchException($"{op}: dtype {dtype} is not supported on cuda (Float32 or Float64 expected)"),
    };

    private static nint TensorDesc(CudnnDataType type, int n, int c, int h, int w)
    {
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out nint d));
        Cudnn.Check(Cudnn.cudnnSetTensor4dDescriptor(d, CudnnTensorFormat.Nchw, type, n, c, h, w));
        return d;
    }

    private ConvPlan PlanFor(Conv2dGeometry g, DType dtype)
    {
        bool tf32 = AllowTf32 && dtype == DType.Float32;
        if (_convPlans.TryGetValue((g, dtype, tf32), out var plan)) return plan;
        var type = DnnType("Conv2d", dtype);
        plan = new ConvPlan
        {
            X = TensorDesc(type, g.N, g.C, g.H, g.W),
            Y = TensorDesc(type, g.N, g.K, g.OH, g.OW),
        };
        Cudnn.Check(Cudnn.cudnnCreateFilterDescriptor(out plan.W));
        Cudnn.Check(Cudnn.cudnnSetFilter4dDescriptor(plan.W, type, CudnnTensorFormat.Nchw, g.K, g.GroupChannels, g.R, g.S));
        Cudnn.Check(Cudnn.cudnnCreateConvolutionDescriptor(out plan.Conv));
        Cudnn.Check(Cudnn.cudnnSetConvolution2dDescriptor(plan.Conv, g.PadH, g.PadW, g.StrideH, g.StrideW, g.DilationH, g.DilationW, CudnnConvolutionMode.CrossCorrelation, type));
        if (g.Groups != 1) Cudnn.Check(Cudnn.cudnnSetConvolutionGroupCount(plan.Conv, g.Groups));
        // FMA math keeps Float32 convolutions off TF32 tensor cores unless AllowTf32 says otherwise;
        // Float64 has no reduced-precision path, so it keeps the default.
        var math = dtype != DType.Float32 ? CudnnMathType.Default : tf32 ? CudnnMathType.TensorOp : CudnnMathType.Fma;
        Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Conv, math));
        _convPlans[(g, dtype, tf32)] = plan;
        return plan;
    }

    /// <summary>
    /// The first algorithm of cuDNN's heuristic ranking that is supported (status success) and, unless
    /// TF32 is allowed, does not use tensor-core math; algorithm 0 (always supported for NCHW) otherwise.
    /// </summary>
    private static unsafe int PickAlgorithm(CudnnConvolutionAlgoPerf* perf, int count, bool tf32)
    {
        for (int i = 0; i < count; i++)
        {
            if (perf[i].Status != CudnnStatus.Success) continue;
            if (!tf32 && perf[i].MathType is CudnnMathType.TensorOp or CudnnMathType.TensorOpAllowConversion) continue;
            return perf[i].Algo;
        }
        return 0;
    }

    /// <summary>The device's cuDNN workspace, grown (never shrunk) to at least <paramref name="bytes"/>.</summary>
    private nint Workspace(nuint bytes)
    {
        if ((long)bytes > _workspace.Size)
        {
            _allocator.Free(_workspace);
            _workspace = default;
            _workspace = _allocator.Allocate((long)bytes);
        }
        return (nint)_workspace.Pointer;
    }

    private static bool HasZero(params int[] dims) => dims.Any(d => d == 0);

    /// <inheritdoc/>
    public override void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dGeometry g)
    {
        CheckDense("Conv2dForward", x, w, y);
        if (y.Numel == 0) return;
        if (bias is null) Fill(y, 0);
        else
        {
            // y starts as the bias broadcast over [N, K, OH, OW]; the convolution then adds with beta = 1.
            using var expanded = bias.View([g.N, g.K, g.OH, g.OW], [0, bias.StridesRef[0], 0, 0], bias.Offset);
            Copy(expanded, y);
        }
        if (HasZero(g.C, g.R, g.S)) return;
        lock (_sync)
        {
            MakeCurrent();
            var plan = PlanFor(g, x.DType);
            bool tf32 = AllowTf32 && x.DType == DType.Float32;
            // SAFETY: perf is a stack array of the requested length; alpha/beta are live locals of the type cuDNN
            // expects for the data type; data pointers are device addresses checked to live on this device.
            unsafe
            {
                if (plan.Forward is null)
                {
                    var perf = stackalloc CudnnConvolutionAlgoPerf[8];
                    Cudnn.Check(Cudnn.cudnnGetConvolutionForwardAlgorithm_v7(_cudnn, plan.X, plan.W, plan.Conv, plan.Y, 8, out int count, perf));
                    plan.Forward = PickAlgorithm(perf, count, tf32);
                }
                int algo = plan.Forward.Value;
                Cudnn.Check(Cudnn.cudnnGetConvolutionForwardWorkspaceSize(_cudnn, plan.X, plan.W, plan.Conv, plan.Y, algo, out nuint bytes));
                nint ws = Workspace(bytes);
                float af = 1, bf = 1;
                double ad = 1, bd = 1;
                bool f32 = x.DType == DType.Float32;
                Cudnn.Check(Cudnn.cudnnConvolutionForward(_cudnn, f32 ? &af : &ad, plan.X, (nint)Ptr(x), plan.W, (nint)Ptr(w), plan.Conv, algo,
                    ws, bytes, f32 ? &bf : &bd, plan.Y, (nint)Ptr(y)));
            }
        }
    }

    /// <inheritdoc/>
    public override void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dGeometry g)
    {
        CheckDense("Conv2dBackwardData", dy, w, dx);
        if (dx.Numel == 0) return;
        if (HasZero(g.K, g.OH, g.OW))
        {
            Fill(dx, 0);
            return;
        }
        lock (_sync)
        {
            MakeCurrent();
            var plan = PlanFor(g, dy.DType);
            bool tf32 = AllowTf32 && dy.DType == DType.Float32;
            // SAFETY: as in Conv2dForward.
            unsafe
            {
                if (plan.BackwardData is null)
                {
                    var perf = stackalloc CudnnConvolutionAlgoPerf[8];
                    Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(_cudnn, plan.W, plan.Y, plan.Conv, plan.X, 8, out int count, perf));
                    plan.BackwardData = PickAlgorithm(perf, count, tf32);
                }
                int algo = plan.BackwardData.Value;
                Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(_cudnn, plan.W, plan.Y, plan.Conv, plan.X, algo, out nuint bytes));
                nint ws = Workspace(bytes);
                float af = 1, bf = 0;
                double ad = 1, bd = 0;
                bool f32 = dy.DType == DType.Float32;
                Cudnn.Check(Cudnn.cudnnConvolutionBackwardData(_cudnn, f32 ? &af : &ad, plan.W, (nint)Ptr(w), plan.Y, (nint)Ptr(dy), plan.Conv, algo,
                    ws, bytes, f32 ? &bf : &bd, plan.X, (nint)Ptr(dx)));
            }
        }
    }

    /// <inheritdoc/>
    public override void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? db, Conv2dGeometry g)
    {
        CheckDense("Conv2dBackwardFilter", x, dy, dw);
        if (db is not null) BiasGradient(dy, db, g);
        if (dw.Numel == 0) return;
        if (HasZero(g.N, g.OH, g.OW))
        {
            Fill(dw, 0);
            return;
        }
        lock (_sync)
        {
            MakeCurrent();
            var plan = PlanFor(g, x.DType);
            bool tf32 = AllowTf32 && x.DType == DType.Float32;
            // SAFETY: as in Conv2dForward.
            unsafe
            {
                if (plan.BackwardFilter is null)
                {
                    var perf = stackalloc CudnnConvolutionAlgoPerf[8];
                    Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(_cudnn, plan.X, plan.Y, plan.Conv, plan.W, 8, out int count, perf));
                    plan.BackwardFilter = PickAlgorithm(perf, count, tf32);
                }
                int algo = plan.BackwardFilter.Value;
                Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(_cudnn, plan.X, plan.Y, plan.Conv, plan.W, algo, out nuint bytes));
                nint ws = Workspace(bytes);
                float af = 1, bf = 0;
                double ad = 1, bd = 0;
                bool f32 = x.DType == DType.Float32;
                Cudnn.Check(Cudnn.cudnnConvolutionBackwardFilter(_cudnn, f32 ? &af : &ad, plan.X, (nint)Ptr(x), plan.Y, (nint)Ptr(dy), plan.Conv, algo,
                    ws, bytes, f32 ? &bf : &bd, plan.W, (nint)Ptr(dw)));
            }
        }
    }

    /// <summary>db[k] = Σ over n, oh, ow of dy[n, k, oh, ow], as two axis sums (over OH·OW, then over N).</summary>
    private void BiasGradient(Tensor dy, Tensor db, Conv2dGeometry g)
    {
        if (!db.IsContiguous || db.Numel != g.K)
            throw new ShapeMismatchException($"Conv2dBackwardFilter: bias gradient {db.Describe()} must be contiguous with {g.K} elements");
        using var perPlane = NewContiguous(dy.DType, [g.N, g.K]);
        Reduce(ReduceOp.Sum, dy, perPlane, g.N * g.K, g.OH * g.OW, 1);
        Reduce(ReduceOp.Sum, perPlane, db, 1, g.N, g.K);
    }

    private PoolPlan PoolPlanFor(PoolMode mode, Pool2dGeometry g, DType dtype)
    {
        if (_poolPlans.TryGetValue((mode, g, dtype), out var plan)) return plan;
        var type = DnnType("Pool2d", dtype);
        plan = new PoolPlan
        {
            X = TensorDesc(type, g.N, g.C, g.H, g.W),
            Y = TensorDesc(type, g.N, g.C, g.OH, g.OW),
        };
        Cudnn.Check(Cudnn.cudnnCreatePoolingDescriptor(out plan.Pool));
        var cudnnMode = mode == PoolMode.Max ? CudnnPoolingMode.Max : CudnnPoolingMode.AverageCountIncludePadding;
        Cudnn.Check(Cudnn.cudnnSetPooling2dDescriptor(plan.Pool, cudnnMode, CudnnNanPropagation.Propagate,
            g.KernelH, g.KernelW, g.PadH, g.PadW, g.StrideH, g.StrideW));
        _poolPlans[(mode, g, dtype)] = plan;
        return plan;
    }

    /// <inheritdoc/>
    /// <remarks>Max pooling through cuDNN: where a window holds the maximum more than once, the element cuDNN
    /// picks (and so where the backward pass sends the gradient) may differ from the Naive backend's first maximum.</remarks>
    public override void Pool2dForward(PoolMode mode, Tensor x, Tensor y, Pool2dGeometry g)
    {
        CheckDense("Pool2dForward", x, x, y);
        if (y.Numel == 0) return;
        lock (_sync)
        {
            MakeCurrent();
            var plan = PoolPlanFor(mode, g, x.DType);
            // SAFETY: alpha/beta are live locals of the type cuDNN expects; data are device addresses on this device.
            unsafe
            {
                float af = 1, bf = 0;
                double ad = 1, bd = 0;
                bool f32 = x.DType == DType.Float32;
                Cudnn.Check(Cudnn.cudnnPoolingForward(_cudnn, plan.Pool, f32 ? &af : &ad, plan.X, (nint)Ptr(x), f32 ? &bf : &bd, plan.Y, (nint)Ptr(y)));
            }
        }
    }

    /// <inheritdoc/>
    public override void Pool2dBackward(PoolMode mode, Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dGeometry g)
    {
        CheckDense("Pool2dBackward", x, y, dx);
        CheckDense("Pool2dBackward", dy, dy, dx);
        if (dx.Numel == 0) return;
        if (y.Numel == 0)
        {
            Fill(dx, 0);
            return;
        }
        lock (_sync)
        {
            MakeCurrent();
            var plan = PoolPlanFor(mode, g, x.DType);
            // SAFETY: as in Pool2dForward.
            unsafe
            {
                float af = 1, bf = 0;
                double ad = 1, bd = 0;
                bool f32 = x.DType == DType.Float32;
                Cudnn.Check(Cudnn.cudnnPoolingBackward(_cudnn, plan.Pool, f32 ? &af : &ad, plan.Y, (nint)Ptr(y), plan.Y, (nint)Ptr(dy),
                    plan.X, (nint)Ptr(x), f32 ? &bf : &bd, plan.X, (nint)Ptr(dx)));
            }
        }
    }

    /// <summary>cuDNN descriptors of one batch-norm geometry: x (and y) as [N, C, spatial, 1], the derived [1, C, 1, 1] parameter descriptor.</summary>
    private sealed class BatchNormPlan
    {
        public nint X, Params;
    }

    private readonly Dictionary<(int N, int C, int Spatial, DType DType), BatchNormPlan> _batchNormPlans = [];

    private BatchNormPlan BatchNormPlanFor(int n, int c, int spatial, DType dtype)
    {
        if (_batchNormPlans.TryGetValue((n, c, spatial, dtype), out var plan)) return plan;
        plan = new BatchNormPlan { X = TensorDesc(DnnType("BatchNorm", dtype), n, c, spatial, 1) };
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out plan.Params));
        Cudnn.Check(Cudnn.cudnnDeriveBNTensorDescriptor(plan.Params, plan.X, CudnnBatchNormMode.Spatial));
        _batchNormPlans[(n, c, spatial, dtype)] = plan;
        return plan;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// cuDNN's spatial batch norm on x viewed as [N, C, spatial, 1] (every axis after the channel axis is one spatial axis
    /// for a per-channel norm): training through cudnnBatchNormalizationForwardTraining (running statistics updated in
    /// place with factor = momentum, the variance unbiased, as PyTorch), evaluation through ...ForwardInference. Missing
    /// gamma/beta are ones/zeros; a missing running statistic next to a given one is a scratch buffer.
    /// </remarks>
    internal override bool TryBatchNormForward(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum, double eps, Tensor y, Tensor mean, Tensor invStd)
    {
        const string op = "BatchNormForward";
        CheckDense(op, x, x, y);
        if (x.Rank < 2 || !ShapeUtil.SameShape(x.Shape, y.Shape))
            throw new ShapeMismatchException($"{op}: x {x.Describe()} must be [N, C, ...] and y {y.Describe()} the same shape");
        int n = x.Shape[0], c = x.Shape[1];
        if (x.Numel == 0) return false;
        int spatial = x.Numel / (n * c);
        foreach (var t in new[] { gamma, beta, runningMean, runningVar, mean, invStd })
            if (t is not null && (!t.IsContiguous || t.DType != x.DType || t.Numel != c))
                throw new ShapeMismatchException($"{op}: per-channel operand {t.Describe()} must be contiguous {x.DType} with {c} elements for x {x.Describe()}");
        if ((gamma is null) != (beta is null)) throw new ArgumentException($"{op}: gamma and beta must be both given or both null");
        if (!training && (runningMean is null || runningVar is null))
            throw new InvalidOperationException($"{op}: evaluation mode needs the running mean and variance");
        var temporaries = new List<Tensor>();
        Tensor PerChannel(double value)
        {
            var t = NewContiguous(x.DType, [c]);
            temporaries.Add(t);
            Fill(t, value);
            return t;
        }
        try
        {
            var scale = gamma ?? PerChannel(1);
            var shift = beta ?? PerChannel(0);
            Tensor? rm = runningMean, rv = runningVar;
            if (training && (rm is null) != (rv is null))
            {
                rm ??= PerChannel(0);
                rv ??= PerChannel(1);
            }
            lock (_sync)
            {
                MakeCurrent();
                var plan = BatchNormPlanFor(n, c, spatial, x.DType);
                // SAFETY: alpha/beta are live locals of the type cuDNN expects for the data type; every data pointer is a
                // device address on this device checked by Ptr, of the extent the descriptors say (checked above).
                unsafe
                {
                    float af = 1, bf = 0;
                    double ad = 1, bd = 0;
                    bool f32 = x.DType == DType.Float32;
                    if (training)
                    {
                        Cudnn.Check(Cudnn.cudnnBatchNormalizationForwardTraining(_cudnn, CudnnBatchNormMode.Spatial, f32 ? &af : &ad, f32 ? &bf : &bd,
                            plan.X, (nint)Ptr(x), plan.X, (nint)Ptr(y), plan.Params, (nint)Ptr(scale), (nint)Ptr(shift), momentum,
                            rm is null ? 0 : (nint)Ptr(rm), rv is null ? 0 : (nint)Ptr(rv), eps, (nint)Ptr(mean), (nint)Ptr(invStd)));
                    }
                    else
                    {
                        Cudnn.Check(Cudnn.cudnnBatchNormalizationForwardInference(_cudnn, CudnnBatchNormMode.Spatial, f32 ? &af : &ad, f32 ? &bf : &bd,
                            plan.X, (nint)Ptr(x), plan.X, (nint)Ptr(y), plan.Params, (nint)Ptr(scale), (nint)Ptr(shift),
                            (nint)Ptr(rm!), (nint)Ptr(rv!), eps));
                    }
                }
            }
        }
        finally
        {
            foreach (var t in temporaries) t.Dispose();
        }
        return true;
    }

    private static void CheckDense(string op, Tensor a, Tensor b, Tensor c)
    {
        // an operand without elements has no layout to honour (its strides may look non-contiguous)
        static bool Dense(Tensor t) => t.Numel == 0 || t.IsContiguous;
        if (!Dense(a) || !Dense(b) || !Dense(c))
            throw new ArgumentException($"{op}: cuda expects contiguous NCHW operands, got {a.Describe()}, {b.Describe()}, {c.Describe()}");
        if (a.DType != c.DType || b.DType != c.DType)
            throw new DTypeMismatchException($"{op}: operands {a.Describe()}, {b.Describe()}, {c.Describe()} differ in dtype");
    }
}
