using NativeNet.Data;

namespace NativeNet.Training;

/// <summary>
/// Holding out a development set: a stratified split (every class contributes the same fraction, rounded per class)
/// that depends only on the labels, the fraction and the seed.
/// </summary>
public static class DevSplit
{
    /// <summary>
    /// Splits sample indices 0..labels.Count−1 into (train, dev), each in ascending order: of the n_c samples of class c,
    /// round(fraction·n_c) chosen at random (seeded from (seed, c)) go to dev.
    /// </summary>
    public static (int[] Train, int[] Dev) Stratified(IReadOnlyList<int> labels, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (!(fraction >= 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), $"DevSplit.Stratified: fraction must be in [0, 1), got {fraction}");
        var byClass = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < labels.Count; i++)
        {
            if (!byClass.TryGetValue(labels[i], out var members)) byClass[labels[i]] = members = [];
            members.Add(i);
        }
        var dev = new List<int>();
        foreach (var (label, members) in byClass)
        {
            var shuffled = members.ToArray();
            new Generator(DataLoader.Mix(seed, label, -2)).Shuffle(shuffled.AsSpan());
            int take = (int)Math.Round(fraction * shuffled.Length, MidpointRounding.AwayFromZero);
            dev.AddRange(shuffled.Take(take));
        }
        var inDev = new bool[labels.Count];
        foreach (int i in dev) inDev[i] = true;
        var train = Enumerable.Range(0, labels.Count).Where(i => !inDev[i]).ToArray();
        return (train, dev.Order().ToArray());
    }

    /// <summary>Splits <paramref name="dataset"/> with <see cref="Stratified(IReadOnlyList{int}, double, int)"/> into two views (no copy of the features).</summary>
    public static (SubsetDataset Train, SubsetDataset Dev) Stratified(IDataset dataset, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var labels = Labels(dataset);
        var (train, dev) = Stratified(labels, fraction, seed);
        return (new SubsetDataset(dataset, train), new SubsetDataset(dataset, dev));
    }

    /// <summary>The labels of every sample of <paramref name="dataset"/>.</summary>
    public static int[] Labels(IDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var scratch = new float[ShapeUtil.Numel(dataset.SampleShape)];
        var labels = new int[dataset.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = dataset.CopyTo(i, scratch);
        return labels;
    }
}

/// <summary>The samples of another dataset at the given indices, in the order given (a view: features are read from the parent).</summary>
public sealed class SubsetDataset : IDataset
{
    private readonly IDataset _parent;
    private readonly int[] _indices;

    /// <summary>Selects <paramref name="indices"/> (each in [0, parent.Count)) of <paramref name="parent"/>.</summary>
    public SubsetDataset(IDataset parent, IReadOnlyList<int> indices)
    {
        _parent = parent ?? throw new ArgumentNullException(nameof(parent));
        ArgumentNullException.ThrowIfNull(indices);
        _indices = indices.ToArray();
        foreach (int i in _indices)
            if ((uint)i >= (uint)parent.Count) throw new ArgumentOutOfRangeException(nameof(indices), $"SubsetDataset: index {i} is outside the parent's [0, {parent.Count})");
    }

    /// <summary>The parent indices of this subset's samples.</summary>
    public IReadOnlyList<int> Indices => _indices;

    /// <inheritdoc/>
    public int Count => _indices.Length;

    /// <inheritdoc/>
    public int[] SampleShape => _parent.SampleShape;

    /// <inheritdoc/>
    public (float[] Features, int Label) Get(int index) => _parent.Get(_indices[Check(index)]);

    /// <inheritdoc/>
    public int CopyTo(int index, Span<float> features) => _parent.CopyTo(_indices[Check(index)], features);

    private int Check(int index) =>
        (uint)index < (uint)_indices.Length ? index : throw new ArgumentOutOfRangeException(nameof(index), $"SubsetDataset: index {index} is outside [0, {_indices.Length})");
}
