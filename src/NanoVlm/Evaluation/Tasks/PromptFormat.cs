namespace NanoVlm.Evaluation;

/// <summary>
/// How a task's <c>doc_to_text</c> prompt reaches the model. <see cref="LmmsEval"/>: as it is, the answer cut at the task's stop
/// strings (what lmms-eval's model wrappers do). <see cref="NanoVlm"/>: as nanoVLM's own lmms-eval wrapper
/// (<c>eval/lmms_eval_wrapper.py</c>) rewrites it, which is how nanoVLM's published numbers were made.
/// </summary>
public enum PromptFormat
{
    LmmsEval,
    NanoVlm,
}

/// <summary>
/// nanoVLM's per-benchmark prompt rewriting: a user prefix, text replacements, a user suffix, and an assistant prefix written after
/// the chat template's generation prompt; its <c>generate_until</c> ignores the stop strings. Its table keys "chartvqa", which no
/// task is called, so ChartQA (like POPE and ScienceQA-IMG) keeps the plain prompt.
/// </summary>
public static class NanoVlmPromptFormat
{
    const string Letters = "Answer:";
    static readonly (string From, string To)[] ChoiceReplacements =
    [
        ("\nOptions:", "\nChoices:"), ("\nA. ", "\nChoices:\nA. "),
        ("Please select the correct answer from the options above.", "Answer with the letter."),
        ("Answer with the option's letter from the given choices directly", "Answer with the letter directly"),
    ];
    static readonly (string From, string To)[] MmmuReplacements =
    [
        ("Question:", ""), ("Answer with the option's letter from the given choices directly.", "Answer with the letter directly."),
        ("\nA. ", "\nChoices:\nA. "),
    ];
    const string DocVqaPrefix = "Give a short and terse answer to the following question. Do not paraphrase or reformat the text you see in the image. "
        + "Do not include any full stops. Just give the answer without additional explanation. Question: ";
    const string TextVqaPrefix = "Answer the following question about the image using as few words as possible. Follow these additional instructions:\n"
        + "-Always answer a binary question with Yes or No.\n-When asked what time it is, reply with the time seen in the image.\n"
        + "-Do not put any full stops at the end of the answer.\n-Do not put quotation marks around the answer.\n"
        + "-An answer with one or two words is favorable.\n-Do not apply common sense knowledge. The answer can be found in the image.\nQuestion: ";
    const string BriefSuffix = "\nGive a very brief answer.";

    /// <summary>The user text and the assistant prefix nanoVLM's wrapper gives a task's prompt.</summary>
    public static (string User, string AssistantPrefix) Apply(string task, string prompt)
    {
        var (prefix, replacements, suffix, assistant) = task switch
        {
            "ai2d" or "mmstar" or "seedbench" or "scienceqa" => ("", ChoiceReplacements, "", Letters),
            "docvqa_val" or "docvqa_test" => (DocVqaPrefix, [], "", ""),
            "textvqa_val" or "textvqa_test" => (TextVqaPrefix, [], "", ""),
            "mmmu_val" or "mmmu_test" => ("", MmmuReplacements, "", Letters),
            "infovqa_val" or "mme" or "ocrbench" => ("", [], BriefSuffix, ""),
            _ => ("", Array.Empty<(string, string)>(), "", ""),
        };
        var text = prefix + prompt;
        foreach (var (from, to) in replacements) text = text.Replace(from, to, StringComparison.Ordinal);
        return (text + suffix, assistant);
    }
}
