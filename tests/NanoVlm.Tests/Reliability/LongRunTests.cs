using System.Diagnostics;
using Xunit.Abstractions;

namespace NanoVlm.Tests.Reliability;

/// <summary>2,000 tiny training steps in a child process: resident memory after step 200 stays within 5% (no native tensor leak).</summary>
[Trait("Category", "Long")]
public sealed class LongRunTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir _dir = new();

    static long RssKb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0]);
        throw new InvalidOperationException("no VmRSS");
    }

    [Fact]
    public void Two_thousand_steps_keep_rss_within_5_percent_of_step_200()
    {
        var run = new TinyTrainingRun(_dir.Path, "long");
        using var p = TinyTrainingRun.Start(TinyTrainingRun.Args(_dir.Path, "long", 2000, 0, 500));
        var samples = new List<(int Step, long Kb)>();
        var clock = Stopwatch.StartNew();
        while (!p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(30))
        {
            var step = run.LastLoggedStep();
            try { if (step >= 200) samples.Add((step, RssKb(p.Id))); }
            catch (Exception e) when (e is IOException or InvalidOperationException) { } // exited between the check and the read
            Thread.Sleep(250);
        }
        Assert.True(p.HasExited, "2,000 steps did not finish in 30 minutes");
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(2000, run.LastLoggedStep());

        var baseline = samples.First().Kb;
        var late = samples.Where(s => s.Step >= 1800).ToList();
        Assert.NotEmpty(late);
        var (maxStep, max) = samples.MaxBy(s => s.Kb);
        log.WriteLine($"VmRSS at step {samples.First().Step}: {baseline / 1024.0:F1} MiB; at step {late[^1].Step}: {late[^1].Kb / 1024.0:F1} MiB " +
                      $"({100.0 * (late[^1].Kb - baseline) / baseline:+0.0;-0.0}%); max {max / 1024.0:F1} MiB at step {maxStep}; {samples.Count} samples");
        Assert.True(late.Max(s => s.Kb) <= baseline * 1.05, $"RSS grew from {baseline} kB (step 200) to {late.Max(s => s.Kb)} kB after step 1800");
    }

    public void Dispose() => _dir.Dispose();
}
