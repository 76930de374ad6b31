using System.Collections;

namespace NativeNet.Nn;

/// <summary>Applies its modules in order; children are named "0", "1", … as PyTorch's <c>nn.Sequential</c>.</summary>
public sealed class Sequential : Module, IEnumerable<Module>
{
    private readonly List<Module> _layers = [];

    /// <summary>Creates the chain from <paramref name="modules"/>.</summary>
    public Sequential(params Module[] modules)
    {
        foreach (var m in modules) Add(m);
    }

    /// <summary>Appends <paramref name="module"/> (named by its position); returns this.</summary>
    public Sequential Add(Module module)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _layers.Add(module);
        return this;
    }

    /// <summary>The module at <paramref name="index"/> (negative counts from the end).</summary>
    public Module this[int index]
    {
        get
        {
            int i = index < 0 ? index + _layers.Count : index;
            if (i < 0 || i >= _layers.Count) throw new ArgumentOutOfRangeException(nameof(index), $"Sequential: index {index} is outside a chain of {_layers.Count} modules");
            return _layers[i];
        }
    }

    /// <summary>Number of modules.</summary>
    public int Count => _layers.Count;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in _layers) x = layer.Forward(x);
        return ReferenceEquals(x, input) ? Ops.Contiguous(input) : x;
    }

    /// <inheritdoc/>
    public IEnumerator<Module> GetEnumerator() => _layers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// ResNet's basic block (torchvision's <c>BasicBlock</c> layout and names): conv1 3×3 (stride s) → bn1 → relu → conv2 3×3 → bn2,
/// plus the shortcut — the input itself, or "downsample" (1×1 conv with stride s and batch norm) when the stride is not 1 or
/// the channel count changes — then ReLU. The convolutions have no bias (batch norm follows).
/// </summary>
public sealed class ResidualBlock : Module
{
    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm2d _bn1, _bn2;
    private readonly ReLU _relu;
    private readonly Sequential? _downsample;

    /// <summary>Creates the block.</summary>
    public ResidualBlock(int inChannels, int outChannels, int stride = 1, DType dtype = DType.Float32, Generator? generator = null)
    {
        _conv1 = RegisterModule("conv1", new Conv2d(inChannels, outChannels, 3, stride, 1, bias: false, dtype, generator));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(outChannels, dtype: dtype));
        _relu = RegisterModule("relu", new ReLU());
        _conv2 = RegisterModule("conv2", new Conv2d(outChannels, outChannels, 3, 1, 1, bias: false, dtype, generator));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(outChannels, dtype: dtype));
        if (stride != 1 || inChannels != outChannels)
            _downsample = RegisterModule("downsample", new Sequential(
                new Conv2d(inChannels, outChannels, 1, stride, 0, bias: false, dtype, generator),
                new BatchNorm2d(outChannels, dtype: dtype)));
    }

    /// <summary>True when the shortcut is the 1×1 convolution projection rather than the identity.</summary>
    public bool HasProjection => _downsample is not null;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        using var scope = new TensorScope();
        var y = _relu.Forward(_bn1.Forward(_conv1.Forward(input)));
        y = _bn2.Forward(_conv2.Forward(y));
        var shortcut = _downsample?.Forward(input) ?? input;
        return scope.Keep(_relu.Forward(Ops.Add(y, shortcut)));
    }
}
