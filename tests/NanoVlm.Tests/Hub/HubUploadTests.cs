using System.Text;
using System.Text.Json.Nodes;
using NanoVlm.Hub;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Hub;

public sealed class HubUploadTests : IDisposable
{
    private readonly HubFixture _f = new();

    [Fact]
    public async Task Push_creates_the_repo_uploads_lfs_and_commits_one_ndjson_commit()
    {
        var checkpoint = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "checkpoint")).FullName;
        var config = "{\"lm_hidden_dim\": 16}"u8.ToArray();
        var weights = HubFixture.RandomBytes(150_000, 7);
        File.WriteAllBytes(Path.Combine(checkpoint, "config.json"), config);
        File.WriteAllBytes(Path.Combine(checkpoint, "model.safetensors"), weights);
        File.WriteAllText(Path.Combine(checkpoint, "optimizer.bin"), "not pushed");
        using var client = _f.Client();

        var url = await client.PushToHubAsync(new CheckpointLayout(checkpoint).Files(), "me/pushed", isPrivate: true);
        Assert.Equal($"{_f.Hub.Endpoint}/me/pushed", url);

        var create = _f.Requests.Single(r => r.Path == "/api/repos/create");
        var body = JsonNode.Parse(create.Body)!;
        Assert.Equal(("pushed", "me", true, "model"), ((string?)body["name"], (string?)body["organization"], (bool?)body["private"], (string?)body["type"]));

        var oid = FakeHub.Sha256(weights);
        var put = _f.Requests.Single(r => r.Method == "PUT");
        Assert.Equal(("cdn", $"/upload/{oid}", 200), (put.Host, put.Path, put.Status));
        Assert.DoesNotContain("authorization", put.Headers.Keys);
        Assert.Equal(weights, put.Body);
        Assert.Equal(200, _f.Requests.Single(r => r.Path.EndsWith("/objects/verify", StringComparison.Ordinal)).Status);

        var lines = _f.Hub.CommitLines.Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["header", "file", "file", "lfsFile"], lines.Select(l => (string?)l["key"]));
        Assert.Equal("Upload nanoVLM using push_to_hub", (string?)lines[0]["value"]!["summary"]);
        var files = lines.Where(l => (string?)l["key"] == "file").ToDictionary(l => (string)l["value"]!["path"]!, l => l["value"]!);
        Assert.Equal(["README.md", "config.json"], files.Keys.Order(StringComparer.Ordinal));
        Assert.All(files.Values, v => Assert.Equal("base64", (string?)v["encoding"]));
        Assert.Equal(config, Convert.FromBase64String((string)files["config.json"]["content"]!));
        var card = Encoding.UTF8.GetString(Convert.FromBase64String((string)files["README.md"]["content"]!));
        Assert.StartsWith("---\n", card);
        foreach (var line in new[] { "library_name: nanovlm", "license: mit", "pipeline_tag: image-text-to-text", "  - vision-language", "  - multimodal", "  - research", "nanovlm generate --model me/pushed" })
            Assert.Contains(line, card);
        var lfs = lines[3]["value"]!;
        Assert.Equal(("model.safetensors", "sha256", oid, (long)weights.Length), ((string?)lfs["path"], (string?)lfs["algo"], (string?)lfs["oid"], (long?)lfs["size"]));

        var folder = PretrainedSources.ResolveModelFolder("me/pushed", client);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(folder, "optimizer.bin")));
    }

    [Fact]
    public async Task Pushing_again_accepts_the_existing_repo_and_skips_objects_the_hub_has()
    {
        var checkpoint = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "checkpoint")).FullName;
        File.WriteAllText(Path.Combine(checkpoint, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(checkpoint, "model.safetensors"), HubFixture.RandomBytes(1000, 8));
        using var client = _f.Client();
        await client.PushToHubAsync(new CheckpointLayout(checkpoint).Files(), "me/again");
        await client.PushToHubAsync(new CheckpointLayout(checkpoint).Files(), "me/again", commitMessage: "second");
        Assert.Equal([200, 409], _f.Requests.Where(r => r.Path == "/api/repos/create").Select(r => r.Status));
        Assert.Single(_f.Requests, r => r.Method == "PUT");
        Assert.Contains("\"summary\":\"second\"", _f.Hub.CommitLines.Last(l => l.Contains("header")));
    }

    [Fact]
    public async Task Push_needs_a_token_and_a_complete_checkpoint()
    {
        var checkpoint = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "checkpoint")).FullName;
        File.WriteAllText(Path.Combine(checkpoint, "config.json"), "{}");
        using var client = _f.Client();
        var missing = Assert.Throws<NanoVlmException>(() => new CheckpointLayout(checkpoint).Files());
        Assert.Contains("missing model.safetensors", missing.Message);

        File.WriteAllText(Path.Combine(checkpoint, "model.safetensors"), "x");
        using var anonymous = _f.Client(token: null);
        var e = await Assert.ThrowsAsync<HubException>(() => anonymous.PushToHubAsync(new CheckpointLayout(checkpoint).Files(), "me/x"));
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Empty(_f.Requests);
    }

    public void Dispose() => _f.Dispose();
}
