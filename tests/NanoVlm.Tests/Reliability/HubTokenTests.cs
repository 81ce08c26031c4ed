using System.Text;
using NanoVlm.Hub;
using NanoVlm.Tests.Hub;

namespace NanoVlm.Tests.Reliability;

/// <summary>The Hub token is sent to the Hub and nowhere else: not into the cache, downloaded files, progress reports or errors.</summary>
public sealed class HubTokenTests : IDisposable
{
    readonly HubFixture _f = new();

    sealed class Recorder(List<string> lines) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => lines.Add(value.ToString());
    }

    [Fact]
    public async Task The_token_is_not_written_to_the_cache_or_reported_in_progress_or_errors()
    {
        _f.AddModel();
        var reported = new List<string>();
        using (var client = new HubClient(_f.Options(), new Recorder(reported)))
        {
            await client.DownloadSnapshotAsync("org/tiny");
            var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("org/tiny", "no-such-file.bin"));
            reported.Add(e.ToString());
        }
        Assert.NotEmpty(reported);
        Assert.All(reported, line => Assert.DoesNotContain(HubFixture.Token, line));
        var secret = Encoding.UTF8.GetBytes(HubFixture.Token);
        foreach (var file in Directory.EnumerateFiles(_f.CacheDir, "*", SearchOption.AllDirectories))
            Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(secret) < 0, $"{file} holds the token");
        Assert.Contains(_f.Requests, r => r.Headers.Values.Any(v => v.Contains(HubFixture.Token))); // it was sent to the hub itself
    }

    public void Dispose() => _f.Dispose();
}
