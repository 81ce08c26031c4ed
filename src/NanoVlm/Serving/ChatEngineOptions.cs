using NanoVlm.Runtime;
namespace NanoVlm.Serving;

/// <summary>How many answers decode together, and how many requests may wait for a place.</summary>
public sealed record ChatEngineOptions
{
    /// <summary>Rows decoded in one batch (a request with n answers takes n).</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>Requests waiting to join; one more is refused with <see cref="QueueFullException"/>.</summary>
    public int MaxQueue { get; init; } = 64;

    public void Validate()
    {
        if (MaxBatch < 1) throw new NanoVlmException($"max batch must be >= 1, got {MaxBatch}");
        if (MaxQueue < 1) throw new NanoVlmException($"max queue must be >= 1, got {MaxQueue}");
    }
}
