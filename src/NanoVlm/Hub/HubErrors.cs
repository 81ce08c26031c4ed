using System.Net;
using System.Text.Json;

namespace NanoVlm.Hub;

/// <summary>Turns a Hub error response (status, <c>X-Error-Code</c>, <c>X-Error-Message</c> or a JSON <c>error</c>) into a one-line message that names the repo, revision or file.</summary>
internal static class HubErrors
{
    public static HubException From(HttpResponseMessage response, string body, HubTarget target, Redactor redactor, bool hasToken)
    {
        var code = Header(response, "X-Error-Code");
        var status = response.StatusCode;
        var detail = ServerMessage(response, body, redactor);
        var suffix = detail is null ? "" : $" (Hub: {detail})";
        return code switch
        {
            "RepoNotFound" => RepoNotFound(target, hasToken, suffix),
            "GatedRepo" => new(HubErrorKind.GatedRepo,
                $"{target.Repo} is gated: accept its conditions on its Hub page, then use a token (HF_TOKEN or $HF_HOME/token) of an account with access{suffix}"),
            "EntryNotFound" => new(HubErrorKind.EntryNotFound, $"file not found: {target}{suffix}"),
            "RevisionNotFound" => new(HubErrorKind.RevisionNotFound, $"revision '{target.Revision}' not found in {target.Repo}{suffix}"),
            _ when status == HttpStatusCode.Unauthorized && !hasToken => RepoNotFound(target, hasToken, suffix),
            _ when status == HttpStatusCode.Unauthorized => new(HubErrorKind.Unauthorized,
                $"the Hub rejected the token for {target}: check HF_TOKEN or $HF_HOME/token{suffix}"),
            _ when status == HttpStatusCode.Forbidden => new(HubErrorKind.GatedRepo,
                $"access to {target} is forbidden: the repo may be gated, or the token lacks permission (a write token is needed to push){suffix}"),
            _ when status == HttpStatusCode.NotFound => new(HubErrorKind.EntryNotFound, $"not found: {target}{suffix}"),
            _ => new(HubErrorKind.Server, $"the Hub answered {(int)status} {redactor.Shown(response.ReasonPhrase ?? "")} for {target}{suffix}"),
        };
    }

    private static HubException RepoNotFound(HubTarget target, bool hasToken, string suffix) =>
        new(HubErrorKind.RepoNotFound, !hasToken
            ? $"{target.Repo} not found; if it is private or gated, set HF_TOKEN (or write a token to $HF_HOME/token){suffix}"
            : $"{target.Repo} not found, or the token has no access to it{suffix}");

    private static string? ServerMessage(HttpResponseMessage response, string body, Redactor redactor)
    {
        var text = Header(response, "X-Error-Message");
        if (text is null && body.TrimStart().StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                foreach (var key in new[] { "error", "message" })
                    if (text is null && doc.RootElement.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.String)
                        text = e.GetString();
            }
            catch (JsonException)
            {
            }
        }
        return text is null ? null : redactor.Shown(text);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
