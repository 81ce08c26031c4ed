namespace NanoVlm.Onnx;

/// <summary>An answer: its text (up to eos, special tokens skipped), its token ids (eos excluded), and where the time went.</summary>
public sealed record OnnxGenerationResult(string Text, IReadOnlyList<int> TokenIds, int PromptTokens, TimeSpan Prefill, TimeSpan Decode)
{
    /// <summary>Decoded tokens per second after the prefill (the first token comes from the prefill).</summary>
    public double DecodeTokensPerSecond => TokenIds.Count > 1 && Decode > TimeSpan.Zero ? (TokenIds.Count - 1) / Decode.TotalSeconds : 0;
}
