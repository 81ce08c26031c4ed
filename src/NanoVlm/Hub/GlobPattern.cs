using System.Text;
using System.Text.RegularExpressions;

namespace NanoVlm.Hub;

/// <summary>Python's <c>fnmatch</c>, as <c>huggingface_hub</c> uses it for allow patterns: '*' also matches '/', and a pattern ending in '/' matches everything under that folder.</summary>
internal static class GlobPattern
{
    public static bool IsMatch(string path, string pattern)
    {
        if (pattern.EndsWith('/'))
            pattern += "*";
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            var close = c == '[' ? pattern.IndexOf(']', i + 2) : -1;
            if (c == '*')
                regex.Append(".*");
            else if (c == '?')
                regex.Append('.');
            else if (close > 0)
            {
                var set = pattern[(i + 1)..close];
                regex.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                i = close;
            }
            else
                regex.Append(Regex.Escape(c.ToString()));
        }
        return Regex.IsMatch(path, regex.Append('$').ToString(), RegexOptions.Singleline);
    }
}
