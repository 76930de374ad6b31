namespace NativeNet.Nn;

/// <summary>
/// 2-D convolution over NCHW input, as PyTorch's <c>nn.Conv2d</c>: weight [out, in/groups, kh, kw], bias [out],
/// both initialised U(±1/√(in/groups·kh·kw)) (PyTorch's default). The output size is ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1: like PyTorch,
/// the layer drops rows a stride leaves over (the functional <see cref="Ops.Conv2d(Tensor, Tensor, Tensor?, int, int, bool, int, int)"/>
/// rejects them unless asked, as CS231n does). groups = in = out is a depthwise convolution.
/// </summary>
public sealed class Conv2d : Module
{
    /// <summary>Square kernel, stride, padding and dilation, with PyTorch's default initialisation drawn from <paramref name="generator"/>.</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true,
        DType dtype = DType.Float32, Generator? generator = null, int dilation = 1, int groups = 1)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (dilation, dilation), groups, bias, dtype, generator) { }

    /// <summary>Kernel, stride, padding and dilation per axis (height, width).</summary>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation,
        int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Math.Min(kernelSize.H, kernelSize.W), 1, nameof(kernelSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(Math.Min(stride.H, stride.W), 1, nameof(stride));
        ArgumentOutOfRangeException.ThrowIfNegative(Math.Min(padding.H, padding.W), nameof(padding));
        ArgumentOutOfRangeException.ThrowIfLessThan(Math.Min(dilation.H, dilation.W), 1, nameof(dilation));
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: groups {groups} must divide both the input channels {inChannels} and the output channels {outChannels}");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        int fanIn = inChannels / groups * kernelSize.H * kernelSize.W;
        RegisterParameter("weight", Init.KaimingUniform(Tensor.Empty([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], dtype), generator, a: Math.Sqrt(5)));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(fanIn);
            RegisterParameter("bias", Init.Uniform(Tensor.Empty([outChannels], dtype), -bound, bound, generator));
        }
    }

    /// <summary>PyTorch's string padding: "same" (stride 1, output as large as the input; needs dilation·(k − 1) even) or "valid".</summary>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, string padding, (int H, int W)? dilation = null,
        int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, kernelSize, (1, 1), Ops.SamePadding("Conv2d", padding, kernelSize, dilation ?? (1, 1)), dilation ?? (1, 1), groups, bias, dtype, generator) { }

    /// <summary>Square kernel with PyTorch's string padding ("same" or "valid").</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, string padding, int dilation = 1, int groups = 1, bool bias = true,
        DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), padding, (dilation, dilation), groups, bias, dtype, generator) { }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel height and width.</summary>
    public (int H, int W) KernelSize { get; }
    /// <summary>Stride per axis.</summary>
    public (int H, int W) Stride { get; }
    /// <summary>Zero padding on each side, per axis.</summary>
    public (int H, int W) Padding { get; }
    /// <summary>Spacing between kernel taps, per axis.</summary>
    public (int H, int W) Dilation { get; }
    /// <summary>Independent channel groups (in = out = groups: depthwise).</summary>
    public int Groups { get; }

    /// <summary>Filters [out, in/groups, kh, kw].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>Bias [out], or null when created without one.</summary>
    public Tensor? Bias => FindParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups, floor: true); // PyTorch's layer semantics

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{InChannels}, {OutChannels}, kernel_size=({KernelSize.H}, {KernelSize.W}), stride=({Stride.H}, {Stride.W})"
        + (Padding != (0, 0) ? $", padding=({Padding.H}, {Padding.W})" : "") + (Dilation != (1, 1) ? $", dilation=({Dilation.H}, {Dilation.W})" : "")
        + (Groups != 1 ? $", groups={Groups}" : "") + (Bias is null ? ", bias=False" : "");
}

