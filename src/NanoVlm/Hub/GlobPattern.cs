namespace NanoVlm.Hub;

/// <summary>
/// Python's <c>fnmatch</c>, as <c>huggingface_hub</c> uses it for allow patterns: '*' also matches '/', '?' one character,
/// <c>[set]</c>/<c>[!set]</c> one character of (not of) a set with ranges (an empty range like <c>z-a</c> matches nothing, as in
/// Python), and a pattern ending in '/' matches everything under that folder. Matching backtracks only to the last '*', so it takes
/// at most length(path) x length(pattern) steps whatever the pattern.
/// </summary>
internal static class GlobPattern
{
    public static bool IsMatch(string path, string pattern)
    {
        if (pattern.EndsWith('/'))
            pattern += "*";
        var (p, s) = (0, 0);
        var (starP, starS) = (-1, -1);
        while (s < path.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                (starP, starS) = (++p, s);
                continue;
            }
            if (p < pattern.Length && MatchOne(pattern, p, path[s]) is { } next)
            {
                (p, s) = (next, s + 1);
                continue;
            }
            if (starP < 0)
                return false;
            (p, s) = (starP, ++starS);
        }
        while (p < pattern.Length && pattern[p] == '*')
            p++;
        return p == pattern.Length;
    }

    /// <summary>Where the pattern continues when its element at <paramref name="p"/> matches <paramref name="c"/>; null when it does not.</summary>
    private static int? MatchOne(string pattern, int p, char c)
    {
        if (pattern[p] == '?')
            return p + 1;
        if (pattern[p] != '[' || SetEnd(pattern, p) is not { } end)
            return pattern[p] == c ? p + 1 : null;
        var negated = pattern[p + 1] == '!';
        var inSet = false;
        for (var i = negated ? p + 2 : p + 1; i < end; i++)
        {
            if (i + 2 < end && pattern[i + 1] == '-')
            {
                inSet |= pattern[i] <= c && c <= pattern[i + 2];
                i += 2;
            }
            else
                inSet |= pattern[i] == c;
        }
        return inSet != negated ? end + 1 : null;
    }

    /// <summary>The index of the ']' closing the set opened at <paramref name="open"/> (a ']' first in the set is a member); null when unclosed ('[' is then a literal).</summary>
    private static int? SetEnd(string pattern, int open)
    {
        var i = open + 1;
        if (i < pattern.Length && pattern[i] == '!')
            i++;
        if (i < pattern.Length && pattern[i] == ']')
            i++;
        var end = pattern.IndexOf(']', Math.Min(i, pattern.Length));
        return end < 0 ? null : end;
    }
}
