namespace NanoVlm.Generation;

/// <summary>
/// A row's new token; <paramref name="Finished"/> when it was eos (with StopAtEos) or the row's last, and the row left the batch.
/// <paramref name="Error"/> says why the row could not go on (it left the batch; the others are not affected).
/// <paramref name="Logprob"/>: when the row's options ask for log-probabilities.
/// </summary>
public readonly record struct DecodedToken(long Row, long Token, bool Finished, string? Error = null, TokenLogprob? Logprob = null);

/// <summary>A chosen token's log-probability under the model and the most likely tokens with theirs, most likely first.</summary>
public sealed record TokenLogprob(long Token, double Logprob, IReadOnlyList<(long Token, double Logprob)> Top);
