using NativeNet.Data;
using NativeNet.Models;
using NativeNet.Nn;
using NativeNet.Optim;
using NUnit.Framework;

namespace NativeNet.Tests.Training;

public class ModelZooTests
{
    private static bool HaveFashionMnist => File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte.gz"))
        || File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte"));

    [TestCase("mlp")]
    [TestCase("cnn")]
    public void InitialLossOfTenClassesIsNearLn10(string name)
    {
        using var model = ModelZoo.Build(name, new Generator(42));
        var generator = new Generator(7);
        using var scope = new TensorScope();
        var x = Tensor.Normal([64, 1, 28, 28], 0, 1, generator);
        var y = Tensor.FromArray(Enumerable.Range(0, 64).Select(i => i % 10).ToArray());
        double loss = Ops.SoftmaxCrossEntropy(model.Forward(x), y).Item();
        Assert.That(loss, Is.EqualTo(Math.Log(10)).Within(0.1), $"{name}: a freshly initialised 10-class model should be near chance");
    }

    [Test]
    public void ModelsHaveTheAnchorShapes()
    {
        using var mlp = ModelZoo.Mlp();
        using var cnn = ModelZoo.Cnn();
        using var resnet = ModelZoo.ResNet(new Generator(1));
        // PyTorch's parameter counts of models.py: 784·512+512 + 512·256+256 + 256·10+10, and the CNN's conv/fc layers.
        Assert.That(mlp.ParameterCount, Is.EqualTo(535_818));
        Assert.That(cnn.ParameterCount, Is.EqualTo(320 + 18_496 + 401_536 + 1_290));
        using var scope = new TensorScope();
        var x = Tensor.Normal([2, 1, 28, 28], 0, 1, new Generator(3));
        Assert.That(resnet.Forward(x).ShapeArray, Is.EqualTo(new[] { 2, 10 }));
        Assert.That(resnet.Buffers().Count(), Is.GreaterThan(0), "the ResNet's batch norms keep running statistics");
    }

    [Test]
    public void CharLstmMapsTimeMajorIndicesToLogitsAndCarriesState()
    {
        using var model = new CharLstm(vocabularySize: 11, embeddingDim: 4, hiddenSize: 6, generator: new Generator(5));
        using var scope = new TensorScope();
        var x = Tensor.FromArray(Enumerable.Range(0, 15).Select(i => i % 11).ToArray(), 5, 3);
        var (logits, (h, c)) = model.Forward(x, null);
        Assert.That(logits.ShapeArray, Is.EqualTo(new[] { 15, 11 }));
        Assert.That(h.ShapeArray, Is.EqualTo(new[] { 1, 3, 6 }));
        // Running the two halves with the state carried over gives the same logits as the whole sequence.
        var (first, state) = model.Forward(x.Narrow(0, 0, 2), null);
        var (second, _) = model.Forward(x.Narrow(0, 2, 3), state);
        var joined = first.ToArray<float>().Concat(second.ToArray<float>()).ToArray();
        Assert.That(joined, Is.EqualTo(logits.ToArray<float>()).Within(1e-5));
    }

    [Test]
    public void MlpOverfitsFiftyExamples()
    {
        if (!HaveFashionMnist) Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist)");
        var (images, labels) = FashionMnist.Load(train: true);
        using (images)
        using (labels)
        {
            using var scope = new TensorScope();
            var x = images.Narrow(0, 0, 50).Contiguous();
            var normalize = Normalize.Fit(x, NormalizeMode.Global);
            x = normalize.Apply(x);
            var y = labels.Narrow(0, 0, 50).Contiguous();
            using var model = ModelZoo.Mlp(new Generator(42));
            using var adam = new Adam(model.NamedParameters(), 1e-3);
            double loss = double.NaN;
            for (int step = 0; step < 300; step++)
            {
                using var stepScope = new TensorScope();
                adam.ZeroGrad(setToNull: true);
                var l = Ops.SoftmaxCrossEntropy(model.Forward(x), y);
                l.Backward();
                adam.Step();
                loss = l.Item();
                if (loss < 0.01) break;
            }
            Assert.That(loss, Is.LessThan(0.05), "an MLP with 536k parameters must memorise 50 images");
        }
    }
}
