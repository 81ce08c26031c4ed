using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

/// <summary>
/// A Hugging Face Hub on 127.0.0.1 that speaks the real protocol: resolve URLs with X-Repo-Commit/ETag/X-Linked-* headers, LFS files redirected to a
/// second "CDN" listener (with Range support), X-Error-Code errors, the revision API, create/preupload/LFS batch/verify/ndjson commit.
/// It records every request and can misbehave on demand (drop a connection, corrupt bytes, answer 503, send hostile names).
/// </summary>
internal sealed class FakeHub : IDisposable
{
    public const string UploadToken = "upload-signature";
    private const string LfsMediaType = "application/vnd.git-lfs+json";

    private readonly TcpListener _hub = new(IPAddress.Loopback, 0);
    private readonly TcpListener _cdn = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, FakeRepo> _repos = new();
    private int _failNext;
    private int _dropNextLfsAfter = -1;

    public FakeHub()
    {
        _hub.Start();
        _cdn.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)_hub.LocalEndpoint).Port}";
        Cdn = $"http://127.0.0.1:{((IPEndPoint)_cdn.LocalEndpoint).Port}";
        _ = ServeAsync(_hub, cdn: false);
        _ = ServeAsync(_cdn, cdn: true);
    }

    public string Endpoint { get; }
    public string Cdn { get; }

    /// <summary>The token that grants access; requests with another one get a 401 whose message echoes it (as a careless server might).</summary>
    public string? ValidToken { get; set; }

    public bool CorruptLfs { get; set; }
    public string? EtagOverride { get; set; }
    public string? LocationOverride { get; set; }
    public List<string> ExtraSiblings { get; } = [];
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();
    public ConcurrentDictionary<string, byte[]> LfsStore { get; } = new();
    public ConcurrentQueue<string> CommitLines { get; } = new();

    /// <summary>Answers a request in place of the protocol when it returns a response (hostile answers); null lets the protocol answer.</summary>
    public Func<FakeRequest, FakeResponse?>? Override { get; set; }

    /// <summary>Writes the raw answer to a request itself when it returns true (a server that trickles, never answers or never ends).</summary>
    public Func<FakeRequest, Stream, CancellationToken, Task<bool>>? Raw { get; set; }

    public void FailNext(int count) => _failNext = count;

    public void DropNextLfsAfter(int bytes) => _dropNextLfsAfter = bytes;

    public FakeRepo AddRepo(string id, Dictionary<string, byte[]> files, RepoType type = RepoType.Model, bool gated = false, bool isPrivate = false)
    {
        var repo = new FakeRepo(id, type) { Gated = gated, Private = isPrivate };
        repo.Commit("main", files);
        foreach (var (path, content) in files)
            if (IsLfs(path))
                LfsStore[Sha256(content)] = content;
        _repos[Key(type, id)] = repo;
        return repo;
    }

    public FakeRepo? Repo(string id, RepoType type = RepoType.Model) => _repos.GetValueOrDefault(Key(type, id));

    public static bool IsLfs(string path) => path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".parquet", StringComparison.Ordinal);

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    private static string Key(RepoType type, string id) => $"{type}:{id}";

    private async Task ServeAsync(TcpListener listener, bool cdn)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(client, cdn));
        }
    }

    private async Task HandleAsync(TcpClient client, bool cdn)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var request = await ReadRequestAsync(stream, cdn ? "cdn" : "hub");
                if (request is null)
                    return;
                if (Raw is { } raw && await raw(request, stream, _stop.Token))
                    return;
                var response = Override?.Invoke(request) ?? (cdn ? HandleCdn(request) : HandleHub(request));
                Requests.Enqueue(request with { Status = response.Status });
                await WriteResponseAsync(stream, request, response);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
            }
        }
    }

    private FakeResponse HandleHub(FakeRequest req)
    {
        if (Interlocked.Decrement(ref _failNext) >= 0)
            return new FakeResponse(503);
        var segments = req.Path.TrimStart('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
        if (segments is ["api", "repos", "create"])
            return CreateRepo(req);
        if (segments.Length >= 5 && segments[0] == "api" && segments[1] is "models" or "datasets")
        {
            var type = segments[1] == "models" ? RepoType.Model : RepoType.Dataset;
            var repoId = string.Join('/', segments[2..^2]);
            return segments[^2] switch
            {
                "revision" => Access(req, type, repoId, repo => RevisionInfo(repo, segments[^1])),
                "preupload" => Access(req, type, repoId, repo => Preupload(req)),
                "commit" => Access(req, type, repoId, repo => Commit(req, repo, segments[^1])),
                _ => new FakeResponse(404),
            };
        }
        var start = segments[0] == "datasets" ? 1 : 0;
        var kind = start == 1 ? RepoType.Dataset : RepoType.Model;
        var gitIndex = Array.FindIndex(segments, s => s.EndsWith(".git", StringComparison.Ordinal));
        if (gitIndex >= start && segments[(gitIndex + 1)..] is ["info", "lfs", "objects", var action])
        {
            var repoId = string.Join('/', segments[start..(gitIndex + 1)])[..^4];
            return action == "batch" ? Access(req, kind, repoId, repo => LfsBatch(req, repo)) : Access(req, kind, repoId, _ => LfsVerify(req));
        }
        var resolve = Array.IndexOf(segments, "resolve", start);
        if (resolve > start && segments.Length > resolve + 2)
            return Access(req, kind, string.Join('/', segments[start..resolve]), repo => Resolve(req, repo, segments[resolve + 1], string.Join('/', segments[(resolve + 2)..])));
        return new FakeResponse(404);
    }

    private FakeResponse Access(FakeRequest req, RepoType type, string repoId, Func<FakeRepo, FakeResponse> handle)
    {
        var auth = req.Headers.GetValueOrDefault("authorization");
        if (auth is not null && auth != $"Bearer {ValidToken}")
            return Error(401, null, $"Invalid credentials in Authorization header: {auth}");
        var repo = Repo(repoId, type);
        if (repo is null || (repo.Private && auth is null))
            return Error(auth is null ? 401 : 404, "RepoNotFound", "Repository not found");
        if (repo.Gated)
            return Error(403, "GatedRepo", $"Access to model {repoId} is restricted and you are not in the authorized list.");
        return handle(repo);
    }

    private FakeResponse Resolve(FakeRequest req, FakeRepo repo, string revision, string path)
    {
        if (repo.Resolve(revision) is not { } commit)
            return Error(404, "RevisionNotFound", $"Invalid rev id: {revision}");
        if (!repo.Snapshots[commit].TryGetValue(path, out var content))
            return Error(404, "EntryNotFound", $"{path} does not exist on \"{revision}\"", ("X-Repo-Commit", commit));
        var headers = new Dictionary<string, string> { ["X-Repo-Commit"] = commit };
        if (!IsLfs(path))
        {
            headers["ETag"] = $"\"{EtagOverride ?? GitSha1(content)}\"";
            return new FakeResponse(200, headers, content);
        }
        var sha = Sha256(content);
        headers["ETag"] = $"W/\"{GitSha1(Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {content.Length}\n"))}\"";
        headers["X-Linked-Etag"] = $"\"{EtagOverride ?? sha}\"";
        headers["X-Linked-Size"] = content.Length.ToString();
        headers["Location"] = LocationOverride ?? $"{Cdn}/repos/{sha}?X-Amz-Signature=abc";
        return new FakeResponse(302, headers, []);
    }

    private FakeResponse HandleCdn(FakeRequest req)
    {
        var segments = req.Path.TrimStart('/').Split('/');
        if (req.Method == "PUT" && segments is ["upload", var oid])
        {
            if (req.Headers.GetValueOrDefault("x-upload-token") != UploadToken || req.Headers.ContainsKey("authorization"))
                return new FakeResponse(403);
            if (Sha256(req.Body) != oid)
                return new FakeResponse(400);
            LfsStore[oid] = req.Body;
            return new FakeResponse(200);
        }
        if (segments is not ["repos", var sha] || !LfsStore.TryGetValue(sha, out var stored))
            return new FakeResponse(404);
        var content = stored.ToArray();
        if (CorruptLfs)
            content[0] ^= 0xFF;
        var drop = Interlocked.Exchange(ref _dropNextLfsAfter, -1);
        if (req.Headers.GetValueOrDefault("range") is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            var from = int.Parse(range[6..^1]);
            var headers = new Dictionary<string, string> { ["Content-Range"] = $"bytes {from}-{content.Length - 1}/{content.Length}" };
            return new FakeResponse(206, headers, content[from..], drop >= 0 ? drop : null);
        }
        return new FakeResponse(200, [], content, drop >= 0 ? drop : null);
    }

    private FakeResponse RevisionInfo(FakeRepo repo, string revision)
    {
        if (repo.Resolve(revision) is not { } commit)
            return Error(404, "RevisionNotFound", $"Invalid rev id: {revision}");
        return JsonResponse(new JsonObject
        {
            ["id"] = repo.Id,
            ["sha"] = commit,
            ["siblings"] = new JsonArray(repo.Snapshots[commit].Keys.Concat(ExtraSiblings).Order(StringComparer.Ordinal)
                .Select(f => (JsonNode)new JsonObject { ["rfilename"] = f }).ToArray()),
        });
    }

    private FakeResponse CreateRepo(FakeRequest req)
    {
        if (req.Headers.GetValueOrDefault("authorization") != $"Bearer {ValidToken}")
            return Error(401, null, "Invalid username or password.");
        var body = JsonNode.Parse(req.Body)!;
        var org = (string?)body["organization"];
        var id = org is null ? (string)body["name"]! : $"{org}/{(string)body["name"]!}";
        var type = (string?)body["type"] == "dataset" ? RepoType.Dataset : RepoType.Model;
        if (Repo(id, type) is not null)
            return Error(409, null, "You already created this model repo");
        var repo = new FakeRepo(id, type) { Private = (bool?)body["private"] == true };
        repo.Commit("main", []);
        _repos[Key(type, id)] = repo;
        return JsonResponse(new JsonObject { ["url"] = $"{Endpoint}/{id}" });
    }

    private static FakeResponse Preupload(FakeRequest req)
    {
        var files = JsonNode.Parse(req.Body)!["files"]!.AsArray();
        return JsonResponse(new JsonObject
        {
            ["files"] = new JsonArray(files.Select(f =>
            {
                var path = (string)f!["path"]!;
                var sample = Convert.FromBase64String((string)f["sample"]!);
                return (JsonNode)new JsonObject { ["path"] = path, ["uploadMode"] = IsLfs(path) || sample.Contains((byte)0) ? "lfs" : "regular", ["shouldIgnore"] = false };
            }).ToArray()),
        });
    }

    private FakeResponse LfsBatch(FakeRequest req, FakeRepo repo)
    {
        if (req.Headers.GetValueOrDefault("accept") != LfsMediaType || req.Headers.GetValueOrDefault("content-type") != LfsMediaType)
            return new FakeResponse(415);
        var body = JsonNode.Parse(req.Body)!;
        if ((string?)body["operation"] != "upload" || (string?)body["hash_algo"] != "sha256")
            return new FakeResponse(422);
        var prefix = repo.Type == RepoType.Dataset ? "datasets/" : "";
        var objects = body["objects"]!.AsArray().Select(o =>
        {
            var oid = (string)o!["oid"]!;
            var size = (long)o["size"]!;
            var result = new JsonObject { ["oid"] = oid, ["size"] = size };
            if (!LfsStore.ContainsKey(oid))
                result["actions"] = new JsonObject
                {
                    ["upload"] = new JsonObject { ["href"] = $"{Cdn}/upload/{oid}", ["header"] = new JsonObject { ["X-Upload-Token"] = UploadToken } },
                    ["verify"] = new JsonObject { ["href"] = $"{Endpoint}/{prefix}{repo.Id}.git/info/lfs/objects/verify", ["header"] = new JsonObject { ["X-Verify"] = "1" } },
                };
            return (JsonNode)result;
        });
        var response = JsonResponse(new JsonObject { ["transfer"] = "basic", ["objects"] = new JsonArray(objects.ToArray()) });
        response.Headers["Content-Type"] = LfsMediaType;
        return response;
    }

    private FakeResponse LfsVerify(FakeRequest req)
    {
        var body = JsonNode.Parse(req.Body)!;
        return LfsStore.TryGetValue((string)body["oid"]!, out var stored) && stored.Length == (long)body["size"]! ? new FakeResponse(200) : new FakeResponse(404);
    }

    private FakeResponse Commit(FakeRequest req, FakeRepo repo, string revision)
    {
        if (req.Headers.GetValueOrDefault("content-type") != "application/x-ndjson" || req.Headers.GetValueOrDefault("authorization") != $"Bearer {ValidToken}")
            return new FakeResponse(400);
        var files = repo.Resolve(revision) is { } parent ? new Dictionary<string, byte[]>(repo.Snapshots[parent]) : [];
        foreach (var line in Encoding.UTF8.GetString(req.Body).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            CommitLines.Enqueue(line);
            var node = JsonNode.Parse(line)!;
            var value = node["value"]!;
            switch ((string)node["key"]!)
            {
                case "file":
                    files[(string)value["path"]!] = Convert.FromBase64String((string)value["content"]!);
                    break;
                case "lfsFile":
                    if (!LfsStore.TryGetValue((string)value["oid"]!, out var blob) || blob.Length != (long)value["size"]!)
                        return Error(400, null, $"LFS object {(string)value["oid"]!} was not uploaded");
                    files[(string)value["path"]!] = blob;
                    break;
            }
        }
        var sha = repo.Commit(revision, files);
        return JsonResponse(new JsonObject { ["success"] = true, ["commitOid"] = sha, ["commitUrl"] = $"{Endpoint}/{repo.Id}/commit/{sha}" });
    }

    public static FakeResponse Error(int status, string? code, string message, params (string, string)[] extra)
    {
        var headers = new Dictionary<string, string> { ["X-Error-Message"] = message };
        if (code is not null)
            headers["X-Error-Code"] = code;
        foreach (var (name, value) in extra)
            headers[name] = value;
        return new FakeResponse(status, headers, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { error = message })));
    }

    public static FakeResponse JsonResponse(JsonNode body) =>
        new(200, new Dictionary<string, string> { ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes(body.ToJsonString()));

    private static async Task<FakeRequest?> ReadRequestAsync(NetworkStream stream, string host)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            if (await stream.ReadAsync(one) == 0)
                return null;
            head.Add(one[0]);
        }
        var lines = Encoding.ASCII.GetString([.. head]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var parts = lines[0].Split(' ');
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var body = new byte[headers.TryGetValue("content-length", out var length) ? int.Parse(length) : 0];
        await stream.ReadExactlyAsync(body);
        var target = parts[1];
        var query = target.IndexOf('?');
        return new FakeRequest(host, parts[0], query < 0 ? target : target[..query], headers, body, 0);
    }

    private static async Task WriteResponseAsync(NetworkStream stream, FakeRequest request, FakeResponse response)
    {
        var head = new StringBuilder($"HTTP/1.1 {response.Status} {(HttpStatusCode)response.Status}\r\n");
        foreach (var (name, value) in response.Headers)
            head.Append($"{name}: {value}\r\n");
        head.Append($"Content-Length: {response.Body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        if (request.Method != "HEAD")
            await stream.WriteAsync(response.Body.AsMemory(0, Math.Min(response.Body.Length, response.DropAfter ?? int.MaxValue)));
        await stream.FlushAsync();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _hub.Stop();
        _cdn.Stop();
        _stop.Dispose();
    }

    public sealed record FakeResponse(int Status, Dictionary<string, string> Headers, byte[] Body, int? DropAfter = null)
    {
        public FakeResponse(int status) : this(status, [], []) { }
    }
}

/// <summary>One request the fake Hub (or its CDN) answered; header names are lower case.</summary>
internal sealed record FakeRequest(string Host, string Method, string Path, Dictionary<string, string> Headers, byte[] Body, int Status);
