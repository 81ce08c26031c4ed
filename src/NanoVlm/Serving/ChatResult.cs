using NanoVlm.Generation;

namespace NanoVlm.Serving;

/// <summary>
/// A finished request: each answer's text and finish reason, and the token counts; <see cref="Logprobs"/>: each answer's tokens
/// with their log-probabilities, when the request asks for them.
/// </summary>
public sealed record ChatResult(IReadOnlyList<(string Text, string FinishReason)> Choices, int PromptTokens, int CompletionTokens)
{
    public IReadOnlyList<IReadOnlyList<TokenLogprob>>? Logprobs { get; init; }
    /// <summary>Prompt tokens taken from the prefix cache instead of being prefilled.</summary>
    public int CachedTokens { get; init; }
}
