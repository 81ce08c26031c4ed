using System.Diagnostics;
using NanoVlm.Models;
using NanoVlm.Checkpoints;

namespace NanoVlm.Tests.Reliability;

/// <summary>A deterministic tiny CPU training run of the real CLI (<c>nanovlm train</c>, one torch thread, one loader worker,
/// Fashion-MNIST), started as a child process that tests can watch and kill.</summary>
sealed class TinyTrainingRun(string output, string name)
{
    public string RunDir { get; } = Path.Combine(output, name);
    public string Checkpoints => Path.Combine(RunDir, "checkpoints");

    /// <summary>The run's arguments; <paramref name="threads"/> null leaves the thread count to the default (every core).</summary>
    public static string[] Args(string output, string name, int steps, int checkpointInterval, int evalInterval, int? threads = 1) =>
    [
        "train", "--preset", "tiny", "--data", "fashion-mnist", "--cutoff", "64", "--max-steps", steps.ToString(),
        "--batch-size", "4", "--grad-accum", "1", .. threads is { } n ? new[] { "--threads", n.ToString() } : [], "--workers", "1", "--seed", "3",
        "--checkpoint-interval", checkpointInterval.ToString(), "--eval-interval", evalInterval.ToString(), "--eval-samples", "0",
        "--val-ratio", "0", "--output", output, "--run-name", name,
    ];

    /// <summary>Sends SIGTERM (what <c>timeout</c> and schedulers send) to a process.</summary>
    public static void Terminate(Process p)
    {
        using var kill = Process.Start("kill", ["-TERM", p.Id.ToString()])!;
        kill.WaitForExit();
    }

    /// <summary>Waits until the run has logged <paramref name="step"/> (false when the process ended first or 2 minutes passed).</summary>
    public async Task<bool> ReachesStep(Process p, int step)
    {
        var clock = Stopwatch.StartNew();
        while (!p.HasExited && LastLoggedStep() < step && clock.Elapsed < TimeSpan.FromMinutes(2)) await Task.Delay(50);
        return !p.HasExited && LastLoggedStep() >= step;
    }

    public static Process Start(IEnumerable<string> args)
    {
        var p = Process.Start(CliProcess.StartInfo(args))!;
        p.BeginOutputReadLine(); // drained and dropped: the progress display is not needed, and a full pipe would block the child
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>The last step recorded in metrics.jsonl (0 before the first).</summary>
    public int LastLoggedStep()
    {
        var path = Path.Combine(RunDir, "metrics.jsonl");
        try
        {
            var last = File.ReadLines(path).LastOrDefault(l => l.StartsWith("{\"step\":", StringComparison.Ordinal));
            return last is null ? 0 : int.Parse(last[8..last.IndexOf(',')]);
        }
        catch (IOException) { return 0; }
    }

    /// <summary>The checkpoint folders being written (or left half-written by a kill): <c>.step-N.tmp-PID</c>.</summary>
    public HashSet<string> PartialCheckpoints() =>
        Directory.Exists(Checkpoints) ? Directory.EnumerateDirectories(Checkpoints, ".step-*").ToHashSet() : [];

    /// <summary>Everything a resume needs from the newest checkpoint loads: the model, the optimizer state and the progress.</summary>
    public string AssertLatestCheckpointLoads()
    {
        var latest = NanoVlm.Training.TrainingState.LatestFolder(RunDir) ?? throw new Xunit.Sdk.XunitException($"{RunDir}: no checkpoint");
        using (Checkpoint.Load(latest)) { }
        using (var state = SafetensorsFile.Open(Path.Combine(latest, "training_state.safetensors")))
            foreach (var n in state.Entries.Keys) state.Load(n).Dispose();
        Assert.Contains("\"Step\":", File.ReadAllText(Path.Combine(latest, "progress.json")));
        return latest;
    }

    /// <summary>Two safetensors files hold the same tensors, byte for byte (a resumed run against an uninterrupted one).</summary>
    public static void AssertBitIdentical(string expectedFile, string actualFile)
    {
        using var expected = SafetensorsFile.Open(expectedFile);
        using var actual = SafetensorsFile.Open(actualFile);
        Assert.Equal(expected.Entries.Keys.Order(), actual.Entries.Keys.Order());
        foreach (var name in expected.Entries.Keys)
        {
            using var a = expected.Load(name);
            using var b = actual.Load(name);
            Assert.True(a.bytes.SequenceEqual(b.bytes), $"{Path.GetFileName(actualFile)} {name} differs from the uninterrupted run");
        }
    }
}
