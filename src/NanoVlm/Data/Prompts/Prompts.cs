namespace NanoVlm.Data;

/// <summary>The question prompts of nanoVLM v0.1 and the seed era (behaviour spec §5).</summary>
internal static class Prompts
{
    public static string Question(string question, PromptStyle style = PromptStyle.Question) => style switch
    {
        PromptStyle.LetterChoice => $"Question: {question} \nAnswer only with the letter! \nAnswer:",
        _ => $"Question: {question} Answer:",
    };
}
