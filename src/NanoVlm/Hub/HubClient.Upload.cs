using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NanoVlm.Runtime;

namespace NanoVlm.Hub;

public sealed partial class HubClient
{
    public const string DefaultPushMessage = "Upload nanoVLM using push_to_hub";

    private const string LfsMediaType = "application/vnd.git-lfs+json";
    private const int PreuploadChunk = 256;

    /// <summary>Creates a repo (<c>POST /api/repos/create</c>); one that already exists is fine. Returns the repo's URL.</summary>
    public Task<string> CreateRepoAsync(string repoId, bool isPrivate = false, RepoType type = RepoType.Model, CancellationToken ct = default) =>
        Redacting(() => CreateRepoCoreAsync(repoId, isPrivate, type, ct));

    private async Task<string> CreateRepoCoreAsync(string repoId, bool isPrivate, RepoType type, CancellationToken ct)
    {
        var target = WriteTarget(repoId, type, "create");
        var slash = repoId.IndexOf('/');
        var body = new JsonObject
        {
            ["name"] = slash < 0 ? repoId : repoId[(slash + 1)..],
            ["organization"] = slash < 0 ? null : repoId[..slash],
            ["private"] = isPrivate,
            ["type"] = type.Name(),
        };
        var url = new Uri($"{Options.Base}/api/repos/create");
        using var response = await _http.SendAsync(HttpMethod.Post, url, $"creating {target.Repo}", crossOriginRedirects: false, ct,
            content: () => Json(body)).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Conflict)
            await _http.EnsureSuccessAsync(response, target, allowRedirect: false, ct).ConfigureAwait(false);
        return RepoUrl(repoId, type);
    }

    /// <summary>
    /// Uploads every file under <paramref name="folder"/> as one commit: preupload (which files go through LFS), the git-lfs batch API,
    /// a PUT of each new LFS object to the address it gives (and its verify), then the ndjson commit. Returns the commit's URL.
    /// </summary>
    public Task<string> UploadFolderAsync(
        string repoId, string folder, string commitMessage, RepoType type = RepoType.Model, string revision = "main", CancellationToken ct = default) =>
        Redacting(() => UploadFolderCoreAsync(repoId, folder, commitMessage, type, revision, ct));

    private async Task<string> UploadFolderCoreAsync(
        string repoId, string folder, string commitMessage, RepoType type, string revision, CancellationToken ct)
    {
        var target = WriteTarget(repoId, type, "upload to") with { Revision = HubNames.Revision(revision) };
        if (!Directory.Exists(folder))
            throw new NanoVlmException($"{folder}: no such folder to upload");
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(folder, f).Split(Path.DirectorySeparatorChar).Contains(".git"))
            .Order(StringComparer.Ordinal)
            .Select(f => LocalFile.Read(folder, f))
            .ToList();
        var modes = await PreuploadAsync(target, files, ct).ConfigureAwait(false);
        var lfs = files.Where(f => modes.GetValueOrDefault(f.RepoPath) == "lfs").ToList();
        await UploadLfsAsync(target, lfs, ct).ConfigureAwait(false);
        var regular = files.Where(f => modes.GetValueOrDefault(f.RepoPath) == "regular").ToList();
        return await CommitAsync(target, commitMessage, regular, lfs, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>push_to_hub</c>: creates the repo if needed, copies <paramref name="files"/> (a checkpoint's files, by their file names) into a
    /// temporary folder with a model card, uploads it as one commit and returns the repo's URL.
    /// </summary>
    public Task<string> PushToHubAsync(IReadOnlyList<string> files, string repoId, bool isPrivate = false, string? commitMessage = null,
        CancellationToken ct = default, bool modelCard = true) =>
        Redacting(() => PushToHubCoreAsync(files, repoId, isPrivate, commitMessage, modelCard, ct));

    private async Task<string> PushToHubCoreAsync(IReadOnlyList<string> files, string repoId, bool isPrivate, string? commitMessage, bool modelCard,
        CancellationToken ct)
    {
        HubNames.RepoId(repoId);
        await CreateRepoAsync(repoId, isPrivate, RepoType.Model, ct).ConfigureAwait(false);
        var staging = Directory.CreateTempSubdirectory("nanovlm-push-");
        try
        {
            foreach (var file in files)
                File.Copy(file, Path.Combine(staging.FullName, Path.GetFileName(file)));
            if (modelCard) ModelCard.Write(staging.FullName, repoId);
            await UploadFolderAsync(repoId, staging.FullName, commitMessage ?? DefaultPushMessage, RepoType.Model, "main", ct).ConfigureAwait(false);
        }
        finally
        {
            staging.Delete(recursive: true);
        }
        return RepoUrl(repoId, RepoType.Model);
    }

    /// <summary>The repo's page: <c>{endpoint}/{repo}</c>, or <c>{endpoint}/datasets/{repo}</c>.</summary>
    public string RepoUrl(string repoId, RepoType type) => $"{Options.ShownBase}/{type.UrlPrefix()}{repoId}";

    private async Task<Dictionary<string, string>> PreuploadAsync(HubTarget target, List<LocalFile> files, CancellationToken ct)
    {
        var url = new Uri($"{Options.Base}/api/{target.Type.Name()}s/{target.RepoId}/preupload/{Uri.EscapeDataString(target.Revision!)}");
        var modes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in files.Chunk(PreuploadChunk))
        {
            var body = new JsonObject
            {
                ["files"] = new JsonArray(chunk.Select(f => (JsonNode)new JsonObject
                {
                    ["path"] = f.RepoPath,
                    ["size"] = f.Size,
                    ["sample"] = Convert.ToBase64String(f.Sample),
                }).ToArray()),
            };
            using var response = await _http.SendAsync(HttpMethod.Post, url, $"preupload to {target}", false, ct, () => Json(body)).ConfigureAwait(false);
            await _http.EnsureSuccessAsync(response, target, allowRedirect: false, ct).ConfigureAwait(false);
            var answered = await ReadJsonAsync(response, url, root => root.GetProperty("files").EnumerateArray().Select(file =>
            {
                var ignored = file.TryGetProperty("shouldIgnore", out var ignore) && ignore.ValueKind == JsonValueKind.True;
                return (Path: file.GetProperty("path").GetString() ?? "", Mode: ignored ? "ignore" : file.GetProperty("uploadMode").GetString() ?? "");
            }).ToList(), ct).ConfigureAwait(false);
            foreach (var (path, mode) in answered)
                modes[path] = mode is "lfs" or "regular" or "ignore"
                    ? mode
                    : throw new HubException(HubErrorKind.Server, $"the preupload answer for {target} gives '{_http.Redactor.Shown(path)}' the unknown upload mode '{_http.Redactor.Shown(mode)}'");
            foreach (var file in chunk.Where(f => !modes.ContainsKey(f.RepoPath)))
                throw new HubException(HubErrorKind.Server, $"the preupload answer for {target} does not say how to upload '{file.RepoPath}'");
        }
        return modes;
    }

    private async Task UploadLfsAsync(HubTarget target, List<LocalFile> files, CancellationToken ct)
    {
        if (files.Count == 0)
            return;
        var url = new Uri($"{Options.Base}/{target.Type.UrlPrefix()}{target.RepoId}.git/info/lfs/objects/batch");
        var body = new JsonObject
        {
            ["operation"] = "upload",
            ["transfers"] = new JsonArray("basic"),
            ["objects"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject { ["oid"] = f.Sha256, ["size"] = f.Size }).ToArray()),
            ["hash_algo"] = "sha256",
            ["ref"] = new JsonObject { ["name"] = target.Revision },
        };
        var accept = new Dictionary<string, string> { ["Accept"] = LfsMediaType };
        using var response = await _http.SendAsync(HttpMethod.Post, url, $"LFS batch for {target}", false, ct,
            () => Json(body, LfsMediaType), accept).ConfigureAwait(false);
        await _http.EnsureSuccessAsync(response, target, allowRedirect: false, ct).ConfigureAwait(false);
        var objects = await ReadJsonAsync(response, url, root => root.GetProperty("objects").EnumerateArray().Select(obj =>
        (
            Oid: obj.GetProperty("oid").GetString() ?? "",
            Error: obj.TryGetProperty("error", out var error) ? error.ToString() : null,
            Upload: LfsAction(obj, "upload", url),
            Verify: LfsAction(obj, "verify", url)
        )).ToList(), ct).ConfigureAwait(false);
        var byOid = files.ToDictionary(f => f.Sha256);
        foreach (var (oid, error, upload, verify) in objects)
        {
            if (!byOid.TryGetValue(oid, out var file))
                throw new HubException(HubErrorKind.Server, $"the LFS batch answer for {target} names an object we did not send ({_http.Redactor.Shown(oid)})");
            if (error is not null)
                throw new HubException(HubErrorKind.Server, $"LFS refused {file.RepoPath} for {target}: {_http.Redactor.Shown(error)}");
            if (upload is { } put)
                await LfsActionAsync(HttpMethod.Put, put, () => FileContent(file), target, file, ct).ConfigureAwait(false);
            if (verify is { } post)
                await LfsActionAsync(HttpMethod.Post, post, () => Json(new JsonObject { ["oid"] = file.Sha256, ["size"] = file.Size }, LfsMediaType),
                    target, file, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// An action of an LFS batch object (where to send the bytes, with which headers), checked before anything is sent: an absolute
    /// URL, header names that are HTTP tokens and one-line values.
    /// </summary>
    private (Uri Url, List<KeyValuePair<string, string>> Headers)? LfsAction(JsonElement obj, string name, Uri batchUrl)
    {
        if (!obj.TryGetProperty("actions", out var actions) || !actions.TryGetProperty(name, out var action))
            return null;
        var href = action.GetProperty("href").GetString() ?? "";
        if (!Uri.TryCreate(href, UriKind.Absolute, out var url))
            throw new HubException(HubErrorKind.Server, $"the LFS batch answer of {batchUrl} has an invalid {name} address '{_http.Redactor.Shown(href)}'");
        var headers = action.TryGetProperty("header", out var h)
            ? h.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.GetString() ?? "")).ToList()
            : [];
        foreach (var (header, value) in headers)
            if (!HttpHeaderName().IsMatch(header) || value.Any(char.IsControl))
                throw new HubException(HubErrorKind.Server,
                    $"the LFS batch answer of {batchUrl} has an invalid {name} header '{_http.Redactor.Shown(header)}: {_http.Redactor.Shown(value)}'");
        return (url, headers);
    }

    [GeneratedRegex(@"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\z")]
    private static partial Regex HttpHeaderName();

    private async Task LfsActionAsync(HttpMethod method, (Uri Url, List<KeyValuePair<string, string>> Headers) action, Func<HttpContent> content,
        HubTarget target, LocalFile file, CancellationToken ct)
    {
        using var response = await _http.SendAsync(method, action.Url, $"{file.RepoPath} of {target}", false, ct, content, action.Headers).ConfigureAwait(false);
        await _http.EnsureSuccessAsync(response, target with { Path = file.RepoPath }, allowRedirect: false, ct).ConfigureAwait(false);
    }

    private async Task<string> CommitAsync(HubTarget target, string message, List<LocalFile> regular, List<LocalFile> lfs, CancellationToken ct)
    {
        var lines = new StringBuilder();
        void Line(string key, JsonObject value) => lines.Append(new JsonObject { ["key"] = key, ["value"] = value }.ToJsonString()).Append('\n');
        Line("header", new JsonObject { ["summary"] = message, ["description"] = "" });
        foreach (var file in regular)
            Line("file", new JsonObject
            {
                ["content"] = Convert.ToBase64String(File.ReadAllBytes(file.FullPath)),
                ["path"] = file.RepoPath,
                ["encoding"] = "base64",
            });
        foreach (var file in lfs)
            Line("lfsFile", new JsonObject { ["path"] = file.RepoPath, ["algo"] = "sha256", ["oid"] = file.Sha256, ["size"] = file.Size });

        var url = new Uri($"{Options.Base}/api/{target.Type.Name()}s/{target.RepoId}/commit/{Uri.EscapeDataString(target.Revision!)}");
        var payload = Encoding.UTF8.GetBytes(lines.ToString());
        using var response = await _http.SendAsync(HttpMethod.Post, url, $"commit to {target}", false, ct,
            () => Bytes(payload, "application/x-ndjson")).ConfigureAwait(false);
        await _http.EnsureSuccessAsync(response, target, allowRedirect: false, ct).ConfigureAwait(false);
        var commitUrl = await ReadJsonAsync(response, url, root => root.TryGetProperty("commitUrl", out var c) ? c.GetString() : null, ct).ConfigureAwait(false);
        return commitUrl is null ? RepoUrl(target.RepoId, target.Type) : _http.Redactor.Redact(commitUrl);
    }

    private HubTarget WriteTarget(string repoId, RepoType type, string action)
    {
        var target = new HubTarget(HubNames.RepoId(repoId), type);
        if (Options.Offline)
            throw new HubException(HubErrorKind.InvalidArgument, $"cannot {action} {target.Repo}: HF_HUB_OFFLINE is set");
        if (Options.Token is null)
            throw new HubException(HubErrorKind.Unauthorized, $"cannot {action} {target.Repo} without a token: set HF_TOKEN or write a write-access token to $HF_HOME/token");
        return target;
    }

    private static HttpContent Json(JsonNode body, string mediaType = "application/json") => Bytes(Encoding.UTF8.GetBytes(body.ToJsonString()), mediaType);

    private static HttpContent Bytes(byte[] bytes, string mediaType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    private static HttpContent FileContent(LocalFile file) =>
        new StreamContent(new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true));
}
