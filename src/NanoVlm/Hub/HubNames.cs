using System.Text.RegularExpressions;

namespace NanoVlm.Hub;

/// <summary>Checks every name that becomes part of a cache path or URL: repo ids, revisions, file paths, etags, commit shas. What comes from the server is hostile until it passes here.</summary>
internal static partial class HubNames
{
    [GeneratedRegex(@"^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\z")]
    private static partial Regex RepoIdForm();

    [GeneratedRegex(@"^[0-9a-f]{40}\z")]
    private static partial Regex CommitForm();

    [GeneratedRegex(@"^[0-9a-f]{64}\z")]
    private static partial Regex Sha256Form();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+\z")]
    private static partial Regex EtagForm();

    public static bool IsRepoId(string value) =>
        value.Length <= 96 && RepoIdForm().IsMatch(value) && !value.Contains("--") && !value.Contains("..");

    public static string RepoId(string value) => IsRepoId(value)
        ? value
        : throw new HubException(HubErrorKind.InvalidArgument, $"'{value}' is not a Hub repo id (expected 'name' or 'org/name' of letters, digits, '-', '_', '.')");

    public static bool IsCommit(string value) => CommitForm().IsMatch(value);

    public static bool IsSha256(string value) => Sha256Form().IsMatch(value);

    /// <summary>A relative path with '/' separators that stays inside the folder it is joined to.</summary>
    public static string RelativePath(string value, string what)
    {
        if (value.Length == 0 || value.Length > 1024 || value.StartsWith('/') || value.Contains('\\') || value.Any(char.IsControl)
            || Path.IsPathRooted(value) || value.Split('/').Any(s => s is "" or "." or ".."))
            throw new HubException(HubErrorKind.Unsafe, $"refusing {what} '{Printable(value)}': not a plain relative path (no '..', '\\', leading '/' or empty parts)");
        return value;
    }

    public static string Revision(string value) => RelativePath(value, "revision");

    public static string Etag(string value, string url) => EtagForm().IsMatch(value) && value.Length <= 128
        ? value
        : throw new HubException(HubErrorKind.Unsafe, $"refusing etag '{Printable(value)}' from {url}: not a plain file name");

    public static string Commit(string value, string url) => IsCommit(value)
        ? value
        : throw new HubException(HubErrorKind.Unsafe, $"refusing commit '{Printable(value)}' from {url}: not a 40-digit hex sha");

    /// <summary>A value shortened and stripped of control characters so that a message stays one readable line.</summary>
    public static string Printable(string value)
    {
        var clean = new string(value.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return clean.Length > 200 ? clean[..200] + "..." : clean;
    }
}
