namespace NanoVlm.Data;

/// <summary>One message of a conversation: <c>user</c>, <c>assistant</c> or <c>system</c>, and its text.</summary>
public sealed record PromptMessage(string Role, string Content);
