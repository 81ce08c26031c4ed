using System.Globalization;
using System.Text;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>Python's <c>ast.literal_eval</c> for the one shape datasets store: a list of string literals (MMMU's options).</summary>
public static class PythonLiteral
{
    public static IReadOnlyList<string> StringList(string text, string what)
    {
        var items = new List<string>();
        var i = 0;
        void Space() { while (i < text.Length && char.IsWhiteSpace(text[i])) i++; }
        NanoVlmException Bad(string why) => new($"{what}: not a Python list of strings ({why} at character {i}): {Shorten(text)}");
        Space();
        if (i >= text.Length || text[i] != '[') throw Bad("no '['");
        i++;
        Space();
        while (i < text.Length && text[i] != ']')
        {
            var value = new StringBuilder();
            do
            {
                if (i >= text.Length || text[i] is not ('\'' or '"')) throw Bad("expected a quoted string");
                var quote = text[i++];
                while (i < text.Length && text[i] != quote)
                {
                    if (text[i] != '\\') { value.Append(text[i++]); continue; }
                    if (++i >= text.Length) throw Bad("a dangling backslash");
                    var c = text[i++];
                    switch (c)
                    {
                        case 'n': value.Append('\n'); break;
                        case 't': value.Append('\t'); break;
                        case 'r': value.Append('\r'); break;
                        case '0': value.Append('\0'); break;
                        case 'x': value.Append(Hex(2)); break;
                        case 'u': value.Append(Hex(4)); break;
                        case 'U': value.Append(Hex(8)); break;
                        case '\n': break;
                        case '\\' or '\'' or '"': value.Append(c); break;
                        default: value.Append('\\').Append(c); break;
                    }
                }
                if (i >= text.Length) throw Bad("an unterminated string");
                i++;
                Space();
            } while (i < text.Length && text[i] is '\'' or '"'); // adjacent literals concatenate
            items.Add(value.ToString());
            if (i < text.Length && text[i] == ',') { i++; Space(); }
            else if (i < text.Length && text[i] != ']') throw Bad("expected ',' or ']'");
        }
        if (i >= text.Length) throw Bad("no closing ']'");
        i++;
        Space();
        if (i != text.Length) throw Bad("text after ']'");
        return items;

        string Hex(int digits)
        {
            if (i + digits > text.Length || !int.TryParse(text.AsSpan(i, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
                throw Bad("a bad escape");
            i += digits;
            return char.ConvertFromUtf32(code);
        }
    }

    static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
