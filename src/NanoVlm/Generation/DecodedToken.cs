namespace NanoVlm.Generation;

/// <summary>A row's new token; <paramref name="Finished"/> when it was eos (with StopAtEos) or the row's last, and the row left the batch.</summary>
public readonly record struct DecodedToken(long Row, long Token, bool Finished);
