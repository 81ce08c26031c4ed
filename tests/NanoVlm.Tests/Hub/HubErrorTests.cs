using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

public sealed class HubErrorTests : IDisposable
{
    private readonly HubFixture _f = new();

    [Fact]
    public async Task A_missing_repo_without_a_token_says_so_and_suggests_a_token()
    {
        using var client = _f.Client(token: null);
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/nothing", "config.json"));
        Assert.Equal(HubErrorKind.RepoNotFound, e.Kind);
        Assert.Contains("'org/nothing'", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
    }

    [Fact]
    public async Task A_private_repo_without_a_token_is_not_found()
    {
        _f.AddModel(isPrivate: true);
        using var anonymous = _f.Client(token: null);
        var e = await Assert.ThrowsAsync<HubException>(() => anonymous.DownloadFileAsync("org/tiny", "config.json"));
        Assert.Equal(HubErrorKind.RepoNotFound, e.Kind);
        using var authorized = _f.Client();
        Assert.True(File.Exists(await authorized.DownloadFileAsync("org/tiny", "config.json")));
    }

    [Fact]
    public async Task Gated_missing_file_and_bad_revision_name_the_culprit()
    {
        _f.AddModel();
        _f.AddModel("org/gated", gated: true);
        using var client = _f.Client();

        var gated = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/gated", "config.json"));
        Assert.Equal(HubErrorKind.GatedRepo, gated.Kind);
        Assert.Contains("'org/gated' is gated", gated.Message);

        var missing = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "nope.json"));
        Assert.Equal(HubErrorKind.EntryNotFound, missing.Kind);
        Assert.Contains("'nope.json' in model repo 'org/tiny'", missing.Message);

        var revision = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "config.json", revision: "v2"));
        Assert.Equal(HubErrorKind.RevisionNotFound, revision.Kind);
        Assert.Contains("revision 'v2' not found in model repo 'org/tiny'", revision.Message);

        var listing = await Assert.ThrowsAsync<HubException>(() => client.ListFilesAsync("org/tiny", "v2"));
        Assert.Equal(HubErrorKind.RevisionNotFound, listing.Kind);
        Assert.All([gated, missing, revision, listing], ex => Assert.DoesNotContain('\n', ex.Message));
    }

    [Fact]
    public async Task The_token_never_appears_in_errors_even_when_the_server_echoes_it()
    {
        _f.AddModel();
        _f.AddModel("org/gated", gated: true);
        _f.Hub.ValidToken = "hf_theOtherOne";
        using var client = _f.Client();
        var errors = new List<Exception>
        {
            await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "config.json")),
            await Assert.ThrowsAsync<HubException>(() => client.ListFilesAsync("org/tiny")),
            await Assert.ThrowsAsync<HubException>(() => client.CreateRepoAsync("org/new")),
            await Assert.ThrowsAsync<HubException>(() => new HubClient(_f.Options() with { Endpoint = new Uri("http://127.0.0.1:1") }).DownloadFileAsync("org/tiny", "a")),
        };
        Assert.Equal(HubErrorKind.Unauthorized, ((HubException)errors[0]).Kind);
        Assert.Contains("Bearer ***", errors[0].Message);
        Assert.All(errors, e => Assert.DoesNotContain(HubFixture.Token, e.ToString()));
        Assert.DoesNotContain(HubFixture.Token, _f.Options().ToString());
        Assert.Contains("Token = ***", _f.Options().ToString());
    }

    [Fact]
    public async Task A_full_disk_is_a_clear_error()
    {
        var repo = _f.AddModel();
        var blobs = Path.Combine(_f.CacheDir, "models--org--tiny", "blobs");
        Directory.CreateDirectory(blobs);
        File.CreateSymbolicLink(Path.Combine(blobs, FakeHub.Sha256(repo.Snapshots[repo.Head]["model.safetensors"]) + ".incomplete"), "/dev/full");
        using var client = _f.Client();
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "model.safetensors"));
        Assert.Equal(HubErrorKind.DiskFull, e.Kind);
        Assert.Contains("disk full", e.Message);
    }

    public void Dispose() => _f.Dispose();
}
