using System.Text.Json;
using Xunit.Abstractions;

namespace NanoVlm.Tests.Reliability;

/// <summary>2,000 tiny training steps in a child process: resident memory after step 1,800 stays within 5% of steps 200-399 (no native tensor leak).</summary>
[Trait("Category", "Long")]
public sealed class LongRunTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir _dir = new();

    /// <summary>
    /// The trainer's own VmRSS reading after each step (metrics.jsonl's rss_mb): steady-state memory, not the short peaks of the
    /// checkpoint writes between steps (the last one lands after step 2,000).
    /// </summary>
    [Fact]
    public void Two_thousand_steps_keep_rss_within_5_percent_of_steps_200_to_399()
    {
        var run = new TinyTrainingRun(_dir.Path, "long");
        using var p = TinyTrainingRun.Start(TinyTrainingRun.Args(_dir.Path, "long", 2000, 0, 500));
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(30)), "2,000 steps did not finish in 30 minutes");
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(2000, run.LastLoggedStep());

        var samples = File.ReadLines(Path.Combine(run.RunDir, "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(m => m.TryGetProperty("rss_mb", out _) && m.GetProperty("step").GetInt32() >= 200)
            .Select(m => (Step: m.GetProperty("step").GetInt32(), Mb: m.GetProperty("rss_mb").GetDouble()))
            .ToList();
        // Like for like: the highest reading of an early window against the highest of a late one (a single early reading
        // can sit a few percent low, in the allocator's noise, and made this fail once at +5.2% where a rerun gave +0.3%).
        var baseline = samples.Where(s => s.Step < 400).Max(s => s.Mb);
        var late = samples.Where(s => s.Step >= 1800).ToList();
        Assert.NotEmpty(late);
        var (maxStep, max) = samples.MaxBy(s => s.Mb);
        log.WriteLine($"rss at steps 200-399: up to {baseline:F0} MiB; at step {late[^1].Step}: {late[^1].Mb:F0} MiB " +
                      $"({100.0 * (late[^1].Mb - baseline) / baseline:+0.0;-0.0}%); max {max:F0} MiB at step {maxStep}; {samples.Count} steps");
        Assert.True(late.Max(s => s.Mb) <= baseline * 1.05, $"RSS grew from {baseline} MiB (steps 200-399) to {late.Max(s => s.Mb)} MiB after step 1800");
    }

    public void Dispose() => _dir.Dispose();
}
