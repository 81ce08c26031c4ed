using NanoVlm.Hub;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Hub;

public sealed class HubDownloadTests : IDisposable
{
    private readonly HubFixture _f = new();

    [Fact]
    public async Task First_download_fetches_then_cached_calls_make_no_GET_and_pinned_calls_no_request()
    {
        var repo = _f.AddModel();
        using var client = _f.Client();

        var config = await client.DownloadFileAsync("org/tiny", "config.json");
        var model = await client.DownloadFileAsync("org/tiny", "model.safetensors");
        Assert.Equal(repo.Snapshots[repo.Head]["config.json"], File.ReadAllBytes(config));
        Assert.Equal(repo.Snapshots[repo.Head]["model.safetensors"], File.ReadAllBytes(model));
        Assert.Equal(Path.Combine(_f.CacheDir, "models--org--tiny", "snapshots", repo.Head, "model.safetensors"), model);
        var cdn = _f.Requests.Where(r => r.Host == "cdn").ToArray();
        Assert.Single(cdn);
        Assert.DoesNotContain("authorization", cdn[0].Headers.Keys);
        Assert.All(_f.Requests.Where(r => r.Host == "hub"), r => Assert.Equal($"Bearer {HubFixture.Token}", r.Headers["authorization"]));

        var before = _f.Requests.Length;
        Assert.Equal(model, await client.DownloadFileAsync("org/tiny", "model.safetensors", revision: repo.Head));
        Assert.Equal(before, _f.Requests.Length);

        Assert.Equal(model, await client.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(["HEAD"], _f.Requests[before..].Select(r => r.Method));
    }

    [Fact]
    public async Task Progress_reports_bytes_total_and_completion_per_file()
    {
        _f.AddModel(modelBytes: 120_000);
        var reports = new List<DownloadProgress>();
        using var client = new HubClient(_f.Options(), new SynchronousProgress(reports.Add));
        await client.DownloadFileAsync("org/tiny", "model.safetensors");
        var last = Assert.Single(reports, r => r.Completed);
        Assert.Equal(("model.safetensors", 120_000L, (long?)120_000), (last.FileName, last.BytesDone, last.TotalBytes));
        Assert.True(last.BytesPerSecond > 0);
    }

    private sealed class SynchronousProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }

    [Fact]
    public async Task Offline_mode_serves_the_cache_without_requests_and_names_what_is_missing()
    {
        var repo = _f.AddModel();
        using (var online = _f.Client())
            await online.DownloadFileAsync("org/tiny", "config.json");
        var before = _f.Requests.Length;

        using var offline = _f.Client(offline: true);
        var path = await offline.DownloadFileAsync("org/tiny", "config.json");
        Assert.Equal(repo.Snapshots[repo.Head]["config.json"], File.ReadAllBytes(path));
        var e = await Assert.ThrowsAsync<HubException>(() => offline.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        await Assert.ThrowsAsync<HubException>(() => offline.DownloadFileAsync("org/other", "config.json"));
        Assert.Equal(before, _f.Requests.Length);
    }

    [Fact]
    public async Task A_download_cut_mid_file_resumes_on_the_next_call_with_Range()
    {
        var repo = _f.AddModel(modelBytes: 200_000);
        _f.Hub.DropNextLfsAfter(100_000);
        using var client = _f.Client(attempts: 1);
        var blob = Path.Combine(_f.CacheDir, "models--org--tiny", "blobs", FakeHub.Sha256(repo.Snapshots[repo.Head]["model.safetensors"]));

        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(HubErrorKind.NoNetwork, e.Kind);
        Assert.Equal(100_000, new FileInfo(blob + ".incomplete").Length);
        Assert.False(File.Exists(blob));

        var path = await client.DownloadFileAsync("org/tiny", "model.safetensors");
        Assert.Equal(repo.Snapshots[repo.Head]["model.safetensors"], File.ReadAllBytes(path));
        var resumed = _f.Requests.Last(r => r.Host == "cdn");
        Assert.Equal("bytes=100000-", resumed.Headers["range"]);
        Assert.Equal(206, resumed.Status);
        Assert.False(File.Exists(blob + ".incomplete"));
    }

    [Fact]
    public async Task A_dropped_connection_is_retried_within_the_call_from_where_it_stopped()
    {
        var repo = _f.AddModel(modelBytes: 200_000);
        _f.Hub.DropNextLfsAfter(50_000);
        using var client = _f.Client();
        var path = await client.DownloadFileAsync("org/tiny", "model.safetensors");
        Assert.Equal(repo.Snapshots[repo.Head]["model.safetensors"], File.ReadAllBytes(path));
        Assert.Equal("bytes=50000-", _f.Requests.Last(r => r.Host == "cdn").Headers["range"]);
    }

    [Fact]
    public async Task Bytes_that_do_not_match_the_sha256_etag_are_refused_and_nothing_is_cached()
    {
        _f.AddModel();
        _f.Hub.CorruptLfs = true;
        using var client = _f.Client();
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(HubErrorKind.Corrupted, e.Kind);
        Assert.Contains("sha256", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(_f.CacheDir, "models--org--tiny", "blobs")));
        Assert.False(Directory.Exists(Path.Combine(_f.CacheDir, "models--org--tiny", "snapshots")));
    }

