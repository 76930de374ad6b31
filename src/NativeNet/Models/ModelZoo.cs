using NativeNet.Nn;

namespace NativeNet.Models;

/// <summary>
/// The reference models of the training CLI, benchmarks and tests, built from <see cref="NativeNet.Nn"/> modules with
/// PyTorch's default initialisation (drawn from the given generator), for Fashion-MNIST inputs [N, 1, 28, 28] and 10 classes.
/// </summary>
public static class ModelZoo
{
    /// <summary>Names accepted by <see cref="Build"/> (the image classifiers).</summary>
    public static IReadOnlyList<string> ImageModels { get; } = ["mlp", "cnn", "resnet"];

    /// <summary>Builds the image classifier called <paramref name="name"/> ("mlp", "cnn" or "resnet").</summary>
    public static Module Build(string name, Generator? generator = null) => name switch
    {
        "mlp" => Mlp(generator),
        "cnn" => Cnn(generator),
        "resnet" => ResNet(generator),
        _ => throw new ArgumentException($"ModelZoo.Build: unknown model '{name}'; expected one of {string.Join(", ", ImageModels)}"),
    };

    /// <summary>The anchor MLP: flatten − 784→512 − ReLU − 512→256 − ReLU − 256→10.</summary>
    public static Sequential Mlp(Generator? generator = null) => new(
        new Flatten(),
        new Linear(784, 512, generator: generator), new ReLU(),
        new Linear(512, 256, generator: generator), new ReLU(),
        new Linear(256, 10, generator: generator));

    /// <summary>
    /// The anchor CNN: conv(1→32, 3×3, pad 1) − ReLU − maxpool 2 − conv(32→64, 3×3, pad 1) − ReLU − maxpool 2 − flatten −
    /// 3136→128 − ReLU − 128→10.
    /// </summary>
    public static Sequential Cnn(Generator? generator = null) => new(
        new Conv2d(1, 32, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2),
        new Conv2d(32, 64, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2),
        new Flatten(),
        new Linear(3136, 128, generator: generator), new ReLU(),
        new Linear(128, 10, generator: generator));

    /// <summary>
    /// A small ResNet for 28×28 inputs: stem conv 3×3 (1→16, no bias) − batch norm − ReLU, residual stages of 16 (stride 1),
    /// 32 (stride 2) and 64 (stride 2) channels, one basic block each, global average pooling, linear 64→10.
    /// </summary>
    public static Sequential ResNet(Generator? generator = null) => new(
        new Conv2d(1, 16, 3, padding: 1, bias: false, generator: generator), new BatchNorm2d(16), new ReLU(),
        new ResidualBlock(16, 16, 1, generator: generator),
        new ResidualBlock(16, 32, 2, generator: generator),
        new ResidualBlock(32, 64, 2, generator: generator),
        new GlobalAvgPool2d(),
        new Linear(64, 10, generator: generator));
}
