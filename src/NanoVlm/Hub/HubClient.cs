using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using NanoVlm.Runtime;

namespace NanoVlm.Hub;

/// <summary>
/// Downloads from and uploads to the Hugging Face Hub through the cache that <c>huggingface_hub</c> uses, so files fetched by Python are reused and vice versa.
/// Every failure is a one-line <see cref="HubException"/>; the token never appears in one.
/// </summary>
public sealed partial class HubClient : IDisposable
{
    private const int ENOSPC = 28;
    private const int WindowsDiskFull = unchecked((int)0x80070070);

    private readonly HubHttp _http;
    private readonly IProgress<DownloadProgress>? _progress;

    public HubClient(HubOptions options, IProgress<DownloadProgress>? progress = null)
    {
        HubOptions.ParseEndpoint(options.Endpoint.OriginalString);
        _http = new HubHttp(options);
        _progress = progress;
    }

    public HubOptions Options => _http.Options;

    /// <summary>
    /// The local path of one file of a repo at a revision (branch, tag or commit sha), downloading it if the cache lacks it.
    /// A file cached under a commit sha is served without any request; for a branch a HEAD resolves the commit, and a cached blob is not fetched again.
    /// </summary>
    public Task<string> DownloadFileAsync(string repoId, string path, string revision = "main", RepoType type = RepoType.Model, CancellationToken ct = default) =>
        Redacting(async () => (await DownloadAsync(new HubTarget(HubNames.RepoId(repoId), type, HubNames.Revision(revision), HubNames.RelativePath(path, "file path")), ct).ConfigureAwait(false)).Path);

    /// <summary>The commit sha and file list of a revision (<c>GET /api/{type}s/{repo}/revision/{revision}</c>); offline, the cached snapshot's files.</summary>
    public Task<RepoInfo> ListFilesAsync(string repoId, string revision = "main", RepoType type = RepoType.Model, CancellationToken ct = default) =>
        Redacting(() => ListFilesCoreAsync(repoId, revision, type, ct));

