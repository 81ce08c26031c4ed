using System.Globalization;
using System.Text.RegularExpressions;

namespace NanoVlm.Evaluation;

/// <summary>An MMMU open answer after normalization: a number rounded to two places, or lower-case text.</summary>
public readonly record struct MmmuValue(double? Number, string? Text)
{
    public override string ToString() => Number is { } n ? PythonRepr(n) : Text!;

    /// <summary>Python's <c>repr(float)</c>: the shortest round-trip digits, always with a fraction or an exponent.</summary>
    static string PythonRepr(double n)
    {
        if (double.IsNaN(n)) return "nan";
        if (double.IsInfinity(n)) return n > 0 ? "inf" : "-inf";
        var r = n.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E'))
        {
            var (mantissa, exponent) = (r[..r.IndexOf('E')], int.Parse(r[(r.IndexOf('E') + 1)..], CultureInfo.InvariantCulture));
            if (exponent is >= -4 and < 16) return ((decimal)n).ToString(CultureInfo.InvariantCulture);
            return $"{mantissa}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
        }
        return r.Contains('.') ? r : r + ".0";
    }
}

/// <summary>
/// MMMU's answer parsing and judging as lmms-eval runs them (<c>tasks/mmmu/utils.py</c> and
/// <c>tasks/_task_utils/mmmu_mcq_utils.py</c>, from the MMMU authors' <c>eval_utils.py</c>).
/// </summary>
public static partial class MmmuAnswer
{
    /// <summary>
    /// The choice letter of a multiple-choice response: "(B)" forms first, then "B " forms, then "B." forms, then (for responses over
    /// five words) an option's text; several candidates -> the one found last; none -> a random letter from
    /// <paramref name="random"/> (lmms-eval's global <c>random</c>, seeded 0 by its default <c>--seed</c>).
    /// </summary>
    public static string ParseChoice(string response, IReadOnlyList<string> options, PythonRandom random)
    {
        var letters = Enumerable.Range(0, options.Count).Select(i => ((char)('A' + i)).ToString()).ToList();
        foreach (var c in ",.!?;:'") response = response.Trim(c);
        response = " " + response + " ";
        var (byIndex, bracketed) = (true, false);
        var candidates = letters.Where(l => response.Contains($"({l})", StringComparison.Ordinal)).ToList();
        if (candidates.Count > 0) bracketed = true;
        if (candidates.Count == 0) candidates = letters.Where(l => response.Contains($"{l} ", StringComparison.Ordinal)).ToList();
        if (candidates.Count == 0) candidates = letters.Where(l => response.Contains($"{l}.", StringComparison.Ordinal)).ToList();
        if (candidates.Count == 0 && PyText.Split(response).Length > 5)
        {
            candidates = letters.Where((l, i) => response.ToLowerInvariant().Contains(options[i].ToLowerInvariant(), StringComparison.Ordinal)).ToList();
            byIndex = false;
        }
        if (candidates.Count == 0) return random.Choice(letters);
        if (candidates.Count == 1) return candidates[0];
        int Position(string l) => !byIndex
            ? response.ToLowerInvariant().LastIndexOf(options[letters.IndexOf(l)].ToLowerInvariant(), StringComparison.Ordinal)
            : response.LastIndexOf(bracketed ? $"({l})" : $" {l} ", StringComparison.Ordinal);
        // np.argmax: the first of the largest.
        return candidates.Select(l => (l, p: Position(l))).Aggregate((best, c) => c.p > best.p ? c : best).l;
    }

    /// <summary>The candidate answers of an open response: the tail after a key phrase in each line, and every number in them.</summary>
    public static IReadOnlyList<MmmuValue> ParseOpen(string response)
    {
        var keys = KeySubresponses(response);
        var predictions = keys.ToList();
        foreach (var k in keys) predictions.AddRange(Numbers(k));
        // Python deduplicates through a set, whose order is arbitrary for strings; first appearance is kept here.
        return predictions.SelectMany(Normalize).Distinct().ToList();
    }

