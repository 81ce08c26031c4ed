using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

public sealed class HubSafetyTests : IDisposable
{
    private readonly HubFixture _f = new();

    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("a/../../escape.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a\\..\\b")]
    [InlineData("a//b")]
    [InlineData("./a")]
    public async Task Paths_that_would_leave_the_snapshot_are_refused_before_any_request(string path)
    {
        using var client = _f.Client();
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", path));
        Assert.Equal(HubErrorKind.Unsafe, e.Kind);
        Assert.Empty(_f.Requests);
    }

    [Fact]
    public async Task Hostile_file_names_in_a_listing_are_refused()
    {
        _f.AddModel();
        _f.Hub.ExtraSiblings.Add("../../../outside.txt");
        using var client = _f.Client();
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadSnapshotAsync("org/tiny"));
        Assert.Equal(HubErrorKind.Unsafe, e.Kind);
        Assert.Contains("../../../outside.txt", e.Message);
        Assert.False(File.Exists(Path.Combine(_f.CacheDir, "outside.txt")));
    }

    [Fact]
    public async Task A_hostile_etag_cannot_name_a_blob_outside_the_cache()
    {
        _f.AddModel();
        _f.Hub.EtagOverride = "../../../../evil";
        using var client = _f.Client();
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "config.json"));
        Assert.Equal(HubErrorKind.Unsafe, e.Kind);
        Assert.Empty(Directory.GetFiles(_f.CacheDir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_symlinked_snapshot_folder_is_refused()
    {
        var repo = _f.AddModel();
        var outside = Directory.CreateTempSubdirectory("nanovlm-outside-").FullName;
        try
        {
            var snapshots = Path.Combine(_f.CacheDir, "models--org--tiny", "snapshots");
            Directory.CreateDirectory(snapshots);
            Directory.CreateSymbolicLink(Path.Combine(snapshots, repo.Head), outside);
            using var client = _f.Client();
            var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "config.json"));
            Assert.Equal(HubErrorKind.Unsafe, e.Kind);
            Assert.Empty(Directory.GetFileSystemEntries(outside));
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public async Task A_redirect_to_plain_http_off_loopback_is_refused()
    {
        _f.AddModel();
        _f.Hub.LocationOverride = "http://cdn.example.com/repos/abc";
        using var client = _f.Client();
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(HubErrorKind.Unsafe, e.Kind);
        Assert.Contains("http://cdn.example.com", e.Message);
        Assert.Contains("https", e.Message);
    }

    [Theory]
    [InlineData("http://example.com", false)]
    [InlineData("http://10.0.0.1:8080", false)]
    [InlineData("ftp://example.com", false)]
    [InlineData("https://hf-mirror.example", true)]
    [InlineData("http://localhost:5000", true)]
    [InlineData("http://127.0.0.1:5000", true)]
    [InlineData("http://[::1]:5000", true)]
    public void Https_is_required_unless_the_endpoint_is_loopback(string endpoint, bool allowed)
    {
        if (allowed)
        {
            Assert.Equal(new Uri(endpoint), HubOptions.FromEnvironment(n => n == "HF_ENDPOINT" ? endpoint : null).Endpoint);
            return;
        }
        var e = Assert.Throws<HubException>(() => HubOptions.FromEnvironment(n => n == "HF_ENDPOINT" ? endpoint : null));
        Assert.Contains(endpoint, e.Message);
        Assert.Throws<HubException>(() => new HubClient(_f.Options() with { Endpoint = new Uri(endpoint) }));
    }

    [Theory]
    [InlineData("org/name", true)]
    [InlineData("gpt2", true)]
    [InlineData("lusxvr/nanoVLM-222M", true)]
    [InlineData("a/b/c", false)]
    [InlineData("../x", false)]
    [InlineData("org--x/name", false)]
    [InlineData("-org/name", false)]
    [InlineData("", false)]
    public async Task Repo_ids_are_validated(string id, bool valid)
    {
        using var client = _f.Client(offline: true);
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync(id, "config.json"));
        Assert.Equal(valid ? HubErrorKind.NotCached : HubErrorKind.InvalidArgument, e.Kind);
    }

    public void Dispose() => _f.Dispose();
}