    private async Task<RepoInfo> ListFilesCoreAsync(string repoId, string revision, RepoType type, CancellationToken ct)
    {
        var target = new HubTarget(HubNames.RepoId(repoId), type, HubNames.Revision(revision));
        if (Options.Offline)
            return ListCached(target) ?? throw NotCached(target);
        var url = new Uri($"{Options.Base}/api/{type.Name()}s/{repoId}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await _http.SendAsync(HttpMethod.Get, url, target.ToString(), crossOriginRedirects: false, ct).ConfigureAwait(false);
        await _http.EnsureSuccessAsync(response, target, allowRedirect: false, ct).ConfigureAwait(false);
        var (sha, names) = await ReadJsonAsync(response, url, root =>
        {
            if (!root.TryGetProperty("sha", out var sha) || sha.ValueKind != JsonValueKind.String)
                throw new HubException(HubErrorKind.Server, $"the Hub's answer for {target} has no commit sha");
            var names = root.TryGetProperty("siblings", out var siblings)
                ? siblings.EnumerateArray().Select(s => s.GetProperty("rfilename").GetString() ?? "").ToList()
                : [];
            return (sha.GetString()!, names);
        }, ct).ConfigureAwait(false);
        var files = names.Select(f => _http.Redactor.Hides(f)
                ? throw new HubException(HubErrorKind.Unsafe, $"refusing a file name from {url} that holds a secret ({_http.Redactor.Shown(f)})")
                : HubNames.RelativePath(f, $"file name from {url}"))
            .ToList();
        return new RepoInfo(HubNames.Commit(sha, url.ToString()), files);
    }

    /// <summary>Downloads the files of a revision that match any of <paramref name="allowPatterns"/> (all files when none; fnmatch syntax) and returns the snapshot folder.</summary>
    public Task<string> DownloadSnapshotAsync(
        string repoId, string revision = "main", IReadOnlyCollection<string>? allowPatterns = null, RepoType type = RepoType.Model, CancellationToken ct = default) =>
        Redacting(() => DownloadSnapshotCoreAsync(repoId, revision,
            files => files.Where(f => allowPatterns is not { Count: > 0 } || allowPatterns.Any(p => GlobPattern.IsMatch(f, p))), type, ct));

    /// <summary>Downloads the files of a revision that <paramref name="choose"/> picks from its file list (offline: the cached list) and returns the snapshot folder.</summary>
    public Task<string> DownloadSnapshotAsync(
        string repoId, Func<IReadOnlyList<string>, IEnumerable<string>> choose, string revision = "main", RepoType type = RepoType.Model,
        CancellationToken ct = default) =>
        Redacting(() => DownloadSnapshotCoreAsync(repoId, revision, choose, type, ct));

    private async Task<string> DownloadSnapshotCoreAsync(
        string repoId, string revision, Func<IReadOnlyList<string>, IEnumerable<string>> choose, RepoType type, CancellationToken ct)
    {
        var target = new HubTarget(HubNames.RepoId(repoId), type, HubNames.Revision(revision));
        RepoInfo info;
        try
        {
            info = await ListFilesAsync(repoId, revision, type, ct).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.NoNetwork && ListCached(target) is { } cached)
        {
            info = cached;
        }
        var cache = Cache(target);
        if (!Options.Offline)
            cache.WriteRef(revision, info.Sha);
        foreach (var file in choose(info.Files).ToList())
            await DownloadAsync(target with { Revision = info.Sha, Path = file }, ct).ConfigureAwait(false);
        var folder = cache.Snapshot(info.Sha);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private async Task<(string Path, string Commit)> DownloadAsync(HubTarget target, CancellationToken ct)
    {
        var cache = Cache(target);
        var (revision, path) = (target.Revision!, target.Path!);
        if (HubNames.IsCommit(revision) && cache.Cached(revision, path) is { } pinned)
            return (pinned, revision);
        if (Options.Offline)
            return FromCache(cache, target) ?? throw NotCached(target);

        FileMetadata meta;
        try
        {
            meta = await HeadAsync(target, ct).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.NoNetwork && FromCache(cache, target) is { } cached)
        {
            return cached;
        }
        cache.WriteRef(revision, meta.Commit);
        if (cache.Cached(meta.Commit, path) is { } existing)
            return (existing, meta.Commit);
        var blob = cache.Blob(meta.Etag);
        cache.EnsureInside(blob);
        if (!File.Exists(blob))
        {
            using (await cache.LockAsync(meta.Etag, ct).ConfigureAwait(false))
            {
                if (!File.Exists(blob))
                    await DownloadBlobAsync(meta, blob, target, ct).ConfigureAwait(false);
            }
        }
        return (cache.Link(meta.Commit, path, meta.Etag), meta.Commit);
    }

    private async Task<FileMetadata> HeadAsync(HubTarget target, CancellationToken ct)
    {
        var url = new Uri($"{Options.Base}/{target.Type.UrlPrefix()}{target.RepoId}/resolve/{Uri.EscapeDataString(target.Revision!)}/" +
                          string.Join('/', target.Path!.Split('/').Select(Uri.EscapeDataString)));
        using var response = await _http.SendAsync(HttpMethod.Head, url, target.ToString(), crossOriginRedirects: false, ct).ConfigureAwait(false);
        await _http.EnsureSuccessAsync(response, target, allowRedirect: true, ct).ConfigureAwait(false);

        var linkedEtag = Header(response, "X-Linked-Etag");
        var commit = Header(response, "X-Repo-Commit")
            ?? throw new HubException(HubErrorKind.Server, $"no X-Repo-Commit header in the answer for {target}: is {Options.Base} a Hugging Face Hub?");
        var etag = NormalizeEtag(linkedEtag ?? Header(response, "ETag")
            ?? throw new HubException(HubErrorKind.Server, $"no ETag header in the answer for {target}"));
        var sizeText = Header(response, "X-Linked-Size");
        long? size = sizeText is not null && long.TryParse(sizeText, out var linked) ? linked : response.Content.Headers.ContentLength;
        var location = response.Headers.Location is { } l && (int)response.StatusCode is >= 300 and < 400
            ? (l.IsAbsoluteUri ? l : new Uri(response.RequestMessage!.RequestUri!, l))
            : response.RequestMessage!.RequestUri!;
        return new FileMetadata(HubNames.Commit(commit, url.ToString()), HubNames.Etag(etag, url.ToString()), size, location, linkedEtag is not null);
    }

    /// <summary>Fetches a blob into <c>{blob}.incomplete</c> (resuming with Range what an earlier try left), checks size and sha256, and only then renames it into place.</summary>
    private async Task DownloadBlobAsync(FileMetadata meta, string blob, HubTarget target, CancellationToken ct)
    {
        var incomplete = blob + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var from = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
                if (from > 0 && from >= meta.Size)
                    break;
                try
                {
                    using var response = await _http.SendAsync(HttpMethod.Get, meta.Location, target.ToString(), crossOriginRedirects: true, ct,
                        rangeFrom: from > 0 ? from : null, stream: true).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                    {
                        File.Delete(incomplete);
                        continue;
                    }
                    await _http.EnsureSuccessAsync(response, target, allowRedirect: false, ct).ConfigureAwait(false);
                    var resumed = response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == from;
                    await using var file = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
                    await CopyAsync(response, file, resumed ? from : 0, meta.Size, target, ct).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (HubHttp.IsNetworkFailure(e, ct))
                {
                    if (attempt >= Options.Retry.MaxAttempts || HubHttp.IsTimeout(e, ct))
                        throw _http.NoNetwork(meta.Location, $"{target} (stalled or lost mid-file; the next try resumes)", e);
                    await Task.Delay(Options.Retry.Delay(attempt, null), ct).ConfigureAwait(false);
                }
            }
            await VerifyAsync(meta, incomplete, target, ct).ConfigureAwait(false);
            File.Move(incomplete, blob, overwrite: true);
        }
        catch (IOException e) when (e.HResult is ENOSPC or WindowsDiskFull)
        {
            throw new HubException(HubErrorKind.DiskFull,
                $"disk full while downloading {target} into {incomplete} ({meta.Size?.ToString() ?? "unknown"} bytes): free space or set HF_HUB_CACHE to another disk", e);
        }
    }

    /// <summary>
    /// Copies a download's body to the file. The body must deliver <see cref="HubOptions.MinProgressBytes"/> within every
    /// <see cref="HubOptions.Timeout"/> (so a trickling server is dropped), and never more than the expected size.
    /// </summary>
    private async Task CopyAsync(HttpResponseMessage response, FileStream file, long from, long? total, HubTarget target, CancellationToken ct)
    {
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var buffer = new byte[1 << 20];
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        var done = from;
        var sinceProgress = 0L;
        var name = target.Path!;
        double Speed() => (done - from) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
        stalled.CancelAfter(Options.Timeout);
        while (true)
        {
            var n = await body.ReadAsync(buffer, stalled.Token).ConfigureAwait(false);
            if (n == 0)
                break;
            if (done + n > total)
                throw new HubException(HubErrorKind.Corrupted, $"corrupted download of {target}: the server sends more than the expected {total} bytes");
            await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            done += n;
            sinceProgress += n;
            if (sinceProgress >= HubOptions.MinProgressBytes)
            {
                stalled.CancelAfter(Options.Timeout);
                sinceProgress = 0;
            }
            if (clock.Elapsed - lastReport > TimeSpan.FromMilliseconds(200))
            {
                lastReport = clock.Elapsed;
                _progress?.Report(new DownloadProgress(name, done, total, Speed(), Completed: false));
            }
        }
        await file.FlushAsync(ct).ConfigureAwait(false);
        _progress?.Report(new DownloadProgress(name, done, total, Speed(), Completed: true));
    }

    private static async Task VerifyAsync(FileMetadata meta, string incomplete, HubTarget target, CancellationToken ct)
    {
        var length = new FileInfo(incomplete).Length;
        string? problem = null;
        if (meta.Size is { } size && length != size)
            problem = $"got {length} bytes, expected {size}";
        else if (meta.IsLfs && HubNames.IsSha256(meta.Etag))
        {
            await using var stream = new FileStream(incomplete, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
            var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
            if (hash != meta.Etag)
                problem = $"sha256 {hash} does not match the expected {meta.Etag}";
        }
        if (problem is null)
            return;
        File.Delete(incomplete);
        throw new HubException(HubErrorKind.Corrupted, $"corrupted download of {target}: {problem}; nothing was cached, try again");
    }

    /// <summary>Runs a public operation so that no error it ends in can carry a secret (see <see cref="Redactor"/>).</summary>
    private async Task<T> Redacting<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NanoVlmException or IOException && _http.Redactor.Leaks(e))
        {
            var message = _http.Redactor.Redact(e.Message);
            throw e is HubException hub ? new HubException(hub.Kind, message) : new NanoVlmException(message);
        }
    }

