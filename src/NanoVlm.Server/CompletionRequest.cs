using NanoVlm.Serving;

namespace NanoVlm.Server;

/// <summary>A parsed <c>POST /v1/chat/completions</c>: the chat to answer and how to send the answer.</summary>
sealed record CompletionRequest(ChatRequest Chat, bool Stream, bool IncludeUsage);
