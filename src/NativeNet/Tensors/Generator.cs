namespace NativeNet;

/// <summary>A seeded source of random numbers: the same seed gives the same tensors on every run and machine.</summary>
public sealed class Generator
{
    private Random _random;

    /// <summary>Creates a generator from <paramref name="seed"/>.</summary>
    public Generator(int seed)
    {
        Seed = seed;
        _random = new Random(seed);
    }

    /// <summary>The seed this generator started from (or was last reset to).</summary>
    public int Seed { get; private set; }

    /// <summary>The process-wide generator used when none is passed (seed 0 until <see cref="ManualSeed"/>).</summary>
    public static Generator Default { get; } = new(0);

    /// <summary>Restarts the sequence from <paramref name="seed"/>.</summary>
    public void ManualSeed(int seed)
    {
        Seed = seed;
        _random = new Random(seed);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => _random.NextDouble();

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive) => _random.Next(maxExclusive);

    /// <summary>A 64-bit value, e.g. to seed a device-side counter-based generator.</summary>
    public ulong NextUInt64() => (ulong)_random.NextInt64();

    /// <summary>Standard normal by Box–Muller.</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - _random.NextDouble(); // (0, 1]: log stays finite
        double u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = _random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
