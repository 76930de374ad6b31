using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

public class InitTests
{
    private static double Std(double[] v)
    {
        double mean = v.Average();
        return Math.Sqrt(v.Sum(e => (e - mean) * (e - mean)) / v.Length);
    }

    [Test]
    public void FansOfLinearAndConvWeights()
    {
        Assert.That(Init.CalculateFans([30, 20]), Is.EqualTo((20, 30)));
        Assert.That(Init.CalculateFans([16, 6, 5, 5]), Is.EqualTo((150, 400)));
        Assert.Throws<ArgumentException>(() => Init.CalculateFans([5]));
    }

    [Test]
    public void GainsMatchPyTorch()
    {
        Assert.That(Init.CalculateGain(Nonlinearity.Linear), Is.EqualTo(1.0));
        Assert.That(Init.CalculateGain(Nonlinearity.Conv), Is.EqualTo(1.0));
        Assert.That(Init.CalculateGain(Nonlinearity.Sigmoid), Is.EqualTo(1.0));
        Assert.That(Init.CalculateGain(Nonlinearity.Tanh), Is.EqualTo(5.0 / 3));
        Assert.That(Init.CalculateGain(Nonlinearity.Relu), Is.EqualTo(Math.Sqrt(2)));
        Assert.That(Init.CalculateGain(Nonlinearity.LeakyRelu), Is.EqualTo(Math.Sqrt(2 / (1 + 0.01 * 0.01))));
        Assert.That(Init.CalculateGain(Nonlinearity.LeakyRelu, Math.Sqrt(5)), Is.EqualTo(Math.Sqrt(1.0 / 3)).Within(1e-15));
    }

    [Test]
    public void DistributionsHaveTheirScales()
    {
        var g = new Generator(1);
        using var w = Tensor.Empty([200, 300], DType.Float64);

        Assert.That(Init.Zeros(w).ToArray<double>().All(v => v == 0));
        Assert.That(Std(Init.SmallNormal(w, g).ToArray<double>()), Is.EqualTo(0.01).Within(0.0003));

        double xavierBound = Math.Sqrt(6.0 / 500);
        var xu = Init.XavierUniform(w, g).ToArray<double>();
        Assert.That(xu.Max(), Is.LessThanOrEqualTo(xavierBound).And.GreaterThan(0.99 * xavierBound));
        Assert.That(Std(Init.XavierNormal(w, g).ToArray<double>()), Is.EqualTo(Math.Sqrt(2.0 / 500)).Within(0.002));

        // He: randn·√(2/fan_in) for ReLU; fan_out mode uses the 200 outputs.
        Assert.That(Std(Init.KaimingNormal(w, g, nonlinearity: Nonlinearity.Relu).ToArray<double>()), Is.EqualTo(Math.Sqrt(2.0 / 300)).Within(0.002));
        Assert.That(Std(Init.KaimingNormal(w, g, mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu).ToArray<double>()), Is.EqualTo(Math.Sqrt(2.0 / 200)).Within(0.002));
        var ku = Init.KaimingUniform(w, g, nonlinearity: Nonlinearity.Tanh).ToArray<double>();
        double kaimingBound = 5.0 / 3 * Math.Sqrt(3.0 / 300);
        Assert.That(ku.Max(), Is.LessThanOrEqualTo(kaimingBound).And.GreaterThan(0.99 * kaimingBound));
    }

    [Test]
    public void SameSeedSameValuesAndFloat32Works()
    {
        using var a = Init.KaimingUniform(Tensor.Empty([4, 5], DType.Float32), new Generator(3));
        using var b = Init.KaimingUniform(Tensor.Empty([4, 5], DType.Float32), new Generator(3));
        Assert.That(a.ToArray(), Is.EqualTo(b.ToArray()));
        Assert.Throws<DTypeMismatchException>(() => Init.Zeros(Tensor.Zeros([2], DType.Int32)));
    }

    [Test]
    public void InitialisesStridedViewsInPlace()
    {
        using var t = Tensor.Zeros([3, 4], DType.Float64);
        using var column = Raw.Narrow(t, 1, 2, 1);
        Init.Constant(column, 7);
        Assert.That(t.ToArray<double>(), Is.EqualTo(new double[] { 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0 }));
    }
}
