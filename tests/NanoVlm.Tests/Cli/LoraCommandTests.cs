using System.Diagnostics;
using System.Text.RegularExpressions;
using NanoVlm.Checkpoints;
using NanoVlm.Tests.Reliability;

namespace NanoVlm.Tests.Cli;

/// <summary>
/// LoRA through the command line as a user runs it: <c>train --lora-rank</c> on the demo data writes PEFT adapters that beat the
/// untrained model, <c>generate</c>/<c>eval</c> take them, <c>merge</c> folds them in, and a run killed with SIGKILL resumes to the
/// same adapter and optimizer state bit for bit.
/// </summary>
public sealed partial class LoraCommandTests : IDisposable
{
    const int Steps = 30;
    readonly TempDir dir = new();

    string[] TrainArgs(string name) =>
    [
        "train", "--preset", "tiny", "--data", "fashion-mnist", "--tokenizer", "wordlevel", "--cutoff", "2000", "--max-steps", $"{Steps}",
        "--batch-size", "16", "--grad-accum", "1", "--threads", "1", "--workers", "1", "--seed", "5", "--eval-interval", "10",
        "--checkpoint-interval", "1", "--eval-samples", "0", "--val-ratio", "0.05", "--lora-rank", "8", "--lr-lora", "5e-3",
        "--output", dir.Path, "--run-name", name,
    ];

    double Accuracy(params string[] model)
    {
        var (code, output, err) = CliProcess.Run(["eval", .. model, "--data", "fashion-mnist", "--limit", "200"]);
        Assert.True(code == 0, err + output);
        return double.Parse(AccuracyLine().Match(output).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void AnAdapterTrainedOnTheDemoDataBeatsItsBaseMergesAndResumesBitIdenticalAfterSigkill()
    {
        var (code, output, err) = CliProcess.Run(TrainArgs("reference"));
        Assert.True(code == 0, err + output);
        var run = Path.Combine(dir.Path, "reference");
        var best = Path.Combine(run, "best");
        Assert.Equal([AdapterFiles.ConfigFile, AdapterFiles.WeightsFile], Directory.GetFiles(best).Select(Path.GetFileName).Order());
        Assert.True(new FileInfo(Path.Combine(best, AdapterFiles.WeightsFile)).Length < new FileInfo(Path.Combine(run, "base", "model.safetensors")).Length / 10,
            "the adapter is not much smaller than the model");

        var untrained = Accuracy("--model", Path.Combine(run, "base"));
        var adapted = Accuracy("--model", Path.Combine(run, "base"), "--adapter", best);
        Assert.True(adapted > untrained + 10, $"the adapter scores {adapted}% against the untrained model's {untrained}%");
        Assert.Equal(adapted, Accuracy("--model", best)); // an adapter folder brings its base

        var merged = Path.Combine(dir.Path, "merged");
        (code, output, err) = CliProcess.Run("merge", "--adapter", best, "--out", merged);
        Assert.True(code == 0, err + output);
        Assert.Equal(adapted, Accuracy("--model", merged));

        (code, output, err) = CliProcess.Run("generate", "--model", Path.Combine(run, "base"), "--adapter", best, "--greedy",
            "--generations", "1", "--max-new-tokens", "4", "--image", Path.Combine(GoldenCases.First(GoldenCases.V02Format), "image_0.png"));
        Assert.True(code == 0, err + output);
        Assert.Contains(">> Generation 1:", output);

        // The same run, killed mid-way and resumed.
        var killed = new TinyTrainingRun(dir.Path, "killed");
        using (var p = TinyTrainingRun.Start(TrainArgs("killed")))
        {
            var clock = Stopwatch.StartNew();
            while (!p.HasExited && killed.LastLoggedStep() < 12 && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(20);
            Assert.False(p.HasExited, "the run ended before the kill");
            p.Kill();
            p.WaitForExit();
        }
        (code, output, err) = CliProcess.Run("train", "--resume", killed.RunDir);
        Assert.True(code == 0, err + output);
        var final = $"step-{Steps:D7}";
        foreach (var file in new[] { AdapterFiles.WeightsFile, "training_state.safetensors" })
            TinyTrainingRun.AssertBitIdentical(Path.Combine(run, "checkpoints", final, file), Path.Combine(killed.Checkpoints, final, file));
    }

    [Fact]
    public void AnAdapterTrainsOverABf16CopyOfTheFrozenModel()
    {
        var (code, output, err) = CliProcess.Run([.. TrainArgs("bf16").Select(a => a == $"{Steps}" ? "3" : a), "--bf16"]);
        Assert.True(code == 0, err + output);
        var adapter = Path.Combine(dir["bf16"], "checkpoints", "step-0000003");
        using var weights = SafetensorsFile.Open(Path.Combine(adapter, AdapterFiles.WeightsFile));
        Assert.All(weights.Entries.Values, e => Assert.Equal("F32", e.Dtype));   // the adapter itself stays fp32
        Assert.True(Accuracy("--model", adapter) >= 0);
    }

    [GeneratedRegex(@"accuracy: ([0-9.]+)%")]
    private static partial Regex AccuracyLine();

    public void Dispose() => dir.Dispose();
}
