using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Generation;

/// <summary>
/// A prompt being prefilled in parts by a <see cref="BatchDecoder"/> (<see cref="BatchDecoder.Begin"/>, <see cref="BatchDecoder.Continue"/>,
/// <see cref="BatchDecoder.Finish"/>): its embeddings, its cache so far, and the last position's scores once all of it is in.
/// </summary>
public sealed class PendingPrompt : IDisposable
{
    internal PendingPrompt(Tensor embeddings, Tensor? mask, KvCache cache, int reused, IReadOnlyList<GenerationOptions> options, PrefixCache? prefixes,
        long[]? contentKey) =>
        (Embeddings, Mask, Cache, Reused, Options, Prefixes, ContentKey) = (embeddings, mask, cache, reused, options, prefixes, contentKey);

    internal Tensor Embeddings { get; }
    internal Tensor? Mask { get; }
    internal KvCache Cache { get; }
    internal IReadOnlyList<GenerationOptions> Options { get; }
    internal PrefixCache? Prefixes { get; }
    internal long[]? ContentKey { get; }
    internal Tensor? Logits { get; set; }
    /// <summary>The prefix cache took <see cref="Cache"/> itself: this prompt no longer disposes it.</summary>
    internal bool CacheGiven { get; set; }

    /// <summary>Positions taken from the prefix cache.</summary>
    public int Reused { get; }
    /// <summary>The prompt's positions, and how many are in its cache so far.</summary>
    public int Length => (int)Embeddings.shape[1];
    public int Prefilled => Cache.Length;
    public bool Done => Logits is not null;

    public void Dispose()
    {
        Embeddings.Dispose();
        Mask?.Dispose();
        if (!CacheGiven) Cache.Dispose();
        Logits?.Dispose();
    }
}
