using NanoVlm.Generation;

namespace NanoVlm.Serving;

/// <summary>Decoding options from a chat API's settings: temperature 0 is greedy; unset values keep nanoVLM's sampling defaults.</summary>
public static class ChatSampling
{
    public static GenerationOptions Options(int? maxTokens, double? temperature, double? topP, int? topK, long? seed,
        double? frequencyPenalty = null, double? presencePenalty = null, int? logprobs = null)
    {
        var defaults = new GenerationOptions();
        return new GenerationOptions
        {
            // Unset: a placeholder the engine replaces by what the context leaves (ChatRequest.ToContextEnd).
            MaxNewTokens = maxTokens ?? 1,
            Greedy = temperature == 0,
            Temperature = temperature is { } t && t != 0 ? t : defaults.Temperature,
            TopP = topP ?? defaults.TopP,
            TopK = topK ?? defaults.TopK,
            Seed = seed,
            FrequencyPenalty = frequencyPenalty ?? 0,
            PresencePenalty = presencePenalty ?? 0,
            Logprobs = logprobs,
        };
    }
}
