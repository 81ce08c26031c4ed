using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// The text of a generation prompt as the checkpoint's generation wrote it: the images' placeholders (and tile tokens) for their
/// grids, then the conversation through ChatML (splitting generations) or <c>Question: ... Answer:</c> (older ones). No libtorch:
/// NanoVlm.Onnx compiles it too.
/// </summary>
public sealed class PromptText(CheckpointGeneration generation, IReadOnlyDictionary<string, string> extraTokens, int tokensPerImage, string eosText)
{
    long _strayImageTokens;

    public CheckpointGeneration Generation { get; } = generation;

    /// <summary>The placeholder one image embedding stands in for.</summary>
    public string ImageToken { get; } = extraTokens.GetValueOrDefault("image_token", "<|image|>");

    /// <summary>The eos token's text, which ends each answer of the older generations' conversations.</summary>
    public string EosText { get; } = eosText;

    /// <summary><c>&lt;|image|&gt;</c> found inside texts and removed (it would be taken for an image placeholder).</summary>
    public long StrayImageTokens => Interlocked.Read(ref _strayImageTokens);

    /// <summary>The text that stands for the images of a message (each image's tile grid): placeholders in the order of their tiles.</summary>
    public string ImageString(IReadOnlyList<(int Rows, int Cols)> grids)
    {
        if (Generation == CheckpointGeneration.V01) return "";
        var block = string.Concat(Enumerable.Repeat(ImageToken, tokensPerImage));
        if (Generation == CheckpointGeneration.SeedEra) return string.Concat(Enumerable.Repeat(block, grids.Count));
        var text = new System.Text.StringBuilder();
        for (var k = 0; k < grids.Count; k++)
        {
            var (rows, cols) = grids[k];
            if (grids.Count > 1) text.Append($"<image: {k}>");
            if (extraTokens.TryGetValue("global_image_token", out var global))
            {
                text.Append(global).Append(block);
                if (rows == 1 && cols == 1) continue;
            }
            for (var i = 1; i <= rows; i++)
                for (var j = 1; j <= cols; j++)
                    text.Append(TileToken(i, j)).Append(block);
        }
        return text.ToString();
    }

    string TileToken(int row, int col) =>
        extraTokens.TryGetValue($"r{row}c{col}", out var token)
            ? token
            : throw new NanoVlmException($"an image split into a {row}x{col} or larger grid needs the extra token r{row}c{col}, which vlm_extra_tokens lacks");

    /// <summary>The text of a generation prompt: the conversation so far with its images, then the assistant's turn.</summary>
    public string ChatText(IReadOnlyList<PromptMessage> messages, IReadOnlyList<(int Rows, int Cols)> grids) =>
        Generation.SplitsImages()
            ? ChatTemplate.Apply(Messages(messages, grids), addGenerationPrompt: true)
            : SeedChatText(messages, ImageString(grids));

    /// <summary>Splitting generations: stray image tokens removed, every image's string before the first user text.</summary>
    public List<PromptMessage> Messages(IReadOnlyList<PromptMessage> messages, IReadOnlyList<(int Rows, int Cols)> grids)
    {
        var clean = messages.Select(m => m with { Content = WithoutImageTokens(m.Content) }).ToList();
        var first = clean.FindIndex(m => m.Role == "user");
        if (grids.Count > 0 && first >= 0) clean[first] = clean[first] with { Content = ImageString(grids) + clean[first].Content };
        return clean;
    }

    string SeedChatText(IReadOnlyList<PromptMessage> messages, string imageString)
    {
        // The Question/Answer format has no place for instructions: dropping them silently would answer another question.
        if (messages.Any(m => m.Role == "system"))
            throw new NanoVlmException($"this checkpoint's prompt format ({Generation}: Question: ... Answer:) has no place for a system message; put the instructions in the user message");
        var text = imageString;
        foreach (var m in messages.Where(m => m.Role is "user" or "assistant"))
            text += m.Role == "user" ? Prompts.Question(WithoutImageTokens(m.Content)) : WithoutImageTokens(m.Content) + EosText;
        return text;
    }

    public string WithoutImageTokens(string text)
    {
        if (Generation == CheckpointGeneration.V01 || !text.Contains(ImageToken, StringComparison.Ordinal)) return text;
        Interlocked.Increment(ref _strayImageTokens);
        // Until none is left: removing one can join its neighbours into another ("<|ima<|image|>ge|>").
        while (text.Contains(ImageToken, StringComparison.Ordinal)) text = text.Replace(ImageToken, "", StringComparison.Ordinal);
        return text;
    }
}
