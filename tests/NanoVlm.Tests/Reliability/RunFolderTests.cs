using System.Diagnostics;
using NanoVlm.Checkpoints;

namespace NanoVlm.Tests.Reliability;

/// <summary>Real <c>nanovlm train</c> processes sharing a run folder: a second one is refused while the first runs, a resume under
/// fewer cores computes like the first run, and <c>--resume</c> with other flags refuses or applies them, saying which. Alone: the
/// bit-identity check differed in two of seven full-suite runs beside other tests' processes and never in a dozen runs on its own
/// (interrupted at eight different moments, or beside busy loops); the cause under that load is not found yet.</summary>
[Collection(nameof(RunsAlone))]
public sealed class RunFolderTests : IDisposable
{
    readonly TempDir _dir = new();

    [Fact]
    public async Task A_second_run_in_a_folder_in_use_is_refused_naming_the_holder()
    {
        var run = new TinyTrainingRun(_dir.Path, "shared");
        using var first = TinyTrainingRun.Start(TinyTrainingRun.Args(_dir.Path, "shared", 100_000, 0, 100_000));
        try
        {
            Assert.True(await run.ReachesStep(first, 1), "the first run did not start");
            foreach (var args in new[] { TinyTrainingRun.Args(_dir.Path, "shared", 10, 0, 10), ["train", "--resume", run.RunDir] })
            {
                var (code, _, err) = CliProcess.Run(args);
                Assert.Equal(1, code);
                Assert.Equal($"error: {run.RunDir}: another training run (pid {first.Id}) is using this folder; wait for it to end or choose another run name",
                    err.Trim());
            }
        }
        finally
        {
            first.Kill();
            first.WaitForExit();
        }
        var metrics = File.ReadAllLines(Path.Combine(run.RunDir, "metrics.jsonl"));
        Assert.Equal(metrics.Length, metrics.Select(l => l[..l.IndexOf(',')]).Distinct().Count()); // one writer: no step twice
    }

    [Fact]
    public async Task A_resume_under_fewer_cores_ends_bit_identical_to_an_uninterrupted_run()
    {
        const int steps = 40;
        using (var reference = TinyTrainingRun.Start(TinyTrainingRun.Args(_dir.Path, "reference", steps, 0, steps, threads: null)))
            Assert.True(reference.WaitForExit(TimeSpan.FromMinutes(3)) && reference.ExitCode == 0, "the reference run failed");

        var run = new TinyTrainingRun(_dir.Path, "resumed");
        using (var interrupted = TinyTrainingRun.Start(TinyTrainingRun.Args(_dir.Path, "resumed", steps, 0, steps, threads: null)))
        {
            Assert.True(await run.ReachesStep(interrupted, 3), "the run ended before it could be interrupted");
            TinyTrainingRun.Terminate(interrupted);
            Assert.True(interrupted.WaitForExit(TimeSpan.FromMinutes(1)));
            Assert.Equal(130, interrupted.ExitCode);
        }
        // One core where the first run had every core: the thread count must come from run.json.
        var inner = CliProcess.StartInfo(["train", "--resume", run.RunDir]);
        var resume = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-c", "0", inner.FileName }.Concat(inner.ArgumentList)) resume.ArgumentList.Add(arg);
        using (var p = Process.Start(resume)!)
        {
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)) && p.ExitCode == 0, await err);
        }
        using var expected = SafetensorsFile.Open(Path.Combine(_dir["reference"], "checkpoints", $"step-{steps:D7}", "model.safetensors"));
        using var actual = SafetensorsFile.Open(Path.Combine(run.Checkpoints, $"step-{steps:D7}", "model.safetensors"));
        foreach (var name in expected.Entries.Keys)
        {
            using var a = expected.Load(name);
            using var b = actual.Load(name);
            Assert.True(a.bytes.SequenceEqual(b.bytes), $"{name} differs from the uninterrupted run");
        }
    }

    [Fact]
    public void Resume_refuses_flags_that_would_change_the_run_and_applies_the_others_saying_so()
    {
        var data = Cli.TestJsonl.Write(_dir["data"], count: 4);
        var (code, _, err) = CliProcess.Run("train", "--preset", "tiny", "--data", $"jsonl:{data}", "--tokenizer", "wordlevel", "--output", _dir.Path,
            "--run-name", "done", "--threads", "1", "--batch-size", "2", "--grad-accum", "1", "--max-steps", "2", "--eval-samples", "0", "--val-ratio", "0");
        Assert.True(code == 0, err);

        var refused = CliProcess.Run("train", "--resume", _dir["done"], "--max-steps", "40", "--data", "jsonl:/nonexistent");
        Assert.Equal(1, refused.Code);
        Assert.StartsWith("error: --resume continues the run with the arguments of its run.json; --data, --max-steps cannot change them", refused.Err.Trim());

        var applied = CliProcess.Run("train", "--resume", _dir["done"], "--workers", "1");
        Assert.True(applied.Code == 0, applied.Err);
        Assert.Contains("resume: --workers 1 applies to this session (run.json keeps its own)", applied.Out);
    }

    public void Dispose() => _dir.Dispose();
}
