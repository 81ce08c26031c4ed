using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

/// <summary>The cache our client writes is, entry by entry, the one <c>huggingface_hub</c> writes, so Python tools and ours share it.</summary>
public sealed class HubCacheLayoutTests : IDisposable
{
    private readonly HubFixture _f = new();

    [Fact]
    public async Task The_cache_has_huggingface_hub_layout_file_by_file()
    {
        var config = "{\"a\": 1}"u8.ToArray();
        var weights = HubFixture.RandomBytes(70_000, 9);
        var nested = "nested"u8.ToArray();
        var repo = _f.Hub.AddRepo("org/layout", new Dictionary<string, byte[]>
        {
            ["config.json"] = config,
            ["model.safetensors"] = weights,
            ["sub/dir/notes.txt"] = nested,
        });
        using var client = _f.Client();
        await client.DownloadSnapshotAsync("org/layout");

        var root = Path.Combine(_f.CacheDir, "models--org--layout");
        var (configEtag, weightsEtag, nestedEtag) = (FakeHub.GitSha1(config), FakeHub.Sha256(weights), FakeHub.GitSha1(nested));
        var snapshot = $"snapshots/{repo.Head}";
        var expected = new[]
        {
            "blobs", $"blobs/{configEtag}", $"blobs/{weightsEtag}", $"blobs/{nestedEtag}",
            "refs", "refs/main",
            "snapshots", snapshot, $"{snapshot}/config.json", $"{snapshot}/model.safetensors",
            $"{snapshot}/sub", $"{snapshot}/sub/dir", $"{snapshot}/sub/dir/notes.txt",
        };
        var actual = Directory.GetFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual);

        Assert.Equal(repo.Head, File.ReadAllText(Path.Combine(root, "refs", "main")));
        Assert.Equal(40, new FileInfo(Path.Combine(root, "refs", "main")).Length);
        Assert.Equal(config, File.ReadAllBytes(Path.Combine(root, "blobs", configEtag)));
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(root, "blobs", weightsEtag)));
        Assert.Null(new FileInfo(Path.Combine(root, "blobs", weightsEtag)).LinkTarget);
        Assert.Equal($"../../blobs/{configEtag}", new FileInfo(Path.Combine(root, snapshot, "config.json")).LinkTarget);
        Assert.Equal($"../../blobs/{weightsEtag}", new FileInfo(Path.Combine(root, snapshot, "model.safetensors")).LinkTarget);
        Assert.Equal($"../../../../blobs/{nestedEtag}", new FileInfo(Path.Combine(root, snapshot, "sub/dir/notes.txt")).LinkTarget);
        Assert.Null(new DirectoryInfo(Path.Combine(root, snapshot, "sub")).LinkTarget);
        Assert.Equal(nested, File.ReadAllBytes(Path.Combine(root, snapshot, "sub/dir/notes.txt")));
    }

    [Fact]
    public async Task A_cache_written_by_python_is_reused_without_downloading()
    {
        var repo = _f.AddModel();
        var content = repo.Snapshots[repo.Head]["config.json"];
        var root = Path.Combine(_f.CacheDir, "models--org--tiny");
        var etag = FakeHub.GitSha1(content);
        Directory.CreateDirectory(Path.Combine(root, "blobs"));
        Directory.CreateDirectory(Path.Combine(root, "snapshots", repo.Head));
        File.WriteAllBytes(Path.Combine(root, "blobs", etag), content);
        File.CreateSymbolicLink(Path.Combine(root, "snapshots", repo.Head, "config.json"), $"../../blobs/{etag}");
        Directory.CreateDirectory(Path.Combine(root, "refs"));
        File.WriteAllText(Path.Combine(root, "refs", "main"), repo.Head);

        using var offline = _f.Client(offline: true);
        Assert.Equal(content, File.ReadAllBytes(await offline.DownloadFileAsync("org/tiny", "config.json")));
        using var online = _f.Client();
        await online.DownloadFileAsync("org/tiny", "config.json");
        Assert.Equal(["HEAD"], _f.Requests.Select(r => r.Method));
    }

    [Fact]
    public void The_environment_chooses_cache_token_endpoint_and_offline_mode_like_huggingface_hub()
    {
        var home = Directory.CreateTempSubdirectory("nanovlm-hf-home-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(home, "token"), "hf_fromFile\n");
            var env = new Dictionary<string, string> { ["HF_HOME"] = home, ["HF_HUB_OFFLINE"] = "1" };
            var options = HubOptions.FromEnvironment(env.GetValueOrDefault);
            Assert.Equal(Path.Combine(home, "hub"), options.CacheDir);
            Assert.Equal("hf_fromFile", options.Token);
            Assert.True(options.Offline);
            Assert.Equal(new Uri("https://huggingface.co"), options.Endpoint);

            env["HF_TOKEN"] = "hf_fromEnv";
            env["HF_HUB_CACHE"] = "/elsewhere";
            env["HF_ENDPOINT"] = "https://mirror.example";
            env["HF_HUB_OFFLINE"] = "0";
            options = HubOptions.FromEnvironment(env.GetValueOrDefault);
            Assert.Equal(("hf_fromEnv", "/elsewhere", false), (options.Token, options.CacheDir, options.Offline));
            Assert.Equal("https://mirror.example/", options.Endpoint.ToString());
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    public void Dispose() => _f.Dispose();
}