    private HubCache Cache(HubTarget target) => new(Options.CacheDir, target.RepoId, target.Type);

    private static (string Path, string Commit)? FromCache(HubCache cache, HubTarget target) =>
        cache.ResolveCommit(target.Revision!) is { } commit && cache.Cached(commit, target.Path!) is { } path ? (path, commit) : null;

    private RepoInfo? ListCached(HubTarget target)
    {
        var cache = Cache(target);
        if (cache.ResolveCommit(target.Revision!) is not { } commit || !Directory.Exists(cache.Snapshot(commit)))
            return null;
        var folder = cache.Snapshot(commit);
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        return new RepoInfo(commit, files);
    }

    private HubException NotCached(HubTarget target) => new(HubErrorKind.NotCached,
        $"{target} is not in the cache {Options.CacheDir} and HF_HUB_OFFLINE is set; download it once online first");

    /// <summary>
    /// Reads a JSON answer (already read whole, within the size cap) with <paramref name="parse"/>; an answer of another shape (a number
    /// where a string belongs, a missing key) is a one-line error naming the URL, not an exception from deep in the parser.
    /// </summary>
    private async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, Uri url, Func<JsonElement, T> parse, CancellationToken ct)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: ct).ConfigureAwait(false);
            return parse(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new HubException(HubErrorKind.Server, $"the Hub's answer for {url} is not JSON: {_http.Redactor.Shown(e.Message)}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new HubException(HubErrorKind.Server, $"the Hub's answer for {url} is malformed: {_http.Redactor.Shown(e.Message)}", e);
        }
    }

    /// <summary>Strips the weak marker and the quotes: <c>W/"abc"</c> is the blob name <c>abc</c>.</summary>
    private static string NormalizeEtag(string etag)
    {
        var value = etag.Trim();
        if (value.StartsWith("W/", StringComparison.Ordinal))
            value = value[2..];
        return value.Trim('"');
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()
        : response.Content.Headers.TryGetValues(name, out var content) ? content.FirstOrDefault() : null;

    public void Dispose() => _http.Dispose();
}
