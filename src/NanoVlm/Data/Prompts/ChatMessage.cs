namespace NanoVlm.Data;

/// <summary>One message of a conversation: <c>user</c>, <c>assistant</c> or <c>system</c>, and its text.</summary>
public sealed record ChatMessage(string Role, string Content);
