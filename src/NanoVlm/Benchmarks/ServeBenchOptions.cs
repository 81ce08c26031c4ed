namespace NanoVlm.Benchmarks;

/// <summary>The load of <see cref="ServeBench"/>: for each client count, that many clients send requests until <see cref="Requests"/> are done.</summary>
public sealed record ServeBenchOptions
{
    public IReadOnlyList<int> Clients { get; init; } = [1, 8];
    public int Requests { get; init; } = 32;
    /// <summary>max_tokens of each (greedy) request.</summary>
    public int MaxTokens { get; init; } = 32;
    public string Prompt { get; init; } = "What is in this image?";
    /// <summary>An encoded image sent with every request, or none.</summary>
    public byte[]? Image { get; init; }
}
