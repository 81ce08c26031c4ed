namespace NanoVlm.Data;

/// <summary>One question and its answer; the answer's tokens (and the eos after them) are the training targets.</summary>
public sealed record VqaTurn(string User, string Assistant);
