using System.Text.RegularExpressions;

namespace NanoVlm.Evaluation;

/// <summary>How a generated answer is judged against the reference.</summary>
public static partial class Scoring
{
    /// <summary>
    /// MMStar (spec §10): the letter as a whole word, the letter followed by '.', ',' or ')', or the letter anywhere inside
    /// parentheses.
    /// </summary>
    public static bool MultipleChoice(string prediction, string letter)
    {
        var l = Regex.Escape(letter.Trim());
        if (l.Length == 0) return false;
        return Regex.IsMatch(prediction, $@"\b{l}\b") || Regex.IsMatch(prediction, $@"{l}[.,)]") || Regex.IsMatch(prediction, $@"\([^)]*{l}[^)]*\)");
    }

    /// <summary>Short-answer VQA: equal after trimming, lower-casing and dropping trailing punctuation.</summary>
    public static bool ExactMatch(string prediction, string answer) => Normalize(prediction) == Normalize(answer);

    static string Normalize(string s) => Punctuation().Replace(s.Trim().ToLowerInvariant(), "").Trim();

    [GeneratedRegex(@"[\s.,!?;:]+$")]
    private static partial Regex Punctuation();
}
