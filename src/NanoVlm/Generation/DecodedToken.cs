namespace NanoVlm.Generation;

/// <summary>
/// A row's new token; <paramref name="Finished"/> when it was eos (with StopAtEos) or the row's last, and the row left the batch.
/// <paramref name="Error"/> says why the row could not go on (it left the batch; the others are not affected).
/// </summary>
public readonly record struct DecodedToken(long Row, long Token, bool Finished, string? Error = null);
