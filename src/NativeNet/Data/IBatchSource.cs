namespace NativeNet.Data;

/// <summary>
/// Where a trainer gets its mini-batches: a fixed number of batches per epoch, each epoch reproducible from its
/// number alone, and enumerable from any batch on (so a run resumed in the middle of an epoch sees the same batches).
/// </summary>
public interface IBatchSource
{
    /// <summary>Batches in one epoch.</summary>
    int BatchesPerEpoch { get; }

    /// <summary>
    /// Batches <paramref name="startBatch"/>..<see cref="BatchesPerEpoch"/>−1 of <paramref name="epoch"/> as (features, labels);
    /// the caller owns (disposes) each batch.
    /// </summary>
    IEnumerable<(Tensor X, Tensor Y)> Epoch(int epoch, int startBatch);
}
