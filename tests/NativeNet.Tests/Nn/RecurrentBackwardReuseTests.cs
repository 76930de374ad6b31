using NativeNet.Nn;
using NUnit.Framework;

namespace NativeNet.Tests.Nn;

/// <summary>
/// The fused recurrent backward overwrites its saved activations with gradients only when the tape frees the cache right
/// after: a backward with a retained graph must leave the cache intact, so the final backward gives the same gradients, bit
/// for bit, and a backward after that is refused.
/// </summary>
public class RecurrentBackwardReuseTests(string backendName) : BackendTest(backendName)
{
    [Test]
    public void RetainedThenFinalBackwardGiveTheSameGradients([Values("Rnn", "Lstm", "Gru")] string kind, [Values(DType.Float32, DType.Float64)] DType dtype)
    {
        var g = new Generator(21);
        RecurrentBase net = kind switch
        {
            "Rnn" => new Rnn(5, 7, 2, dtype: dtype, generator: g),
            "Lstm" => new Lstm(5, 7, 2, dtype: dtype, generator: g),
            _ => new Gru(5, 7, 2, dtype: dtype, generator: g),
        };
        net.To(Dev);
        var parameters = net.Parameters().ToArray();
        using var x = Randn([6, 3, 5], 1, dtype).RequireGrad();
        using var upstream = Randn([6, 3, 7], 2, dtype);
        using var y = net.Forward(x);

        y.Backward(upstream, retainGraph: true);
        var first = parameters.Append(x).Select(p => p.Grad!.ToArray<double>()).ToArray();
        foreach (var p in parameters.Append(x)) { p.Grad!.Dispose(); p.Grad = null; }

        y.Backward(upstream);
        var second = parameters.Append(x).Select(p => p.Grad!.ToArray<double>()).ToArray();
        for (int i = 0; i < first.Length; i++)
            Assert.That(second[i], Is.EqualTo(first[i]), $"{kind} {dtype}: gradient {i} of the final backward differs from the retained one");
        Assert.Throws<InvalidOperationException>(() => y.Backward(upstream));
        foreach (var p in parameters.Append(x)) { p.Grad?.Dispose(); p.Grad = null; }
        net.Dispose();
    }
}
