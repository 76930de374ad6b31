using System.Globalization;
using NativeNet.Data;

namespace NativeNet.Training;

/// <summary>One searched hyper-parameter: its name and how values are drawn.</summary>
public abstract record SearchDimension(string Name)
{
    /// <summary>True when values are drawn uniformly in the logarithm (charts use a log axis).</summary>
    public virtual bool IsLogarithmic => false;

    /// <summary>A value drawn with <paramref name="generator"/>.</summary>
    public abstract double Sample(Generator generator);

    /// <summary>
    /// Parses a space: <c>log:LOW:HIGH</c> (log-uniform, 0 &lt; LOW &lt; HIGH), <c>uniform:LOW:HIGH</c> or
    /// <c>choice:V1,V2,...</c> (each value equally likely).
    /// </summary>
    public static SearchDimension Parse(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':');
        string Where() => $"search space '{name}' = '{text}'";
        double Number(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new FormatException($"{Where()}: '{s}' is not a number");
        switch (parts[0])
        {
            case "log" or "uniform" when parts.Length == 3:
                double low = Number(parts[1]), high = Number(parts[2]);
                if (!(low < high)) throw new FormatException($"{Where()}: the low end must be below the high end");
                if (parts[0] == "log" && !(low > 0)) throw new FormatException($"{Where()}: a log space needs a positive low end");
                return parts[0] == "log" ? new LogUniformDimension(name, low, high) : new UniformDimension(name, low, high);
            case "choice" when parts.Length == 2:
                var values = parts[1].Split(',').Select(Number).ToArray();
                return new ChoiceDimension(name, values);
            default:
                throw new FormatException($"{Where()}: expected log:LOW:HIGH, uniform:LOW:HIGH or choice:V1,V2,...");
        }
    }
}

/// <summary>Log-uniform on [low, high).</summary>
public sealed record LogUniformDimension(string Name, double Low, double High) : SearchDimension(Name)
{
    /// <inheritdoc/>
    public override bool IsLogarithmic => true;

    /// <inheritdoc/>
    public override double Sample(Generator generator) => Math.Exp(Math.Log(Low) + generator.NextDouble() * (Math.Log(High) - Math.Log(Low)));
}

/// <summary>Uniform on [low, high).</summary>
public sealed record UniformDimension(string Name, double Low, double High) : SearchDimension(Name)
{
    /// <inheritdoc/>
    public override double Sample(Generator generator) => Low + generator.NextDouble() * (High - Low);
}

/// <summary>One of a list of values.</summary>
public sealed record ChoiceDimension(string Name, IReadOnlyList<double> Values) : SearchDimension(Name)
{
    /// <inheritdoc/>
    public override double Sample(Generator generator) => Values[generator.NextInt(Values.Count)];
}

/// <summary>
/// Random search (Bergstra and Bengio): trial k's values depend only on (seed, k), drawn dimension by dimension in the
/// order given, so a search is reproducible and the first trials of a longer search are those of a shorter one.
/// </summary>
public sealed class RandomSearch
{
    private readonly SearchDimension[] _dimensions;

    /// <summary>A search over <paramref name="dimensions"/> (names unique) seeded with <paramref name="seed"/>.</summary>
    public RandomSearch(IEnumerable<SearchDimension> dimensions, int seed)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        _dimensions = dimensions.ToArray();
        if (_dimensions.Length == 0) throw new ArgumentException("RandomSearch: no dimensions to search");
        var duplicate = _dimensions.GroupBy(d => d.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"RandomSearch: dimension '{duplicate.Key}' appears twice");
        Seed = seed;
    }

    /// <summary>The dimensions, in drawing order.</summary>
    public IReadOnlyList<SearchDimension> Dimensions => _dimensions;

    /// <summary>The seed.</summary>
    public int Seed { get; }

    /// <summary>The values of trial <paramref name="trial"/> (0-based) by dimension name.</summary>
    public IReadOnlyDictionary<string, double> Sample(int trial)
    {
        if (trial < 0) throw new ArgumentOutOfRangeException(nameof(trial), $"RandomSearch: trial must be non-negative, got {trial}");
        var generator = new Generator(DataLoader.Mix(Seed, trial, -3));
        var values = new Dictionary<string, double>();
        foreach (var d in _dimensions) values[d.Name] = d.Sample(generator);
        return values;
    }
}

/// <summary>
/// Successive halving (Jamieson and Talwalkar; the core of Hyperband): all trials train to the first rung's budget,
/// the best 1/η (by a score, higher better) continue to the next rung, and so on until the last rung, whose budget is
/// the full one. Rung r of R has budget <c>budget / η^(R−1−r)</c>.
/// </summary>
public static class SuccessiveHalving
{
    /// <summary>Rung budgets for <paramref name="trials"/> trials: as many rungs as halvings leave at least one trial, at most <paramref name="maxRungs"/>.</summary>
    public static IReadOnlyList<long> Rungs(long budget, int trials, int eta = 2, int maxRungs = int.MaxValue)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"SuccessiveHalving: budget must be at least 1, got {budget}");
        if (trials < 1) throw new ArgumentOutOfRangeException(nameof(trials), $"SuccessiveHalving: need at least 1 trial, got {trials}");
        if (eta < 2) throw new ArgumentOutOfRangeException(nameof(eta), $"SuccessiveHalving: eta must be at least 2, got {eta}");
        if (maxRungs < 1) throw new ArgumentOutOfRangeException(nameof(maxRungs), $"SuccessiveHalving: need at least 1 rung, got {maxRungs}");
        int rungs = 1;
        for (long left = trials / eta; left >= 1 && rungs < maxRungs && budget / Pow(eta, rungs) >= 1; left /= eta) rungs++;
        return Enumerable.Range(0, rungs).Select(r => budget / Pow(eta, rungs - 1 - r)).ToArray();
    }

    private static long Pow(int eta, int k)
    {
        long p = 1;
        for (int i = 0; i < k; i++) p = checked(p * eta);
        return p;
    }

    /// <summary>
    /// Runs the halving: <paramref name="advance"/>(trial, steps) trains trial to that many steps in total and returns its
    /// score; <paramref name="eliminated"/> (optional) hears of each trial that goes no further, so its resources can be freed.
    /// Returns, per trial, the (steps, score) of every rung it reached. Ties keep the lower trial index.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<(long Steps, double Score)>> Run(int trials, IReadOnlyList<long> rungs, Func<int, long, double> advance, int eta = 2, Action<int>? eliminated = null)
    {
        ArgumentNullException.ThrowIfNull(rungs);
        ArgumentNullException.ThrowIfNull(advance);
        var history = Enumerable.Range(0, trials).Select(_ => new List<(long, double)>()).ToArray();
        var alive = Enumerable.Range(0, trials).ToList();
        for (int r = 0; r < rungs.Count; r++)
        {
            var scores = new Dictionary<int, double>();
            foreach (int t in alive)
            {
                double score = advance(t, rungs[r]);
                scores[t] = score;
                history[t].Add((rungs[r], score));
            }
            if (r == rungs.Count - 1)
            {
                foreach (int t in alive) eliminated?.Invoke(t);
                break;
            }
            int keep = Math.Max(1, alive.Count / eta);
            var next = alive.OrderByDescending(t => double.IsNaN(scores[t]) ? double.NegativeInfinity : scores[t]).ThenBy(t => t).Take(keep).Order().ToList();
            foreach (int t in alive.Except(next)) eliminated?.Invoke(t);
            alive = next;
        }
        return history;
    }
}
