namespace NanoVlm.Evaluation;

/// <summary>
/// lmms-eval's <c>extract_mcq_answer</c> (<c>tasks/_task_utils/mcq_extract.py</c>), which MMStar scores with: every way a choice
/// letter can appear is a candidate ranked by its form (whole answer's first letter 10, last letter 9, after an answer phrase 7,
/// "(B)" 6, "B." 5, "B:" 4, "B)" 3, "B " 2); the best form wins, and within a form the last position.
/// Any uppercase occurrence counts only when nothing else matched.
/// </summary>
public static class ChoiceLetter
{
    static readonly string[] AnswerPhrases =
    [
        "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is", "best answer is",
        "the correct option is", "correct option is", "the best option is", "best option is", "the choice is", "choice is",
        "the correct choice is", "correct choice is", "i choose", "i select", "i pick", "my answer is", "my choice is",
        "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选", "答えは",
    ];

    /// <summary>The letter found in <paramref name="response"/> among <paramref name="choices"/> (single characters), or "".</summary>
    public static string Extract(string response, IReadOnlyList<string> choices)
    {
        if (PyText.Strip(response).Length == 0) return "";
        var text = PyText.Strip(response);
        foreach (var c in ",.!?;:'\"") text = PyText.Strip(text, c);
        text = " " + text + " ";
        var candidates = new List<(string Letter, int Position, int Priority)>();
        void Form(int priority, Func<string, string> form)
        {
            foreach (var ch in choices)
                if (text.Contains(form(ch), StringComparison.Ordinal))
                    candidates.Add((ch, text.LastIndexOf(form(ch), StringComparison.Ordinal), priority));
        }
        Form(6, ch => $"({ch})");
        Form(5, ch => $"{ch}.");
        Form(4, ch => $"{ch}:");
        Form(3, ch => $"{ch})");
        Form(2, ch => $"{ch} ");
        var lower = text.ToLowerInvariant();
        foreach (var phrase in AnswerPhrases)
        {
            var at = lower.IndexOf(phrase, StringComparison.Ordinal);
            if (at < 0) continue;
            foreach (var ch in choices)
                if (text.IndexOf(ch, at + phrase.Length, StringComparison.Ordinal) is var pos and >= 0)
                    candidates.Add((ch, pos, 7));
        }
        var stripped = PyText.Strip(text);
        foreach (var ch in choices)
            if (stripped.StartsWith(ch, StringComparison.Ordinal) && (stripped.Length == 1 || !char.IsLetter(stripped[1])))
                candidates.Add((ch, 0, 10));
        foreach (var ch in choices)
            if (stripped.EndsWith(ch, StringComparison.Ordinal) && (stripped.Length == 1 || !char.IsLetter(stripped[^2])))
                candidates.Add((ch, text.Length - 1, 9));
        if (candidates.Count == 0)
            foreach (var ch in choices)
                if (text.Contains(ch, StringComparison.Ordinal))
                    candidates.Add((ch, text.LastIndexOf(ch, StringComparison.Ordinal), 0));
        if (candidates.Count == 0) return "";
        // A stable sort, highest priority then latest position first: equal keys keep their order, as Python's sort(reverse=True).
        return candidates.OrderByDescending(c => c.Priority).ThenByDescending(c => c.Position).First().Letter;
    }
}
