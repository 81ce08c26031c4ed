using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using NanoVlm.Hub;
using NanoVlm.Tests.Hub;
using NanoVlm.Checkpoints;

namespace NanoVlm.Tests.Reliability;

/// <summary>
/// A hostile or broken Hub: answers that echo the token, answers of the wrong shape, servers that trickle, never answer or never
/// stop. Each ends in a one-line <see cref="HubException"/> that holds no secret, within a few timeouts.
/// </summary>
public sealed class HubHostileTests : IDisposable
{
    const string Sha = "0123456789abcdef0123456789abcdef01234567";
    readonly HubFixture _f = new();

    static async Task<HubException> Refused(Func<Task> run, string? problem = null)
    {
        var e = await Assert.ThrowsAsync<HubException>(run);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain(HubFixture.Token, e.ToString());
        if (problem is not null) Assert.Contains(problem, e.Message);
        return e;
    }

    string Checkpoint()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "checkpoint")).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), HubFixture.RandomBytes(2000, 3));
        return folder;
    }

    static FakeHub.FakeResponse Json(int status, string json) => new(status, new() { ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes(json));

    void Answer(string pathEnd, FakeHub.FakeResponse response) =>
        _f.Hub.Override = r => r.Path.EndsWith(pathEnd, StringComparison.Ordinal) || r.Path.Contains(pathEnd, StringComparison.Ordinal) ? response : null;

    /// <summary>The LFS batch answer's single object for the checkpoint's weights, with <paramref name="fields"/> added.</summary>
    void LfsObject(string checkpoint, JsonObject fields)
    {
        var oid = FakeHub.Sha256(File.ReadAllBytes(Path.Combine(checkpoint, "model.safetensors")));
        var obj = new JsonObject { ["oid"] = oid, ["size"] = 2000 };
        foreach (var (k, v) in fields) obj[k] = v?.DeepClone();
        Answer("/objects/batch", Json(200, new JsonObject { ["objects"] = new JsonArray(obj) }.ToJsonString()));
    }

    public static TheoryData<string> Echoes() => ["403 message", "object error", "href", "header"];

    [Theory]
    [MemberData(nameof(Echoes))]
    public async Task Lfs_batch_answers_that_echo_the_token_never_show_it(string echo)
    {
        var checkpoint = Checkpoint();
        var bearer = $"denied for Bearer {HubFixture.Token}";
        switch (echo)
        {
            case "403 message": Answer("/objects/batch", Json(403, new JsonObject { ["message"] = bearer }.ToJsonString())); break;
            case "object error": LfsObject(checkpoint, new() { ["error"] = new JsonObject { ["code"] = 403, ["message"] = bearer } }); break;
            case "href": LfsObject(checkpoint, new() { ["actions"] = new JsonObject { ["upload"] = new JsonObject { ["href"] = bearer } } }); break;
            case "header":
                LfsObject(checkpoint, new()
                {
                    ["actions"] = new JsonObject { ["upload"] = new JsonObject { ["href"] = $"{_f.Hub.Cdn}/x", ["header"] = new JsonObject { ["X-Echo\n"] = bearer } } },
                });
                break;
        }
        using var client = _f.Client();
        var e = await Refused(() => client.PushToHubAsync(Directory.GetFiles(checkpoint), "me/echo"));
        Assert.Contains(Redactor.Mask, e.Message);
    }

    [Fact]
    public async Task A_commit_url_and_a_file_name_echoing_the_token_are_redacted_or_refused()
    {
        _f.AddModel();
        Answer("/commit/", Json(200, new JsonObject { ["commitUrl"] = $"{_f.Hub.Endpoint}/me/x?t={HubFixture.Token}" }.ToJsonString()));
        using var client = _f.Client();
        var staging = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "upload")).FullName;
        File.WriteAllText(Path.Combine(staging, "a.txt"), "a");
        await client.CreateRepoAsync("me/x");
        Assert.DoesNotContain(HubFixture.Token, await client.UploadFolderAsync("me/x", staging, "m"));

        _f.Hub.Override = null;
        _f.Hub.ExtraSiblings.Add(HubFixture.Token);
        await Refused(() => client.DownloadSnapshotAsync("org/tiny"), "holds a secret");
    }

    [Fact]
    public async Task Credentials_in_the_endpoint_are_never_shown()
    {
        const string secret = "user:s3cret";
        Assert.DoesNotContain("s3cret", Assert.Throws<HubException>(() => HubOptions.ParseEndpoint($"ftp://{secret}@example.com")).Message);
        Assert.DoesNotContain("s3cret", Assert.Throws<HubException>(() => HubOptions.ParseEndpoint($"http://{secret}@example.com")).Message);
        var options = _f.Options() with { Endpoint = new Uri($"http://{secret}@127.0.0.1:1"), Retry = new RetryPolicy(1, TimeSpan.Zero, TimeSpan.Zero) };
        using var client = new HubClient(options);
        var e = await Refused(() => client.DownloadFileAsync("org/tiny", "config.json"));
        Assert.DoesNotContain("s3cret", e.ToString());
        Assert.DoesNotContain("s3cret", client.RepoUrl("org/tiny", RepoType.Model));
        Assert.DoesNotContain("s3cret", options.ToString());
    }

    [Theory]
    [InlineData("hf_abc\nhf_def")]
    [InlineData("hf_abc def")]
    [InlineData("hf_\u0001abc")]
    public void A_token_of_several_lines_or_words_is_refused_without_showing_it(string token)
    {
        var e = Assert.Throws<HubException>(() => HubOptions.FromEnvironment(v => v == "HF_TOKEN" ? token : null));
        Assert.StartsWith("HF_TOKEN: ", e.Message);
        Assert.DoesNotContain("abc", e.Message);

        using var home = new TempDir();
        File.WriteAllText(home["token"], token + "\n");
        var fromFile = Assert.Throws<HubException>(() => HubOptions.FromEnvironment(v => v == "HF_HOME" ? home.Path : null));
        Assert.StartsWith(home["token"], fromFile.Message);
        Assert.DoesNotContain("abc", fromFile.Message);
    }

    public static TheoryData<string, string> MalformedAnswers() => new()
    {
        { "/revision/", $"{{\"sha\": \"{Sha}\", \"siblings\": [{{\"rfilename\": 5}}]}}" },
        { "/revision/", $"{{\"sha\": \"{Sha}\", \"siblings\": 5}}" },
        { "/preupload/", "{}" },
        { "/preupload/", "{\"files\": [{\"path\": \"config.json\", \"uploadMode\": \"teleport\"}, {\"path\": \"README.md\", \"uploadMode\": \"regular\"}, {\"path\": \"model.safetensors\", \"uploadMode\": \"lfs\"}]}" },
        { "/preupload/", "{\"files\": [{\"path\": \"config.json\", \"uploadMode\": \"regular\"}]}" },
        { "/commit/", "5" },
        { "/commit/", "{\"commitUrl\": 5}" },
        { "/objects/batch", "{\"objects\": {}}" },
        { "/objects/batch", "HEADER:5" },
        { "/revision/", "<html>" },
    };

    [Theory]
    [MemberData(nameof(MalformedAnswers))]
    public async Task Malformed_answers_are_one_line_errors(string path, string body)
    {
        _f.AddModel();
        var checkpoint = Checkpoint();
        if (body == "HEADER:5")
            LfsObject(checkpoint, new() { ["actions"] = new JsonObject { ["upload"] = new JsonObject { ["href"] = $"{_f.Hub.Cdn}/x", ["header"] = new JsonObject { ["X-A"] = 5 } } } });
        else
            Answer(path, Json(200, body));
        using var client = _f.Client();
        var e = await Refused(() => path == "/revision/" ? client.ListFilesAsync("org/tiny") : client.PushToHubAsync(Directory.GetFiles(checkpoint), "me/m"));
        Assert.Equal(HubErrorKind.Server, e.Kind);
    }

    /// <summary>A client whose requests time out after 1 s and whose answers are capped at 1 MiB.</summary>
    HubClient Impatient() => new(_f.Options() with { Timeout = TimeSpan.FromSeconds(1), MaxAnswerBytes = 1 << 20 });

    static async Task Trickle(Stream stream, string head, CancellationToken ct)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), ct);
        while (true)
        {
            await stream.WriteAsync("x"u8.ToArray(), ct);
            await stream.FlushAsync(ct);
            await Task.Delay(200, ct);
        }
    }

    public static TheoryData<string> Stalls() => ["silent", "trickled headers", "trickled answer", "trickled download", "endless answer"];

    [Theory]
    [MemberData(nameof(Stalls))]
    public async Task Slow_silent_and_endless_servers_are_dropped_within_the_timeout(string stall)
    {
        _f.AddModel();
        _f.Hub.Raw = async (request, stream, ct) =>
        {
            switch (stall)
            {
                case "silent":
                    await Task.Delay(Timeout.Infinite, ct);
                    return true;
                case "trickled headers":
                    await Trickle(stream, "HTTP/1.1 200 OK\r\nX-Slow: ", ct);
                    return true;
                case "trickled answer" when request.Host == "hub" && request.Method == "GET":
                    await Trickle(stream, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", ct);
                    return true;
                case "trickled download" when request.Host == "cdn":
                    await Trickle(stream, "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n", ct);
                    return true;
                case "endless answer" when request.Host == "hub" && request.Method == "GET":
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray(), ct);
                    var chunk = Encoding.ASCII.GetBytes($"10000\r\n[{new string(' ', 0x10000 - 1)}\r\n");
                    while (true) await stream.WriteAsync(chunk, ct);
                default:
                    return false;
            }
        };
        using var client = Impatient();
        var clock = Stopwatch.StartNew();
        var e = await Refused(() => stall is "trickled download" ? client.DownloadFileAsync("org/tiny", "model.safetensors") : client.ListFilesAsync("org/tiny"),
            stall == "endless answer" ? "over the limit of 1,048,576 bytes" : "within 1 s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"{stall}: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.NotNull(e);
    }

    public void Dispose() => _f.Dispose();
}
