namespace NativeNet.Training;

/// <summary>
/// Figures of a classifier over a set of predictions: mean loss, accuracy, top-k accuracy, the confusion matrix
/// (rows: true class, columns: predicted class) and per-class precision and recall. The prediction is the first
/// class with the largest score; a sample counts as top-k correct when fewer than k classes score strictly higher
/// than its true class.
/// </summary>
public sealed class ClassificationMetrics
{
    private readonly long[] _confusion;
    private double _lossSum;
    private long _topKCorrect;

    /// <summary>Empty metrics for <paramref name="classes"/> classes, counting top-<paramref name="topK"/> accuracy.</summary>
    public ClassificationMetrics(int classes, int topK = 5)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), $"ClassificationMetrics: need at least 1 class, got {classes}");
        if (topK < 1) throw new ArgumentOutOfRangeException(nameof(topK), $"ClassificationMetrics: top-k needs k ≥ 1, got {topK}");
        Classes = classes;
        TopK = Math.Min(topK, classes);
        _confusion = new long[classes * classes];
    }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>The k of <see cref="TopKAccuracy"/> (at most <see cref="Classes"/>).</summary>
    public int TopK { get; }

    /// <summary>Predictions counted.</summary>
    public long Count { get; private set; }

    /// <summary>Mean loss per prediction (the loss sums given to <see cref="Add"/> over <see cref="Count"/>).</summary>
    public double Loss => Count == 0 ? double.NaN : _lossSum / Count;

    /// <summary>Fraction of predictions equal to the label.</summary>
    public double Accuracy => Count == 0 ? double.NaN : (double)Correct / Count;

    /// <summary>Number of correct predictions (the confusion matrix's diagonal).</summary>
    public long Correct
    {
        get
        {
            long sum = 0;
            for (int c = 0; c < Classes; c++) sum += _confusion[c * Classes + c];
            return sum;
        }
    }

    /// <summary>Fraction of samples whose label is among the <see cref="TopK"/> highest scores.</summary>
    public double TopKAccuracy => Count == 0 ? double.NaN : (double)_topKCorrect / Count;

    /// <summary>Samples of true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    public long Confusion(int truth, int predicted) => _confusion[CheckClass(truth) * Classes + CheckClass(predicted)];

    /// <summary>The confusion matrix as rows (true class) of counts per predicted class.</summary>
    public long[][] ConfusionMatrix() =>
        Enumerable.Range(0, Classes).Select(t => _confusion.AsSpan(t * Classes, Classes).ToArray()).ToArray();

    /// <summary>Of the samples predicted as <paramref name="c"/>, the fraction that are <paramref name="c"/> (NaN when none is).</summary>
    public double Precision(int c)
    {
        CheckClass(c);
        long predicted = 0;
        for (int t = 0; t < Classes; t++) predicted += _confusion[t * Classes + c];
        return predicted == 0 ? double.NaN : (double)_confusion[c * Classes + c] / predicted;
    }

    /// <summary>Of the samples of class <paramref name="c"/>, the fraction predicted as <paramref name="c"/> (NaN when there are none).</summary>
    public double Recall(int c)
    {
        CheckClass(c);
        long actual = 0;
        for (int p = 0; p < Classes; p++) actual += _confusion[c * Classes + p];
        return actual == 0 ? double.NaN : (double)_confusion[c * Classes + c] / actual;
    }

    /// <summary>A metric by name: "loss", "accuracy" or "top_k_accuracy".</summary>
    public double Get(string metric) => metric switch
    {
        "loss" => Loss,
        "accuracy" => Accuracy,
        "top_k_accuracy" => TopKAccuracy,
        _ => throw new ArgumentException($"ClassificationMetrics.Get: unknown metric '{metric}'; expected loss, accuracy or top_k_accuracy"),
    };

    /// <summary>Whether larger values of <paramref name="metric"/> are better (accuracies) or smaller (loss).</summary>
    public static bool HigherIsBetter(string metric) => metric switch
    {
        "loss" => false,
        "accuracy" or "top_k_accuracy" => true,
        _ => throw new ArgumentException($"ClassificationMetrics: unknown metric '{metric}'; expected loss, accuracy or top_k_accuracy"),
    };

    /// <summary>
    /// Adds a batch: <paramref name="scores"/> row-major [n, <see cref="Classes"/>], <paramref name="labels"/> [n], and the
    /// batch's summed loss (mean loss × n).
    /// </summary>
    public void Add(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, double lossSum)
    {
        if (scores.Length != labels.Length * Classes)
            throw new ArgumentException($"ClassificationMetrics.Add: {scores.Length} scores are not {labels.Length} rows of {Classes} classes");
        for (int i = 0; i < labels.Length; i++)
        {
            var row = scores.Slice(i * Classes, Classes);
            int label = labels[i];
            if ((uint)label >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(labels), $"ClassificationMetrics.Add: label {label} is outside [0, {Classes})");
            int best = 0, higher = 0;
            for (int c = 0; c < Classes; c++)
            {
                if (row[c] > row[best]) best = c;
                if (row[c] > row[label]) higher++;
            }
            _confusion[label * Classes + best]++;
            if (higher < TopK) _topKCorrect++;
        }
        Count += labels.Length;
        _lossSum += lossSum;
    }

    private int CheckClass(int c) =>
        (uint)c < (uint)Classes ? c : throw new ArgumentOutOfRangeException(nameof(c), $"ClassificationMetrics: class {c} is outside [0, {Classes})");
}
