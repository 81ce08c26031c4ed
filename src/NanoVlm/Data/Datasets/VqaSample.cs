namespace NanoVlm.Data;

/// <summary>
/// A visual question-answering sample: its images (each becomes a block of image tokens at the start of the text) and its turns.
/// <see cref="Source"/> names the file and row in messages; <see cref="Category"/>/<see cref="L2Category"/> carry MMStar's labels.
/// </summary>
public sealed record VqaSample(IReadOnlyList<VqaImage> Images, IReadOnlyList<VqaTurn> Turns, string Source)
{
    public PromptStyle Style { get; init; } = PromptStyle.Question;
    public string? Category { get; init; }
    public string? L2Category { get; init; }
    /// <summary>Evaluation: text the assistant's turn starts with after the generation prompt (nanoVLM's benchmark formatting).</summary>
    public string AssistantPrefix { get; init; } = "";
}