    [Fact]
    public async Task Server_errors_are_retried_with_backoff()
    {
        _f.AddModel();
        _f.Hub.FailNext(2);
        using var client = _f.Client(attempts: 3);
        await client.DownloadFileAsync("org/tiny", "config.json");
        Assert.Equal([503, 503, 200], _f.Requests.Where(r => r.Host == "hub").Select(r => r.Status).Take(3));

        _f.Hub.FailNext(5);
        using var impatient = _f.Client(attempts: 2);
        var e = await Assert.ThrowsAsync<HubException>(() => impatient.DownloadFileAsync("org/tiny", "config.json", revision: "v9"));
        Assert.Equal(HubErrorKind.Server, e.Kind);
        Assert.Contains("503", e.Message);
    }

    [Fact]
    public async Task Without_network_a_cached_branch_is_served_and_an_uncached_file_is_a_clear_error()
    {
        _f.AddModel();
        using (var online = _f.Client())
            await online.DownloadFileAsync("org/tiny", "config.json");
        var dead = _f.Options() with { Endpoint = new Uri("http://127.0.0.1:1") };
        using var client = new HubClient(dead);
        Assert.True(File.Exists(await client.DownloadFileAsync("org/tiny", "config.json")));
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(HubErrorKind.NoNetwork, e.Kind);
        Assert.Contains("127.0.0.1:1", e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
    }

    [Fact]
    public async Task Snapshot_download_takes_the_files_matching_the_patterns()
    {
        var repo = _f.Hub.AddRepo("org/data", new Dictionary<string, byte[]>
        {
            ["README.md"] = "# data"u8.ToArray(),
            ["train/part-0.parquet"] = HubFixture.RandomBytes(5000, 2),
            ["train/part-1.parquet"] = HubFixture.RandomBytes(6000, 3),
        }, RepoType.Dataset);
        using var client = _f.Client();

        var info = await client.ListFilesAsync("org/data", type: RepoType.Dataset);
        Assert.Equal(repo.Head, info.Sha);
        Assert.Equal(["README.md", "train/part-0.parquet", "train/part-1.parquet"], info.Files);

        var folder = await client.DownloadSnapshotAsync("org/data", allowPatterns: ["train/*.parquet"], type: RepoType.Dataset);
        Assert.Equal(Path.Combine(_f.CacheDir, "datasets--org--data", "snapshots", repo.Head), folder);
        Assert.Equal(repo.Snapshots[repo.Head]["train/part-1.parquet"], File.ReadAllBytes(Path.Combine(folder, "train", "part-1.parquet")));
        Assert.False(File.Exists(Path.Combine(folder, "README.md")));

        using var offline = _f.Client(offline: true);
        Assert.Equal(folder, await offline.DownloadSnapshotAsync("org/data", allowPatterns: ["train/"], type: RepoType.Dataset));
        Assert.Equal(["train/part-0.parquet", "train/part-1.parquet"], (await offline.ListFilesAsync("org/data", type: RepoType.Dataset)).Files);
    }

    [Fact]
    public void Model_folders_resolve_from_a_local_path_or_a_repo_id_with_single_or_sharded_weights()
    {
        var repo = _f.AddModel();
        _f.Hub.AddRepo("sharded", new Dictionary<string, byte[]>
        {
            ["config.json"] = "{}"u8.ToArray(),
            ["model.safetensors.index.json"] = """{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}"""u8.ToArray(),
            ["model-00001-of-00002.safetensors"] = HubFixture.RandomBytes(1000, 4),
            ["model-00002-of-00002.safetensors"] = HubFixture.RandomBytes(1000, 5),
            ["unrelated.bin"] = [1, 2, 3],
        });
        using var client = _f.Client();

        var local = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "local")).FullName;
        File.WriteAllText(Path.Combine(local, "config.json"), "{}");
        File.WriteAllText(Path.Combine(local, "model.safetensors"), "x");
        Assert.Equal(local, PretrainedSources.ResolveModelFolder(local, client));
        var folder = PretrainedSources.ResolveModelFolder("org/tiny", client);
        Assert.Equal(repo.Snapshots[repo.Head]["model.safetensors"], File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, "config.json")));

        var sharded = PretrainedSources.ResolveModelFolder("sharded", client);
        Assert.Equal(["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"],
            Directory.GetFiles(sharded).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"],
            new CheckpointLayout(sharded).WeightFiles().Select(Path.GetFileName));

        var e = Assert.Throws<NanoVlmException>(() => PretrainedSources.ResolveModelFolder("no/such/folder", client));
        Assert.Contains("'no/such/folder' is neither an existing folder nor a Hub repo id", e.Message);
        var missing = Assert.Throws<HubException>(() => PretrainedSources.ResolveModelFolder("runs/best", client));
        Assert.Contains("model repo 'runs/best' not found", missing.Message);
    }

    public void Dispose() => _f.Dispose();
}
