using NativeNet.Nn;

namespace NativeNet.Models;

/// <summary>
/// Character-level LSTM language model: embedding (vocabulary → <see cref="EmbeddingDim"/>) − <see cref="Nn.Lstm"/> −
/// linear back to the vocabulary. Sequences are time-major: indices [T, N] give logits [T·N, V] (row t·N + n predicts
/// the character after position t of stream n).
/// </summary>
public sealed class CharLstm : Module
{
    private readonly Embedding _embedding;
    private readonly Lstm _lstm;
    private readonly Linear _head;

    /// <summary>Creates the model for a vocabulary of <paramref name="vocabularySize"/> characters.</summary>
    public CharLstm(int vocabularySize, int embeddingDim = 64, int hiddenSize = 256, int layers = 1, Generator? generator = null)
    {
        _embedding = RegisterModule("embedding", new Embedding(vocabularySize, embeddingDim, generator: generator));
        _lstm = RegisterModule("lstm", new Lstm(embeddingDim, hiddenSize, layers, generator: generator));
        _head = RegisterModule("head", new Linear(hiddenSize, vocabularySize, generator: generator));
    }

    /// <summary>Characters in the vocabulary.</summary>
    public int VocabularySize => _embedding.NumEmbeddings;

    /// <summary>Width of the character embedding.</summary>
    public int EmbeddingDim => _embedding.EmbeddingDim;

    /// <summary>Width of the LSTM state.</summary>
    public int HiddenSize => _lstm.HiddenSize;

    /// <summary>Stacked LSTM layers.</summary>
    public int Layers => _lstm.NumLayers;

    /// <summary>Logits [T·N, V] for Int32 indices [T, N] from a zero state.</summary>
    public override Tensor Forward(Tensor input)
    {
        var (logits, (h, c)) = Forward(input, null);
        h.Dispose();
        c.Dispose();
        return logits;
    }

    /// <summary>
    /// Logits [T·N, V] for Int32 indices [T, N] starting from <paramref name="state"/> (h, c), each [layers, N, H]
    /// (zeros when null), and the final state. For truncated backpropagation through time pass the previous chunk's
    /// state <see cref="Tensor.Detach">detached</see>.
    /// </summary>
    public (Tensor Logits, (Tensor H, Tensor C) State) Forward(Tensor input, (Tensor H, Tensor C)? state)
    {
        if (input.Rank != 2 || input.DType != DType.Int32)
            throw new ShapeMismatchException($"CharLstm: input must be Int32 character indices [T, N], got {input.Describe()}");
        using var scope = new TensorScope();
        int steps = input.Shape[0], batch = input.Shape[1];
        var embedded = _embedding.Forward(input);
        var (output, (h, c)) = _lstm.Forward(embedded, state);
        var logits = _head.Forward(Ops.Reshape(output, steps * batch, HiddenSize));
        return (scope.Keep(logits), (scope.Keep(h), scope.Keep(c)));
    }
}
