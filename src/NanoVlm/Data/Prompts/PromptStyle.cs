namespace NanoVlm.Data;

/// <summary>How a question is put to the model: nanoVLM's VQA prompt, or MMStar's letter-only multiple-choice prompt.</summary>
public enum PromptStyle
{
    Question,
    LetterChoice,
}
