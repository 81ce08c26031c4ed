using System.Diagnostics;
using Xunit.Abstractions;
using NanoVlm.Checkpoints;

namespace NanoVlm.Tests.Reliability;

/// <summary>
/// SIGKILL at several moments (during a step, during a checkpoint write, around the <c>latest</c> pointer swap) never leaves
/// the run without a loadable checkpoint, and <c>--resume</c> reaches bit-identical final weights and optimizer state
/// (with the thread count of run.json: it changes float reduction order).
/// </summary>
[Trait("Category", "Long")]
public sealed class KilledRunTests(ITestOutputHelper log) : IDisposable
{
    const int Steps = 40;
    readonly TempDir _dir = new();

    [Fact]
    public void Killed_and_resumed_runs_end_bit_identical_to_an_uninterrupted_run()
    {
        var reference = new TinyTrainingRun(_dir.Path, "reference");
        using (var p = TinyTrainingRun.Start(TinyTrainingRun.Args(_dir.Path, "reference", Steps, 1, 1000)))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "the reference run did not finish");
            Assert.Equal(0, p.ExitCode);
        }

        var run = new TinyTrainingRun(_dir.Path, "killed");
        var rng = new Random(7);
        HashSet<string> before = [];
        bool Writing() => run.PartialCheckpoints().Except(before).Any();
        var killPoints = new (string Moment, Func<bool> Due)[]
        {
            ("during a step", () => run.LastLoggedStep() >= 4 && Pause(rng.Next(0, 40))),
            ("during a checkpoint write", Writing),
            ("during a step", () => run.LastLoggedStep() >= 14 && Pause(rng.Next(0, 40))),
            ("during a checkpoint write", Writing),
            ("just after a checkpoint write began", () => Writing() && Pause(rng.Next(1, 4))),
            ("during a checkpoint write", Writing),
        };
        var writesCaught = 0;
        for (var i = 0; i < killPoints.Length; i++)
        {
            before = run.PartialCheckpoints();
            var args = i == 0 ? TinyTrainingRun.Args(_dir.Path, "killed", Steps, 1, 1000) : ["train", "--resume", run.RunDir];
            using var p = TinyTrainingRun.Start(args);
            var clock = Stopwatch.StartNew();
            while (!p.HasExited && !killPoints[i].Due() && clock.Elapsed < TimeSpan.FromMinutes(3)) { }
            Assert.False(p.HasExited, $"kill {i + 1} ({killPoints[i].Moment}): the run ended before the kill point");
            p.Kill(); // SIGKILL on Linux
            p.WaitForExit();
            var tmpLeft = Writing();
            if (tmpLeft) writesCaught++;
            var latest = run.AssertLatestCheckpointLoads();
            log.WriteLine($"kill {i + 1} ({killPoints[i].Moment}) at logged step {run.LastLoggedStep()}: " +
                          $"{(tmpLeft ? "a half-written checkpoint was left" : "no checkpoint was being written")}; latest = {Path.GetFileName(latest)} loads");
        }
        Assert.True(writesCaught >= 1, "no kill landed inside a checkpoint write");

        using (var p = TinyTrainingRun.Start(["train", "--resume", run.RunDir]))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "the resumed run did not finish");
            Assert.Equal(0, p.ExitCode);
        }
        var final = $"step-{Steps:D7}";
        foreach (var file in new[] { "model.safetensors", "training_state.safetensors" })
            TinyTrainingRun.AssertBitIdentical(Path.Combine(reference.Checkpoints, final, file), Path.Combine(run.Checkpoints, final, file));
        log.WriteLine($"{writesCaught} kills landed inside a checkpoint write; final weights and optimizer state are bit-identical");
    }

    static bool Pause(int milliseconds)
    {
        Thread.Sleep(milliseconds);
        return true;
    }

    public void Dispose() => _dir.Dispose();
}