/// <summary>
/// 1-D convolution over [N, C, L] input, as PyTorch's <c>nn.Conv1d</c>: weight [out, in/groups, k], bias [out], PyTorch's
/// initialisation; leftover positions of a stride are dropped as in PyTorch.
/// </summary>
public sealed class Conv1d : Module
{
    /// <summary>Creates the layer with PyTorch's default initialisation drawn from <paramref name="generator"/>.</summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv1d: groups {groups} must divide both the input channels {inChannels} and the output channels {outChannels}");
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = (inChannels, outChannels, kernelSize, stride, padding, dilation, groups);
        RegisterParameter("weight", Init.KaimingUniform(Tensor.Empty([outChannels, inChannels / groups, kernelSize], dtype), generator, a: Math.Sqrt(5)));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(inChannels / groups * kernelSize);
            RegisterParameter("bias", Init.Uniform(Tensor.Empty([outChannels], dtype), -bound, bound, generator));
        }
    }

    /// <summary>PyTorch's string padding: "same" (stride 1, output as long as the input; needs dilation·(k − 1) even) or "valid".</summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, string padding, int dilation = 1, int groups = 1, bool bias = true,
        DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, kernelSize, 1, Ops.SamePadding("Conv1d", padding, (1, kernelSize), (1, dilation)).W, dilation, groups, bias, dtype, generator) { }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel length.</summary>
    public int KernelSize { get; }
    /// <summary>Stride.</summary>
    public int Stride { get; }
    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; }
    /// <summary>Spacing between kernel taps.</summary>
    public int Dilation { get; }
    /// <summary>Independent channel groups.</summary>
    public int Groups { get; }

    /// <summary>Filters [out, in/groups, k].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>Bias [out], or null when created without one.</summary>
    public Tensor? Bias => FindParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups, floor: true);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{InChannels}, {OutChannels}, kernel_size=({KernelSize},), stride=({Stride},)" + (Padding != 0 ? $", padding=({Padding},)" : "")
        + (Dilation != 1 ? $", dilation=({Dilation},)" : "") + (Groups != 1 ? $", groups={Groups}" : "") + (Bias is null ? ", bias=False" : "");
}

/// <summary>
/// 2-D transposed convolution, as PyTorch's <c>nn.ConvTranspose2d</c>: weight [in, out/groups, kh, kw], bias [out], initialised as
/// PyTorch does (its fan-in is computed from weight dimension 1, i.e. out/groups·kh·kw).
/// </summary>
public sealed class ConvTranspose2d : Module
{
    /// <summary>Square kernel, stride, padding, output padding and dilation.</summary>
    public ConvTranspose2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1,
        bool bias = true, int dilation = 1, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, bias,
            (dilation, dilation), dtype, generator) { }

    /// <summary>All sizes per axis (height, width).</summary>
    public ConvTranspose2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding,
        (int H, int W) outputPadding, int groups, bool bias, (int H, int W) dilation, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Math.Min(kernelSize.H, kernelSize.W), 1, nameof(kernelSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"ConvTranspose2d: groups {groups} must divide both the input channels {inChannels} and the output channels {outChannels}");
        (InChannels, OutChannels, KernelSize, Stride, Padding, OutputPadding, Dilation, Groups) =
            (inChannels, outChannels, kernelSize, stride, padding, outputPadding, dilation, groups);
        RegisterParameter("weight", Init.KaimingUniform(Tensor.Empty([inChannels, outChannels / groups, kernelSize.H, kernelSize.W], dtype), generator, a: Math.Sqrt(5)));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(outChannels / groups * kernelSize.H * kernelSize.W);
            RegisterParameter("bias", Init.Uniform(Tensor.Empty([outChannels], dtype), -bound, bound, generator));
        }
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels.</summary>
    public int OutChannels { get; }
    /// <summary>Kernel height and width.</summary>
    public (int H, int W) KernelSize { get; }
    /// <summary>Stride per axis.</summary>
    public (int H, int W) Stride { get; }
    /// <summary>Padding removed from each side of the output, per axis.</summary>
    public (int H, int W) Padding { get; }
    /// <summary>Extra rows and columns added to one side of the output.</summary>
    public (int H, int W) OutputPadding { get; }
    /// <summary>Spacing between kernel taps, per axis.</summary>
    public (int H, int W) Dilation { get; }
    /// <summary>Independent channel groups.</summary>
    public int Groups { get; }

    /// <summary>Filters [in, out/groups, kh, kw].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>Bias [out], or null when created without one.</summary>
    public Tensor? Bias => FindParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.ConvTranspose2d(input, Weight, Bias, Stride, Padding, OutputPadding, Dilation, Groups);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{InChannels}, {OutChannels}, kernel_size=({KernelSize.H}, {KernelSize.W}), stride=({Stride.H}, {Stride.W})"
        + (Padding != (0, 0) ? $", padding=({Padding.H}, {Padding.W})" : "") + (OutputPadding != (0, 0) ? $", output_padding=({OutputPadding.H}, {OutputPadding.W})" : "")
        + (Dilation != (1, 1) ? $", dilation=({Dilation.H}, {Dilation.W})" : "") + (Groups != 1 ? $", groups={Groups}" : "") + (Bias is null ? ", bias=False" : "");
}

