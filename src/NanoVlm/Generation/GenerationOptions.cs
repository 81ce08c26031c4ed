using NanoVlm.Generation.Structured;
using NanoVlm.Runtime;
namespace NanoVlm.Generation;

/// <summary>Decoding settings; the defaults are nanoVLM's.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 20;
    public bool Greedy { get; init; }
    public int TopK { get; init; } = 50;
    public double TopP { get; init; } = 0.9;
    public double Temperature { get; init; } = 0.5;
    public long? Seed { get; init; }
    /// <summary>Off recomputes the whole sequence each step (slow; used to check the cache).</summary>
    public bool UseKvCache { get; init; } = true;
    /// <summary>Stop once every row has produced eos; the result is padded with eos, so it is the same as running every step.</summary>
    public bool StopAtEos { get; init; } = true;
    /// <summary>OpenAI's frequency penalty: each token's score loses this times how often the answer has used it (-2..2).</summary>
    public double FrequencyPenalty { get; init; }
    /// <summary>OpenAI's presence penalty: each token the answer has used loses this from its score (-2..2).</summary>
    public double PresencePenalty { get; init; }
    public bool Penalizes => FrequencyPenalty != 0 || PresencePenalty != 0;
    /// <summary>
    /// Null: no log-probabilities. k (0..20): each chosen token's log-probability under the model (its raw scores, before temperature,
    /// top-k/top-p and penalties) and the k most likely tokens with theirs (<see cref="BatchDecoder"/>; OpenAI's <c>top_logprobs</c>).
    /// </summary>
    public int? Logprobs { get; init; }
    public const int MaxTopLogprobs = 20;
    /// <summary>Answers are JSON values of this shape (OpenAI's <c>response_format</c>), enforced token by token; null: free text.</summary>
    public JsonConstraint? Json { get; init; }
    /// <summary>How decode steps are computed (the numbers are the same on every path the model allows).</summary>
    public DecodePath DecodePath { get; init; } = DecodePath.Auto;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw NanoVlmException.For(nameof(MaxNewTokens), $"must be >= 0, got {MaxNewTokens}");
        if (!Greedy && !(Temperature > 0 && double.IsFinite(Temperature)))
            throw NanoVlmException.For(nameof(Temperature), $"must be a finite number > 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw NanoVlmException.For(nameof(TopP), $"must be in (0, 1], got {TopP}");
        if (TopK < 0) throw NanoVlmException.For(nameof(TopK), $"must be >= 0, got {TopK}");
        if (FrequencyPenalty is < -2 or > 2 || double.IsNaN(FrequencyPenalty))
            throw NanoVlmException.For(nameof(FrequencyPenalty), $"must be between -2 and 2, got {FrequencyPenalty}");
        if (PresencePenalty is < -2 or > 2 || double.IsNaN(PresencePenalty))
            throw NanoVlmException.For(nameof(PresencePenalty), $"must be between -2 and 2, got {PresencePenalty}");
        if (Logprobs is < 0 or > MaxTopLogprobs)
            throw NanoVlmException.For(nameof(Logprobs), $"must be between 0 and {MaxTopLogprobs}, got {Logprobs}");
    }
}