    static List<string> KeySubresponses(string response)
    {
        response = PyText.Strip(response).Trim('.').ToLowerInvariant();
        var parts = SentenceBreak().Split(response);
        var indicators = new List<string> { "could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result " };
        var keys = new List<string>();
        for (var i = 0; i < parts.Length; i++)
        {
            if (i == parts.Length - 1) indicators.Add("=");
            string? shortest = null;
            foreach (var indicator in indicators.Where(ind => parts[i].Contains(ind, StringComparison.Ordinal)))
            {
                var tail = PyText.Strip(parts[i].Split(indicator)[^1]);
                if (shortest is null || shortest.Length == 0 || PyText.Length(tail) < PyText.Length(shortest)) shortest = tail;
            }
            if (!string.IsNullOrEmpty(shortest) && PyText.Strip(shortest) is not (":" or "," or "." or "!" or "?" or ";" or "'"))
                keys.Add(shortest);
        }
        return keys.Count == 0 ? [response] : keys;
    }

    /// <summary>Numbers with thousands commas, then in scientific notation, then plain ones (MMMU's extract_numbers).</summary>
    public static IEnumerable<string> Numbers(string text) =>
        CommaNumber().Matches(text).Concat(ScientificNumber().Matches(text)).Concat(SimpleNumber().Matches(text)).Select(m => m.Value);

    /// <summary>A number (commas dropped) rounded to two places, else the lower-cased text; one character becomes " x" and "x ".</summary>
    public static IEnumerable<MmmuValue> Normalize(string text)
    {
        text = PyText.Strip(text);
        if (PyText.Float(text.Replace(",", "")) is { } number) return [new MmmuValue(PyRound2(number), null)];
        text = text.ToLowerInvariant();
        return PyText.Length(text) == 1 ? [new MmmuValue(null, " " + text), new MmmuValue(null, text + " ")] : [new MmmuValue(null, text)];
    }

    /// <summary>Python's <c>round(x, 2)</c>: half to even on the exact binary value (2.675 is 2.67499... and gives 2.67).</summary>
    static double PyRound2(double x)
    {
        if (!double.IsFinite(x) || Math.Abs(x) >= 4503599627370496.0) return x;
        var exact = Math.Abs(x).ToString("F40", CultureInfo.InvariantCulture);
        var dot = exact.IndexOf('.');
        var kept = decimal.Parse(exact[..(dot + 3)], CultureInfo.InvariantCulture);
        var rest = exact[(dot + 3)..];
        var up = rest[0] > '5' || rest[0] == '5' && (rest.Skip(1).Any(c => c != '0') || (exact[dot + 2] - '0') % 2 == 1);
        var rounded = (double)(kept + (up ? 0.01m : 0m));
        return x < 0 ? -rounded : rounded;
    }

    public static bool JudgeChoice(string gold, string prediction) => gold == prediction;

    /// <summary>
    /// lmms-eval passes the prediction as a string where MMMU's judge expects a list, so each of its characters is compared: a
    /// normalized gold text must occur inside one character, which only an empty gold answer does. Open questions therefore score 0
    /// in lmms-eval, and here.
    /// </summary>
    public static bool JudgeOpen(string gold, string prediction)
    {
        var golds = Normalize(gold).ToList();
        foreach (var character in prediction.EnumerateRunes().Select(r => r.ToString()))
            if (golds.Any(g => g.Text is { } t && character.Contains(t, StringComparison.Ordinal))) return true;
        return false;
    }

    /// <summary>"validation_Art_Theory_12" -> "Art_Theory".</summary>
    public static string Subject(string id)
    {
        var split = id.Split('_')[0];
        var match = Regex.Match(id, $"^{Regex.Escape(split)}_(.+?)_\\d+$");
        return match.Success ? match.Groups[1].Value : throw new FormatException($"MMMU id '{id}' is not <split>_<subject>_<number>");
    }

    [GeneratedRegex(@"\.\s(?=[A-Z])|\n")]
    private static partial Regex SentenceBreak();

    [GeneratedRegex(@"-?\b\d{1,3}(?:,\d{3})+\b")]
    private static partial Regex CommaNumber();

    [GeneratedRegex(@"-?\d+(?:\.\d+)?[eE][+-]?\d+")]
    private static partial Regex ScientificNumber();

    [GeneratedRegex(@"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")]
    private static partial Regex SimpleNumber();
}
