using NanoVlm.Data;
using NanoVlm.Generation;

namespace NanoVlm.Serving;

/// <summary>
/// A conversation to answer (ending with a user message) with its images in order, decoding options, how many answers to
/// sample (answer i is seeded with Seed + i) and the strings that end an answer (not included in it).
/// </summary>
public sealed record ChatRequest(IReadOnlyList<ChatMessage> Messages, IReadOnlyList<RgbImage> Images, GenerationOptions Options)
{
    public const int MaxStops = 4;

    public int Choices { get; init; } = 1;
    public IReadOnlyList<string> Stop { get; init; } = [];
}
