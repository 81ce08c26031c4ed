using System.Globalization;
using System.Text;

namespace NanoVlm.Evaluation;

/// <summary>
/// Python's <c>str</c> operations as lmms-eval's scorers use them, where .NET's differ: whitespace includes U+001C..U+001F,
/// <c>len</c> counts code points, <c>upper()</c> may lengthen a string ("ß" -> "SS"), <c>capitalize()</c> lowers the rest.
/// </summary>
internal static partial class PyText
{
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string Strip(string s)
    {
        var (start, end) = (0, s.Length);
        while (start < end && IsSpace(s[start])) start++;
        while (end > start && IsSpace(s[end - 1])) end--;
        return s[start..end];
    }

    public static string Strip(string s, char c) => s.Trim(c);

    public static string[] Split(string s)
    {
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= s.Length; i++)
        {
            var space = i == s.Length || IsSpace(s[i]);
            if (!space && start < 0) start = i;
            else if (space && start >= 0) { words.Add(s[start..i]); start = -1; }
        }
        return [.. words];
    }

    public static string Lower(string s) => s.ToLowerInvariant();

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static int Length(string s) => s.EnumerateRunes().Count();

    /// <summary><c>len(s.upper())</c>: the special casings that lengthen a character counted (ß, ŉ, the Latin ligatures ﬀ..ﬆ).</summary>
    public static int UpperLength(string s) => s.EnumerateRunes().Sum(r => r.Value switch
    {
        0xDF or 0x149 or 0xFB00 or 0xFB01 or 0xFB02 or 0xFB05 or 0xFB06 => 2,
        0xFB03 or 0xFB04 => 3,
        _ => 1,
    });

    /// <summary>The code points of a string (Python indexes strings by code point).</summary>
    public static int[] CodePoints(string s) => s.EnumerateRunes().Select(r => r.Value).ToArray();

    /// <summary>
    /// Python's <c>float(text)</c>: surrounding whitespace, a sign, digits of any script with single underscores between them, a
    /// fraction, an exponent, or inf/infinity/nan in any case; null where Python raises ValueError.
    /// </summary>
    public static double? Float(string text)
    {
        var t = Strip(text);
        var ascii = new StringBuilder(t.Length);
        foreach (var c in t)
            ascii.Append(char.GetUnicodeCategory(c) == UnicodeCategory.DecimalDigitNumber ? (char)('0' + (int)char.GetNumericValue(c)) : c);
        var s = ascii.ToString();
        var body = s.Length > 0 && s[0] is '+' or '-' ? s[1..] : s;
        var negative = s.StartsWith('-');
        switch (body.ToLowerInvariant())
        {
            case "inf" or "infinity": return negative ? double.NegativeInfinity : double.PositiveInfinity;
            case "nan": return double.NaN;
        }
        if (!PythonFloat().IsMatch(s)) return null;
        return double.Parse(s.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$")]
    private static partial System.Text.RegularExpressions.Regex PythonFloat();
}
