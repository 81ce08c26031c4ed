using System.Diagnostics;

namespace NanoVlm.Tests.Reliability;

/// <summary>
/// SIGTERM (what <c>timeout</c>, <c>docker stop</c> and schedulers send) stops a training run like Ctrl+C: after the current step,
/// with a resumable checkpoint. Sent to <c>./run nanovlm</c>, it reaches the app, because the script execs it.
/// </summary>
public sealed class SigtermTests : IDisposable
{
    readonly TempDir _dir = new();

    /// <summary>A copy of <c>./run</c> in a folder laid out like the repository, whose build output is the tests' copy of the CLI
    /// (already built, so the script goes straight to running it).</summary>
    string RunScript()
    {
        var root = Directory.CreateDirectory(_dir["repo"]).FullName;
        File.Copy(Path.Combine(GoldenCases.RepoRoot, "run"), Path.Combine(root, "run"));
        Directory.CreateDirectory(Path.Combine(root, "tests"));
        File.WriteAllText(Path.Combine(root, "Directory.Build.props"), "");
        File.WriteAllText(Path.Combine(root, "NanoVlm.sln"), "");
        var release = Directory.CreateDirectory(Path.Combine(root, "src", "NanoVlm.Cli", "bin", "Release")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(release, "net10.0"), AppContext.BaseDirectory);
        File.WriteAllText(Path.Combine(release, ".built"), "");
        return Path.Combine(root, "run");
    }

    [Fact]
    public async Task Sigterm_to_run_nanovlm_train_saves_a_resumable_checkpoint()
    {
        var run = new TinyTrainingRun(_dir.Path, "term");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(RunScript());
        start.ArgumentList.Add("nanovlm");
        foreach (var arg in TinyTrainingRun.Args(_dir.Path, "term", 100_000, 0, 100_000)) start.ArgumentList.Add(arg);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.BeginOutputReadLine();
        try
        {
            if (!await run.ReachesStep(p, 3)) Assert.Fail($"the run ended early: {await stderr}");
            // To the script's pid: without exec it would be bash's, which would die (143) and leave the app training.
            TinyTrainingRun.Terminate(p);
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)), "the run ignored SIGTERM");
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        Assert.Equal(130, p.ExitCode);
        Assert.Contains("stopping after the current step (SIGTERM", await stderr);
        var latest = run.AssertLatestCheckpointLoads();
        Assert.True(int.Parse(Path.GetFileName(latest)["step-".Length..]) >= 3, latest);
    }

    public void Dispose() => _dir.Dispose();
}
