using NanoVlm.Runtime;

namespace NanoVlm.Onnx;

/// <summary>Decoding settings for <see cref="OnnxVlm"/>; the defaults are nanoVLM's (top-k 50, top-p 0.9, temperature 0.5).</summary>
public sealed record OnnxGenerationOptions
{
    public int MaxNewTokens { get; init; } = 20;
    /// <summary>The most likely token each step (the other sampling settings are then unused).</summary>
    public bool Greedy { get; init; }
    /// <summary>Sample among the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; } = 50;
    /// <summary>Sample among the most likely tokens whose probabilities add up to this mass.</summary>
    public double TopP { get; init; } = 0.9;
    public double Temperature { get; init; } = 0.5;
    public long? Seed { get; init; }
    /// <summary>Off: MaxNewTokens tokens whatever they are (benchmarks), eos included.</summary>
    public bool StopAtEos { get; init; } = true;

    public void Validate()
    {
        var problem = (MaxNewTokens < 0, !Greedy && !(Temperature > 0 && double.IsFinite(Temperature)), !(TopP > 0 && TopP <= 1), TopK < 0) switch
        {
            (true, _, _, _) => (nameof(MaxNewTokens), $"must be >= 0, got {MaxNewTokens}"),
            (_, true, _, _) => (nameof(Temperature), $"must be a finite number > 0, got {Temperature}"),
            (_, _, true, _) => (nameof(TopP), $"must be in (0, 1], got {TopP}"),
            (_, _, _, true) => (nameof(TopK), $"must be >= 0, got {TopK}"),
            _ => default((string, string)?),
        };
        if (problem is var (parameter, message)) throw NanoVlmException.For(parameter, message);
    }
}
