namespace NanoVlm.Serving;

/// <summary>A finished request: each answer's text and finish reason, and the token counts.</summary>
public sealed record ChatResult(IReadOnlyList<(string Text, string FinishReason)> Choices, int PromptTokens, int CompletionTokens);
