using TorchSharp;

namespace NanoVlm.Data;

/// <summary>
/// A collated batch: <c>input_ids</c>, <c>attention_mask</c> and <c>labels</c> are int64 <c>[B, T]</c> (left padded; labels -100
/// except where the next token is a target; empty for evaluation batches), <c>images</c> float32 <c>[N, 3, S, S]</c> in batch
/// order, and for evaluation the reference answers.
/// </summary>
public sealed record VlmBatch(torch.Tensor InputIds, torch.Tensor AttentionMask, torch.Tensor Labels, torch.Tensor Images,
    IReadOnlyList<VqaSample> Samples, IReadOnlyList<string> Answers) : IDisposable
{
    /// <summary>Packed rows: int64 [B, T], the sample of each token (1..k, 0 = padding); null when each row is one sample.</summary>
    public torch.Tensor? SequenceIds { get; init; }

    /// <summary>How many of <see cref="Images"/>' tiles each image gave, in order (set by a prompt's encoding; empty otherwise).</summary>
    public IReadOnlyList<int> TilesPerImage { get; init; } = [];

    public void Dispose()
    {
        SequenceIds?.Dispose();
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
        Images.Dispose();
    }
}
