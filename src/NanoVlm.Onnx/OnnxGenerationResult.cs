namespace NanoVlm.Onnx;

/// <summary>An answer: its text (special tokens skipped), its token ids (eos excluded) and the prompt's length in positions.</summary>
public sealed record OnnxGenerationResult(string Text, IReadOnlyList<int> TokenIds, int PromptTokens);
