using System.Text.RegularExpressions;

namespace NanoVlm.Hub;

/// <summary>Keeps secrets out of everything the client shows: the token wherever a server echoes it, and credentials in any URL (<c>user:pass@host</c>).</summary>
internal sealed partial class Redactor(string? token)
{
    public const string Mask = "***";

    [GeneratedRegex(@"(?<=://)[^/?#@\s]+@")]
    private static partial Regex UserInfo();

    public static string WithoutCredentials(string text) => UserInfo().Replace(text, Mask + "@");

    public string Redact(string text) =>
        WithoutCredentials(string.IsNullOrEmpty(token) ? text : text.Replace(token, Mask, StringComparison.Ordinal));

    /// <summary>A server-supplied value made safe to show: redacted, one line, short.</summary>
    public string Shown(string text) => HubNames.Printable(Redact(text));

    /// <summary>Whether <paramref name="text"/> holds something <see cref="Redact"/> hides.</summary>
    public bool Hides(string text) => Redact(text) != text;

    /// <summary>Whether an exception, or one inside it, says something <see cref="Redact"/> would hide.</summary>
    public bool Leaks(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (Hides(x.Message))
                return true;
        return false;
    }
}
