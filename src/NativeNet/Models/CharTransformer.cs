using NativeNet.Autodiff;
using NativeNet.Nn;

namespace NativeNet.Models;

/// <summary>
/// Character-level Transformer language model (a small GPT): token embedding + learned positions − <see cref="Layers"/>
/// causal pre-norm <see cref="TransformerBlock"/>s − LayerNorm − linear back to the vocabulary. It takes the same
/// time-major layout as <see cref="CharLstm"/>: indices [T, N] give logits [T·N, V] (row t·N + n predicts the character
/// after position t of stream n, from positions 0…t of that stream only).
/// </summary>
public sealed class CharTransformer : Module
{
    private readonly Embedding _tokens;
    private readonly LearnedPositionalEmbedding _positions;
    private readonly Dropout _embeddingDropout;
    private readonly TransformerBlock[] _blocks;
    private readonly LayerNorm _lnFinal;
    private readonly Linear _head;

    /// <summary>
    /// Creates the model for a vocabulary of <paramref name="vocabularySize"/> characters and contexts up to <paramref name="context"/>;
    /// in training, <paramref name="dropout"/> drops elements of the summed embeddings and of each block's attention and MLP outputs
    /// (the attention weights themselves only with <paramref name="attentionDropout"/>, which leaves the fused attention kernel),
    /// its masks drawn from <paramref name="dropoutGenerator"/> (default <see cref="NativeNet.Generator.Default"/>; reseed it per step to repeat a run).
    /// </summary>
    public CharTransformer(int vocabularySize, int context = 64, int width = 64, int heads = 4, int layers = 2, double dropout = 0, Generator? generator = null,
        double attentionDropout = 0, Generator? dropoutGenerator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), $"CharTransformer: dropout must be in [0, 1), got {dropout}");
        Context = context;
        _tokens = RegisterModule("tokens", new Embedding(vocabularySize, width, generator: generator));
        using (GradMode.Disable()) Init.Normal(_tokens.Weight, 0, 0.02, generator);
        _positions = RegisterModule("positions", new LearnedPositionalEmbedding(context, width, generator: generator));
        _embeddingDropout = RegisterModule("drop", new Dropout(dropout, dropoutGenerator));
        _blocks = new TransformerBlock[layers];
        for (int i = 0; i < layers; i++)
            _blocks[i] = RegisterModule($"block{i}", new TransformerBlock(width, heads, causal: true, dropout: dropout, generator: generator, attentionDropout: attentionDropout, dropoutGenerator: dropoutGenerator));
        _lnFinal = RegisterModule("ln_f", new LayerNorm(width));
        _head = RegisterModule("head", new Linear(width, vocabularySize, generator: generator));
    }

    /// <summary>
    /// The chargpt configuration: <paramref name="layers"/> blocks of <paramref name="heads"/> heads, width <paramref name="width"/>,
    /// context <paramref name="context"/> (defaults 4, 4, 128, 128, small enough to train in minutes on a CPU), with
    /// <paramref name="dropout"/> on the embeddings and the residual branches (not on the attention weights), masks from <paramref name="dropoutGenerator"/>.
    /// </summary>
    public static CharTransformer Gpt(int vocabularySize, int context = 128, int width = 128, int heads = 4, int layers = 4, Generator? generator = null, double dropout = 0,
        Generator? dropoutGenerator = null) =>
        new(vocabularySize, context, width, heads, layers, dropout, generator, dropoutGenerator: dropoutGenerator);

    /// <summary>Dropout probability on the embeddings and the blocks' residual branches in training.</summary>
    public double Dropout => _embeddingDropout.P;

    /// <summary>Longest input sequence.</summary>
    public int Context { get; }

    /// <summary>Characters in the vocabulary.</summary>
    public int VocabularySize => _tokens.NumEmbeddings;

    /// <summary>Model width.</summary>
    public int Width => _tokens.EmbeddingDim;

    /// <summary>Number of blocks.</summary>
    public int Layers => _blocks.Length;

    /// <summary>Logits [T·N, V] for Int32 indices [T, N] (T ≤ <see cref="Context"/>).</summary>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 2 || input.DType != DType.Int32)
            throw new ShapeMismatchException($"CharTransformer: input must be Int32 character indices [T, N], got {input.Describe()}");
        if (input.Shape[0] > Context)
            throw new ShapeMismatchException($"CharTransformer: {input.Shape[0]} steps exceed the context of {Context}");
        using var scope = new TensorScope();
        int steps = input.Shape[0], batch = input.Shape[1];
        var x = _embeddingDropout.Forward(_positions.Forward(_tokens.Forward(Ops.Transpose(input, 0, 1))));
        foreach (var block in _blocks) x = block.Forward(x);
        var normed = Ops.Transpose(_lnFinal.Forward(x), 0, 1);
        return scope.Keep(_head.Forward(Ops.Reshape(normed, steps * batch, Width)));
    }
}
