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
    /// <summary>How decode steps are computed (the numbers are the same on every path the model allows).</summary>
    public DecodePath DecodePath { get; init; } = DecodePath.Auto;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw NanoVlmException.For(nameof(MaxNewTokens), $"must be >= 0, got {MaxNewTokens}");
        if (!Greedy && !(Temperature > 0 && double.IsFinite(Temperature)))
            throw NanoVlmException.For(nameof(Temperature), $"must be a finite number > 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw NanoVlmException.For(nameof(TopP), $"must be in (0, 1], got {TopP}");
        if (TopK < 0) throw NanoVlmException.For(nameof(TopK), $"must be >= 0, got {TopK}");
    }
}
