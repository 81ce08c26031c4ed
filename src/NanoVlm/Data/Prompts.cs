namespace NanoVlm.Data;

/// <summary>nanoVLM's prompt texts (spec §5).</summary>
public static class Prompts
{
    public static string Question(string question, PromptStyle style = PromptStyle.Question) => style switch
    {
        PromptStyle.LetterChoice => $"Question: {question} \nAnswer only with the letter! \nAnswer:",
        _ => $"Question: {question} Answer:",
    };

    /// <summary>The image placeholder text: <paramref name="imageToken"/> repeated once per image token, for every image.</summary>
    public static string ImageTokens(string imageToken, int tokensPerImage, int images) =>
        string.Concat(Enumerable.Repeat(imageToken, tokensPerImage * images));
}
