using System.Net;
using System.Text;
using NanoVlm.Runtime;

namespace NanoVlm.Hub;

/// <summary>Where the Hub is, where its files are cached and who we are; <see cref="FromEnvironment"/> reads the variables <c>huggingface_hub</c> reads.</summary>
public sealed record HubOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public required Uri Endpoint { get; init; }
    public required string CacheDir { get; init; }
    public string? Token { get; init; }
    public bool Offline { get; init; }
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>
    /// How long a request may take, its answer included (a download's body excepted: it must instead keep delivering at least
    /// <see cref="MinProgressBytes"/> per period). A request that times out is not retried.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The most bytes an API answer (JSON, an error) may have; a longer one is refused, not read.</summary>
    public long MaxAnswerBytes { get; init; } = 64L << 20;

    /// <summary>Bytes a download must deliver within each <see cref="Timeout"/> (a server trickling a byte at a time is dropped).</summary>
    public const int MinProgressBytes = 1024;

    /// <summary>The endpoint without a trailing slash, ready for "{endpoint}/{path}".</summary>
    internal string Base => Endpoint.AbsoluteUri.TrimEnd('/');

    /// <summary><see cref="Base"/> as shown to the user: without credentials.</summary>
    internal string ShownBase => Redactor.WithoutCredentials(Base);

    /// <summary>HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN (else the file $HF_HOME/token) and HF_HUB_OFFLINE.</summary>
    public static HubOptions FromEnvironment(Func<string, string?>? getenv = null)
    {
        getenv ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => getenv(name) is { Length: > 0 } v ? v : null;

        var home = Get("HF_HOME") ?? Path.Combine(
            Get("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "huggingface");
        var cache = Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub");
        string? TokenVariable(string name) => Get(name) is { } value ? CheckToken(value.Trim(), name) : null;
        var token = TokenVariable("HF_TOKEN") ?? TokenVariable("HUGGING_FACE_HUB_TOKEN") ?? ReadTokenFile(Path.Combine(home, "token"));
        var offline = Get("HF_HUB_OFFLINE") is { } o && o.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
        return new HubOptions
        {
            Endpoint = ParseEndpoint(Get("HF_ENDPOINT") ?? DefaultEndpoint),
            CacheDir = cache,
            Token = token,
            Offline = offline,
        };
    }

    /// <summary>An absolute http(s) URL; plain http only for loopback hosts, so neither files nor the token travel unencrypted.</summary>
    public static Uri ParseEndpoint(string endpoint)
    {
        var shown = HubNames.Printable(Redactor.WithoutCredentials(endpoint));
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new HubException(HubErrorKind.InvalidArgument, $"HF_ENDPOINT '{shown}' is not an http(s) URL");
        if (uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri))
            throw new HubException(HubErrorKind.Unsafe, $"Hub endpoint '{shown}' must use https (plain http is only allowed for loopback hosts)");
        return uri;
    }

    /// <summary>A token is one printable word: a line break or space in it (a two-line token file) would corrupt the request.</summary>
    internal static string CheckToken(string token, string source) =>
        token.Length > 0 && !token.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            ? token
            : throw new HubException(HubErrorKind.InvalidArgument,
                $"{source}: the Hub token must be one line without spaces or control characters");

    internal static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.DnsSafeHost, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>Keeps the token out of <see cref="object.ToString"/>, so logging the options cannot leak it.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Endpoint = {Redactor.WithoutCredentials(Endpoint.ToString())}, CacheDir = {CacheDir}, Token = {(Token is null ? "none" : "***")}, Offline = {Offline}, Retry = {Retry}, Timeout = {Timeout}");
        return true;
    }

    private static string? ReadTokenFile(string path)
    {
        if (!File.Exists(path))
            return null;
        var token = RegularFile.ReadAllText(path, RegularFile.MaxConfigBytes, "token file").Trim();
        return token.Length > 0 ? CheckToken(token, path) : null;
    }
}
