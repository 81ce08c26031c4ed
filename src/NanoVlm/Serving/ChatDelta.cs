using NanoVlm.Generation;

namespace NanoVlm.Serving;

/// <summary>
/// New text of one answer; the answer's last delta has its finish reason, <c>stop</c> (eos or a stop string) or <c>length</c>.
/// <see cref="Logprobs"/>: the tokens this text came from, when the request asks for log-probabilities.
/// </summary>
public sealed record ChatDelta(int Choice, string Text, string? FinishReason = null)
{
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }
}
