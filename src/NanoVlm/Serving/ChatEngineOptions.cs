using NanoVlm.Runtime;
namespace NanoVlm.Serving;

/// <summary>How many answers decode together, and how many requests may wait for a place.</summary>
public sealed record ChatEngineOptions
{
    /// <summary>Rows decoded in one batch (a request with n answers takes n).</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>Requests waiting to join; one more is refused with <see cref="QueueFullException"/>.</summary>
    public int MaxQueue { get; init; } = 64;
    /// <summary>
    /// The most tokens an answer gets when the request sets no length: what the context leaves, up to this (each row's KV cache is
    /// reserved for its whole answer).
    /// </summary>
    public int MaxDefaultTokens { get; init; } = 2048;
    /// <summary>Bytes of image encodings kept for requests that send an image again (<see cref="ImageEmbeddingCache"/>); 0 keeps none.</summary>
    public long ImageCacheBytes { get; init; } = 256L << 20;
    /// <summary>Bytes of earlier prompts' KV caches kept for prompts that start the same way (<see cref="Generation.PrefixCache"/>); 0 keeps none.</summary>
    public long PrefixCacheBytes { get; init; } = 1L << 30;
    /// <summary>
    /// While answers are decoding, a prompt longer than this many positions (after its cached prefix) is prefilled this many at a
    /// time, one part between two of their decoding steps, so that they stop for a part (about two steps' time at 16 on a CPU), never
    /// for a whole prefill; 0 prefills every prompt at once.
    /// </summary>
    public int PrefillChunk { get; init; } = 16;
    /// <summary>The parts a prompt is prefilled in while no answer is decoding (nobody waits for them; they bound the memory of one); 0: whole.</summary>
    public int IdlePrefillChunk { get; init; } = 512;

    public void Validate()
    {
        if (MaxBatch < 1) throw new NanoVlmException($"max batch must be >= 1, got {MaxBatch}");
        if (MaxQueue < 1) throw new NanoVlmException($"max queue must be >= 1, got {MaxQueue}");
        if (MaxDefaultTokens < 1) throw NanoVlmException.For(nameof(MaxDefaultTokens), $"must be >= 1, got {MaxDefaultTokens}");
        if (PrefillChunk < 0) throw NanoVlmException.For(nameof(PrefillChunk), $"must be >= 0, got {PrefillChunk}");
        if (IdlePrefillChunk < 0) throw NanoVlmException.For(nameof(IdlePrefillChunk), $"must be >= 0, got {IdlePrefillChunk}");
        if (PrefixCacheBytes < 0) throw NanoVlmException.For(nameof(PrefixCacheBytes), $"must be >= 0, got {PrefixCacheBytes}");
        if (ImageCacheBytes < 0) throw NanoVlmException.For(nameof(ImageCacheBytes), $"must be >= 0, got {ImageCacheBytes}");
    }
}
