using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Generation.Structured;

namespace NanoVlm.Serving;

/// <summary>
/// A conversation to answer (ending with a user message) with its images in order, decoding options, how many answers to
/// sample (answer i is seeded with Seed + i) and the strings that end an answer (not included in it). Without a length from the
/// caller (<see cref="ToContextEnd"/>) an answer may use what the context leaves after the prompt.
/// </summary>
public sealed record ChatRequest(IReadOnlyList<PromptMessage> Messages, IReadOnlyList<RgbImage> Images, GenerationOptions Options)
{
    public const int MaxStops = 4;

    public int Choices { get; init; } = 1;
    /// <summary>The caller set no length: answers may run up to what the model's context leaves after the prompt.</summary>
    public bool ToContextEnd { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>A plain prompt (OpenAI's <c>/v1/completions</c>): its text is the model's input as it is, no chat template, no images; <see cref="Messages"/> is then empty.</summary>
    public string? Prompt { get; init; }
    /// <summary>Answers are JSON values of this shape, enforced while decoding (OpenAI's <c>response_format</c>); null: free text.</summary>
    public JsonSchema? ResponseFormat { get; init; }
}
