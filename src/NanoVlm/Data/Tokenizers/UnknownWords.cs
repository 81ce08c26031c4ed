using System.Text.RegularExpressions;

namespace NanoVlm.Data;

/// <summary>How much of some texts a tokenizer can only write as its unknown token, and which words those are.</summary>
public sealed partial record UnknownWords(long UnknownTokens, long Tokens, IReadOnlyList<string> Examples)
{
    public double Share => Tokens == 0 ? 0 : (double)UnknownTokens / Tokens;

    /// <summary>Counts over <paramref name="texts"/>; up to <paramref name="maxExamples"/> distinct unknown words, in order of appearance.</summary>
    public static UnknownWords In(Tokenizer tokenizer, IEnumerable<string> texts, int maxExamples = 5)
    {
        if (tokenizer.UnknownTokenId is not { } unknown) return new(0, 0, []);
        var (count, total) = (0L, 0L);
        var examples = new List<string>();
        foreach (var text in texts)
        {
            var ids = tokenizer.Encode(text);
            total += ids.Length;
            var missing = ids.Count(id => id == unknown);
            if (missing == 0) continue;
            count += missing;
            foreach (Match word in Word().Matches(text))
                if (examples.Count < maxExamples && !examples.Contains(word.Value) && tokenizer.Encode(word.Value).Contains(unknown))
                    examples.Add(word.Value);
        }
        return new(count, total, examples);
    }

    [GeneratedRegex(@"\w+|[^\w\s]+")]
    private static partial Regex Word();
}
