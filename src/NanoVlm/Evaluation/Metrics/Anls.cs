namespace NanoVlm.Evaluation;

/// <summary>
/// Average Normalized Levenshtein Similarity (DocVQA, InfographicVQA), as lmms-eval's <c>anls</c> metric computes it: against each
/// reference, the edit distance of the whitespace-collapsed lower-cased strings over the longer raw length (of their upper-cased
/// forms); 1 minus the smallest, and 0 when that is below 0.5.
/// </summary>
public static class Anls
{
    public const double Threshold = 0.5;

    public static double Score(IReadOnlyList<string> references, string prediction)
    {
        if (references.Count == 0) throw new ArgumentException("ANLS needs at least one reference answer", nameof(references));
        var detected = PyText.CodePoints(Collapse(prediction));
        var best = double.MaxValue;
        foreach (var answer in references)
        {
            var distance = Levenshtein(PyText.CodePoints(Collapse(answer)), detected);
            var length = Math.Max(PyText.UpperLength(answer), PyText.UpperLength(prediction));
            best = Math.Min(best, length == 0 ? 0.0 : (double)distance / length);
        }
        var score = 1 - best;
        return score < Threshold ? 0 : score;
    }

    static string Collapse(string s) => string.Join(' ', PyText.Split(PyText.Strip(s).ToLowerInvariant()));

    public static int Levenshtein(int[] a, int[] b)
    {
        if (a.Length > b.Length) (a, b) = (b, a);
        var previous = Enumerable.Range(0, a.Length + 1).ToArray();
        var current = new int[a.Length + 1];
        for (var j = 0; j < b.Length; j++)
        {
            current[0] = j + 1;
            for (var i = 0; i < a.Length; i++)
                current[i + 1] = a[i] == b[j] ? previous[i] : 1 + Math.Min(previous[i], Math.Min(previous[i + 1], current[i]));
            (previous, current) = (current, previous);
        }
        return previous[a.Length];
    }
}