/// <summary>Max pooling over NCHW input; the stride defaults to the kernel size.</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;
    /// <summary>Step between windows.</summary>
    public int Stride { get; } = stride ?? kernelSize;
    /// <summary>Implicit padding (with −∞) on each side.</summary>
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.MaxPool2d(input, KernelSize, Stride, Padding, floor: true);

    /// <summary>The pooled input and the positions of its maxima (PyTorch's <c>return_indices=True</c>), for <see cref="MaxUnpool2d"/>.</summary>
    public (Tensor Output, Tensor Indices) ForwardWithIndices(Tensor input) => Ops.MaxPool2dWithIndices(input, KernelSize, Stride, Padding, floor: true);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";
}

/// <summary>Average pooling over NCHW input (padding counts as zeros); the stride defaults to the kernel size.</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;
    /// <summary>Step between windows.</summary>
    public int Stride { get; } = stride ?? kernelSize;
    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.AvgPool2d(input, KernelSize, Stride, Padding, floor: true);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";
}

/// <summary>Global average pooling: [N, C, H, W] to [N, C] (PyTorch's <c>AdaptiveAvgPool2d(1)</c> followed by a flatten).</summary>
public sealed class GlobalAvgPool2d : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.GlobalAvgPool2d(input);
}

/// <summary>
/// Upsampling of NCHW input, as PyTorch's <c>nn.Upsample</c>: to a fixed <see cref="Size"/> or by a <see cref="ScaleFactor"/>,
/// nearest or bilinear (with PyTorch's align_corners).
/// </summary>
public sealed class Upsample : Module
{
    /// <summary>Upsampling by a scale factor per axis.</summary>
    public Upsample((double H, double W) scaleFactor, UpsampleMode mode = UpsampleMode.Nearest, bool alignCorners = false)
    {
        ScaleFactor = scaleFactor;
        Mode = mode;
        AlignCorners = alignCorners;
    }

    /// <summary>Upsampling by the same scale factor on both axes.</summary>
    public Upsample(double scaleFactor, UpsampleMode mode = UpsampleMode.Nearest, bool alignCorners = false) : this((scaleFactor, scaleFactor), mode, alignCorners) { }

    /// <summary>Resizing to a fixed output size.</summary>
    public Upsample((int H, int W) size, UpsampleMode mode = UpsampleMode.Nearest, bool alignCorners = false)
    {
        Size = size;
        Mode = mode;
        AlignCorners = alignCorners;
    }

    /// <summary>Output height and width, or null when a scale factor is given.</summary>
    public (int H, int W)? Size { get; }
    /// <summary>Scale factor per axis, or null when a size is given.</summary>
    public (double H, double W)? ScaleFactor { get; }
    /// <summary>Interpolation.</summary>
    public UpsampleMode Mode { get; }
    /// <summary>Whether corner pixels are aligned (bilinear only).</summary>
    public bool AlignCorners { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Ops.Upsample(input, Size, ScaleFactor, Mode, AlignCorners);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        (Size is { } s ? $"size=({s.H}, {s.W})" : FormattableString.Invariant($"scale_factor=({ScaleFactor!.Value.H}, {ScaleFactor.Value.W})"))
        + $", mode='{Mode.ToString().ToLowerInvariant()}'" + (AlignCorners ? ", align_corners=True" : "");
}

/// <summary>
/// Max-unpooling, as PyTorch's <c>nn.MaxUnpool2d</c>: puts each pooled maximum back at its index in a zero plane. It takes
/// two inputs, so it is called through <see cref="Forward(Tensor, Tensor, ValueTuple{int, int}?)"/>.
/// </summary>
public sealed class MaxUnpool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    /// <summary>Window size of the pooling it inverts.</summary>
    public int KernelSize { get; } = kernelSize;
    /// <summary>Stride of that pooling.</summary>
    public int Stride { get; } = stride ?? kernelSize;
    /// <summary>Padding of that pooling.</summary>
    public int Padding { get; } = padding;

    /// <summary>The unpooled input.</summary>
    public Tensor Forward(Tensor input, Tensor indices, (int H, int W)? outputSize = null) =>
        Ops.MaxUnpool2d(input, indices, KernelSize, Stride, Padding, outputSize);

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">Always: the indices are a second input.</exception>
    public override Tensor Forward(Tensor input) =>
        throw new NotSupportedException($"MaxUnpool2d: needs the pooling indices as well as the input {ShapeUtil.Format(input.Shape)}; call Forward(input, indices)");

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";
}
