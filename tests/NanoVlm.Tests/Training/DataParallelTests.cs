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

    string[] Mpirun(int processes, params string[] options) =>
        ["--allow-run-as-root", "--oversubscribe", "-np", $"{processes}", "-x", "HF_HUB_OFFLINE=1", .. options, "dotnet", CliProcess.Dll];

    static void AssertSameTensors(string fileA, string fileB, double rtol)
    {
        using var a = SafetensorsFile.Open(fileA);
        using var b = SafetensorsFile.Open(fileB);
        Assert.Equal(a.Entries.Keys.Order(), b.Entries.Keys.Order());
        foreach (var name in a.Entries.Keys.Where(n => n != "rng"))
        {
            using var x = a.Load(name);
            using var y = b.Load(name);
            Assert.True(x.allclose(y, rtol: rtol, atol: 1e-6), $"{name} differs by {(x - y).abs().max().item<float>()}");
        }
    }

    [Theory]
    [InlineData(1, false, false)]
    [InlineData(2, false, false)]
    [InlineData(2, true, false)]
    [InlineData(1, false, true)]
    public void TwoProcessesOfBatchTwoComputeWhatOneOfBatchFourDoes(int accumulation, bool shardOptimizer, bool packed)
    {
        // Packed, 480 short samples fill far more rows than six steps take, so no epoch ends on a partial global batch.
        var data = TestJsonl.Write(dir["data"], packed ? 480 : 48);
        string[] Args(string name, int batch) => [.. Train(data, name, batch, accumulation).Select(a => packed && a == "false" ? "true" : a)];
        var (code, output, err) = CliProcess.Run(Args("one", 4));
        Assert.True(code == 0, err + output);
        var (mpiCode, mpiOut, mpiErr) = Processes.Mpirun(
            [.. Mpirun(2), .. Args("two", 2), .. shardOptimizer ? new[] { "--shard-optimizer" } : []],
            timeout: TimeSpan.FromMinutes(3));
        Assert.True(mpiCode == 0, mpiErr + mpiOut);
        Assert.Contains($"optimizer steps of 2{(packed ? " packed rows" : "")} x 2 processes x {accumulation}", mpiOut.ReplaceLineEndings(" "));

        var (one, two) = (StepLines("one"), StepLines("two"));
        Assert.Equal(Steps, one.Count);
        Assert.Equal(Steps, two.Count);   // rank 0 alone writes the log
        for (var s = 0; s < Steps; s++)
            foreach (var key in new[] { "train_loss", "grad_norm" })
            {
                var (a, b) = (one[s].GetProperty(key).GetDouble(), two[s].GetProperty(key).GetDouble());
                // A sharded run sums its blocks' squares in fp64; libtorch's fp32 norm of a whole buffer (PyTorch's, which one
                // process computes) is itself about 2e-5 off the exact norm here.
                var tolerance = shardOptimizer && key == "grad_norm" ? 5e-5 : 1e-5;
                Assert.True(Math.Abs(a - b) <= tolerance * Math.Abs(a), $"step {s + 1} {key}: one process {a}, two {b}");
            }
        Assert.Equal(4L * accumulation, two[0].GetProperty("global_batch").GetInt64());

        var final = $"step-{Steps:D7}";
        AssertSameTensors(Path.Combine(dir["one"], "checkpoints", final, "model.safetensors"), Path.Combine(dir["two"], "checkpoints", final, "model.safetensors"), 1e-4);
        // A sharded optimizer's checkpoint holds the whole AdamW state, gathered from both processes.
        AssertSameTensors(Path.Combine(dir["one"], "checkpoints", final, "training_state.safetensors"),
            Path.Combine(dir["two"], "checkpoints", final, "training_state.safetensors"), 1e-3);
    }

    /// <summary>
    /// A job of two processes (sharded optimizer) killed with SIGKILL resumes in one process - batch 4 instead of 2 x 2, the same
    /// global micro-batch - and ends with the weights of an uninterrupted one-process run.
    /// </summary>
    [Fact]
    public void AJobKilledWithTwoProcessesResumesInOneToTheSameWeights()
    {
        const int steps = 30;
        var data = TestJsonl.Write(dir["data"], 48);
        string[] Long(string name, int batch) => [.. Train(data, name, batch, 1).Select(a => a == $"{Steps}" ? $"{steps}" : a), "--checkpoint-interval", "1"];
        var (code, output, err) = CliProcess.Run(Long("reference", 4));
        Assert.True(code == 0, err + output);

        using (var job = new MpiJob([.. Mpirun(2), .. Long("moved", 2), "--shard-optimizer"]))
        {
            job.WaitForStep(new NanoVlm.Tests.Reliability.TinyTrainingRun(dir.Path, "moved"), 8, "the kill");
            Processes.Run("pkill", ["-KILL", "-P", $"{job.Process.Id}"]);
            job.Process.Kill();
            job.Process.WaitForExit();
        }
        var latest = File.ReadAllText(Path.Combine(dir["moved"], "checkpoints", "latest")).Trim();
        Assert.True(int.Parse(latest["step-".Length..]) < steps, $"the job got to {latest} before the kill");

        (code, output, err) = CliProcess.Run("train", "--resume", dir["moved"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("resuming a run of 2 process(es) with 1: batch 4 per process keeps its global micro-batch of 4", System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " "));
        var final = $"step-{steps:D7}";
        AssertSameTensors(Path.Combine(dir["reference"], "checkpoints", final, "model.safetensors"), Path.Combine(dir["moved"], "checkpoints", final, "model.safetensors"), 1e-4);
    }

    /// <summary>A rank killed mid-run ends the job (not a hang), and the run's latest checkpoint is still a complete one.</summary>
    [Fact]
    public void KillingOneRankEndsTheJobAndLeavesTheLastCheckpoint()
    {
        var data = TestJsonl.Write(dir["data"], 48);
        var args = Train(data, "killed", 2, 1).Select(a => a == $"{Steps}" ? "400" : a).Concat(["--checkpoint-interval", "5"]).ToArray();
        using var job = new MpiJob([.. Mpirun(2), .. args]);
        var run = new NanoVlm.Tests.Reliability.TinyTrainingRun(dir.Path, "killed");
        job.WaitForStep(run, 12, "the kill");
        Processes.Succeed("kill", ["-KILL", job.LastRank()]);
        Assert.True(job.Process.WaitForExit(TimeSpan.FromSeconds(60)), "the job did not end within 60 s of losing a rank");
        Assert.NotEqual(0, job.Process.ExitCode);
        run.AssertLatestCheckpointLoads();
    }

    /// <summary>
    /// SIGTERM, as a scheduler sends it to every process of a job (SLURM does, through srun): they stop at the same step, rank 0
    /// saves it, every process exits 0 (so mpirun does). SIGTERM to mpirun itself: it passes the signal on, the same checkpoint is
    /// written, and mpirun ends the job (its own status is then 1, as Open MPI's mpirun reports a job it was told to stop).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SigtermStopsEveryProcessAtOneSavedStep(bool toEveryProcess)
    {
        var data = TestJsonl.Write(dir["data"], 48);
        // mpirun sends SIGKILL 1 s after the SIGTERM it passes on (and waits that long in any case); a loaded machine may need
        // longer to finish the step and save.
        string[] grace = toEveryProcess ? [] : ["--mca", "odls_base_sigkill_timeout", "8"];
        using var job = new MpiJob([.. Mpirun(2, grace), .. Train(data, "stopped", 2, 1).Select(a => a == $"{Steps}" ? "2000" : a)]);
        var run = new NanoVlm.Tests.Reliability.TinyTrainingRun(dir.Path, "stopped");
        job.WaitForStep(run, 5, "SIGTERM");
        if (toEveryProcess) Processes.Run("pkill", ["-TERM", "-P", $"{job.Process.Id}", "dotnet"]);
        else NanoVlm.Tests.Reliability.TinyTrainingRun.Terminate(job.Process);
        Assert.True(job.Process.WaitForExit(TimeSpan.FromSeconds(60)), "the job did not stop within 60 s of SIGTERM");
        job.Process.WaitForExit();
        if (toEveryProcess) Assert.True(job.Process.ExitCode == 0, job.Output);
        var latest = File.ReadAllText(Path.Combine(dir["stopped"], "checkpoints", "latest")).Trim();
        Assert.Equal(run.LastLoggedStep(), int.Parse(latest["step-".Length..]));
        run.AssertLatestCheckpointLoads();
        Assert.Contains("interrupted, resumable", job.Output);
    }

    /// <summary>
    /// A process that hangs (SIGSTOP) is noticed by the others within NANOVLM_MPI_TIMEOUT (5 s here; 45 s by default): they say so
    /// in one line and exit 1, the launcher ends the job, and the latest checkpoint is still a complete one.
    /// </summary>
    [Fact]
    public void AHangingRankEndsTheJobWithOneLine()
    {
        var data = TestJsonl.Write(dir["data"], 48);
        using var job = new MpiJob([.. Mpirun(2, "-x", "NANOVLM_MPI_TIMEOUT=5"), .. Train(data, "hung", 2, 1).Select(a => a == $"{Steps}" ? "2000" : a),
            "--checkpoint-interval", "5"]);
        var run = new NanoVlm.Tests.Reliability.TinyTrainingRun(dir.Path, "hung");
        job.WaitForStep(run, 12, "the hang");
        var rank = job.LastRank();
        Processes.Succeed("kill", ["-STOP", rank]);
        try
        {
            Assert.True(job.Process.WaitForExit(TimeSpan.FromSeconds(60)), "the job did not end within 60 s of a process hanging");
            job.Process.WaitForExit();
            Assert.NotEqual(0, job.Process.ExitCode);
            Assert.Contains("the other processes have not answered MPI_Allreduce for 5 s: one of them has died or hangs; ending the job", job.Output);
            run.AssertLatestCheckpointLoads();
        }
        finally
        {
            Processes.Run("kill", ["-KILL", rank]);
        }
    }

    /// <summary>The backend follows the device: NCCL for GPU memory, MPI for CPU memory; a mismatch or a missing NCCL is one line.</summary>
    [Fact]
    public void TheBackendIsChosenByTheDeviceAndReported()
    {
        var data = TestJsonl.Write(dir["data"], 8);
        var (code, output, err) = CliProcess.Run([.. Train(data, "nccl", 2, 1), "--distributed", "nccl", "--device", "cpu"]);
        Assert.Equal(1, code);
        Assert.Equal("error: --distributed nccl combines gradients in GPU memory, but the model is on the CPU: use mpi (or auto), or a GPU device", err.Trim());

        (code, output, err) = CliProcess.Run(new Dictionary<string, string> { ["NANOVLM_NCCL"] = dir["nowhere"] }, "info", "--device");
        Assert.True(code == 0, err);
        Assert.Matches(@"mpi: Open MPI v\d", output);
        Assert.Contains($"nccl: not available (NANOVLM_NCCL={dir["nowhere"]}: no libnccl.so.2 there)", output);

        (code, output, err) = Processes.Mpirun([.. Mpirun(2), "info", "--device"], timeout: TimeSpan.FromMinutes(1));
        Assert.True(code == 0, err + output);
        Assert.Contains("rank 1 of 2, local rank 1", output);
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

    /// <summary>
    /// An mpirun job started in the background, its output (stdout and stderr) kept. It runs in a session of its own (setsid execs
    /// mpirun in the same process), so that no signal mpirun or its ranks send to their process group reaches the test host.
    /// </summary>
    sealed class MpiJob : IDisposable
    {
        readonly System.Text.StringBuilder output = new();

        public MpiJob(IEnumerable<string> args)
        {
            var start = new System.Diagnostics.ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args.Prepend("mpirun")) start.ArgumentList.Add(a);
            Process = System.Diagnostics.Process.Start(start)!;
            Process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
            Process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public System.Diagnostics.Process Process { get; }

        public string Output
        {
            get { lock (output) return output.ToString(); }
        }

        /// <summary>Waits (2 minutes at most) until the run has logged <paramref name="step"/>; the job must still be running then.</summary>
        public void WaitForStep(NanoVlm.Tests.Reliability.TinyTrainingRun run, int step, string before)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (run.LastLoggedStep() < step && !Process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(20);
            Assert.False(Process.HasExited, $"the job ended before {before}");
        }

        /// <summary>The ranks are mpirun's children (on one machine it starts them itself): the pid of the last one started.</summary>
        public string LastRank() => Processes.Succeed("pgrep", ["-n", "-P", $"{Process.Id}", "dotnet"]).Trim();

        public void Dispose() => Process.Dispose();
    }
}
