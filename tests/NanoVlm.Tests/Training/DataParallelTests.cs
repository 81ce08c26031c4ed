using System.Text.Json;
using NanoVlm.Checkpoints;
using NanoVlm.Data;
using NanoVlm.Tests.Cli;
using NanoVlm.Training;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Training;

/// <summary>
/// Data-parallel training through Open MPI (<c>mpirun -np 2</c>, two processes on this machine): two processes of batch 2 compute what
/// one process of batch 4 does (losses, gradient norms, weights, up to the order of float additions), and rank 0 alone writes.
/// </summary>
public sealed class DataParallelTests : IDisposable
{
    const int Steps = 6;
    readonly TempDir dir = new();

    string[] Train(string data, string name, int batch, int accumulation) =>
    [
        "train", "--preset", "tiny", "--tokenizer", "wordlevel", "--data", $"jsonl:{data}", "--output", dir.Path, "--run-name", name,
        "--max-steps", $"{Steps}", "--batch-size", $"{batch}", "--grad-accum", $"{accumulation}", "--threads", "1", "--workers", "1",
        "--eval-samples", "0", "--val-ratio", "0", "--packing", "false", "--eval-interval", "100", "--seed", "1",
    ];

    List<JsonElement> StepLines(string name) => File.ReadLines(Path.Combine(dir[name], "metrics.jsonl"))
        .Select(l => JsonDocument.Parse(l).RootElement).Where(r => r.TryGetProperty("train_loss", out _)).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TwoProcessesOfBatchTwoComputeWhatOneOfBatchFourDoes(int accumulation)
    {
        var data = TestJsonl.Write(dir["data"], 48);
        var (code, output, err) = CliProcess.Run(Train(data, "one", 4, accumulation));
        Assert.True(code == 0, err + output);
        var (mpiCode, mpiOut, mpiErr) = Processes.Run("mpirun",
            ["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "HF_HUB_OFFLINE=1", "dotnet", CliProcess.Dll, .. Train(data, "two", 2, accumulation)],
            timeout: TimeSpan.FromMinutes(3));
        Assert.True(mpiCode == 0, mpiErr + mpiOut);
        Assert.Contains($"optimizer steps of 2 x 2 processes x {accumulation}", mpiOut.ReplaceLineEndings(" "));

        var (one, two) = (StepLines("one"), StepLines("two"));
        Assert.Equal(Steps, one.Count);
        Assert.Equal(Steps, two.Count);   // rank 0 alone writes the log
        for (var s = 0; s < Steps; s++)
            foreach (var key in new[] { "train_loss", "grad_norm" })
            {
                var (a, b) = (one[s].GetProperty(key).GetDouble(), two[s].GetProperty(key).GetDouble());
                Assert.True(Math.Abs(a - b) <= 1e-5 * Math.Abs(a), $"step {s + 1} {key}: one process {a}, two {b}");
            }
        Assert.Equal(4L * accumulation, two[0].GetProperty("global_batch").GetInt64());

        var final = $"step-{Steps:D7}";
        using var a1 = SafetensorsFile.Open(Path.Combine(dir["one"], "checkpoints", final, "model.safetensors"));
        using var b1 = SafetensorsFile.Open(Path.Combine(dir["two"], "checkpoints", final, "model.safetensors"));
        foreach (var name in a1.Entries.Keys)
        {
            using var x = a1.Load(name);
            using var y = b1.Load(name);
            Assert.True(x.allclose(y, rtol: 1e-4, atol: 1e-6), $"{name} differs by {(x - y).abs().max().item<float>()}");
        }
    }

    /// <summary>A rank killed mid-run ends the job (not a hang), and the run's latest checkpoint is still a complete one.</summary>
    [Fact]
    public void KillingOneRankEndsTheJobAndLeavesTheLastCheckpoint()
    {
        var data = TestJsonl.Write(dir["data"], 48);
        var args = Train(data, "killed", 2, 1).Select(a => a == $"{Steps}" ? "400" : a).Concat(["--checkpoint-interval", "5"]).ToArray();
        var start = new System.Diagnostics.ProcessStartInfo("mpirun") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "HF_HUB_OFFLINE=1", "dotnet", CliProcess.Dll }.Concat(args))
            start.ArgumentList.Add(a);
        using var job = System.Diagnostics.Process.Start(start)!;
        job.BeginOutputReadLine();
        job.BeginErrorReadLine();
        var run = new NanoVlm.Tests.Reliability.TinyTrainingRun(dir.Path, "killed");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (run.LastLoggedStep() < 12 && !job.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(50);
        Assert.False(job.HasExited, "the job ended before the kill");
        // The ranks are mpirun's children (on one machine it starts them itself); kill the last one started.
        var rank = Processes.Succeed("pgrep", ["-n", "-P", $"{job.Id}", "dotnet"]).Trim();
        Processes.Succeed("kill", ["-KILL", rank]);
        Assert.True(job.WaitForExit(TimeSpan.FromSeconds(60)), "the job did not end within 60 s of losing a rank");
        Assert.NotEqual(0, job.ExitCode);
        run.AssertLatestCheckpointLoads();
    }

    [Fact]
    public void OverAnEpochTheRanksSamplesAreDisjointAndTogetherTheGlobalOrder()
    {
        var samples = Enumerable.Range(0, 26).Select(i => new VqaSample([], [new VqaTurn($"q{i}", "a")], $"s{i}")).ToList();
        var ranks = Enumerable.Range(0, 3).Select(r => TrainingRun.RankSlice(samples, 2, 3, r).Select(s => s.Source).ToList()).ToList();
        Assert.All(ranks, r => Assert.Equal(8, r.Count));   // 26 samples: four whole global batches of 6, the last 2 dropped
        Assert.Empty(ranks[0].Intersect(ranks[1]).Concat(ranks[1].Intersect(ranks[2])).Concat(ranks[0].Intersect(ranks[2])));
        // Global micro-batch k is rank 0's k-th batch, then rank 1's, then rank 2's: the order one process of batch 6 reads.
        var interleaved = Enumerable.Range(0, 4).SelectMany(k => ranks.SelectMany(r => r.Skip(2 * k).Take(2)));
        Assert.Equal(samples.Take(24).Select(s => s.Source), interleaved);
    }

    public void Dispose() => dir.Dispose();
}
