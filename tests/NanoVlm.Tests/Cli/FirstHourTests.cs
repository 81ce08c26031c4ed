using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Runtime;
using NanoVlm.Training;

namespace NanoVlm.Tests.Cli;

/// <summary>What a new user meets in the first hour: names, early refusals, small data, run folders, mistyped paths.</summary>
public sealed class FirstHourTests : IDisposable
{
    readonly TempDir dir = new();
    static string Golden => GoldenCases.First(GoldenCases.V02Format);

    (int Code, string Out, string Err) Train(string name, params string[] extra) => CliProcess.Run(
    [
        "train", "--preset", "tiny", "--tokenizer", "wordlevel", "--data", $"jsonl:{TestJsonl.Write(dir["data-" + name], 20)}",
        "--output", dir.Path, "--run-name", name, "--eval-samples", "0", .. extra,
    ]);

    [Fact]
    public void UsageNamesTheCommandAsTyped()
    {
        var (code, output, _) = CliProcess.Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("nanovlm [command] [options]", output);
        Assert.DoesNotContain("NanoVlm.Cli", output);
        (_, output, _) = CliProcess.Run("train", "--help");
        foreach (var preset in new[] { "tiny", "222m", "230m", "460m" }) Assert.Contains(preset, output);
    }

    [Theory]
    [InlineData("--top-p", "7", "error: --top-p must be in (0, 1], got 7")]
    [InlineData("--max-new-tokens", "-3", "error: --max-new-tokens must be >= 0, got -3")]
    [InlineData("--max-new-tokens", "100000", "exceeds the model's context")]
    public void BadGenerationValuesAreRefusedBeforeAnythingIsPrinted(string option, string value, string error)
    {
        var (code, output, err) = CliProcess.Run("generate", "--model", Golden, "--image", Path.Combine(Golden, "image_2.png"), option, value);
        Assert.Equal(1, code);
        Assert.Contains(error, err);
        Assert.DoesNotContain("Generation 1", output);
    }

    [Theory]
    [InlineData("./no-such-run")]
    [InlineData("/no/such/checkpoint")]
    public void AMistypedLocalPathIsALocalErrorAtOnce(string path)
    {
        var (code, _, err) = CliProcess.Run("generate", "--model", path, "--image", Path.Combine(Golden, "image_2.png"));
        Assert.Equal(1, code);
        Assert.Contains($"{path}: no such checkpoint folder", err);
        // A name whose first part is a local folder is a path too.
        var existing = Directory.CreateDirectory(dir["runs"]).FullName;
        (code, _, err) = CliProcess.Run("generate", "--model", Path.Combine(existing, "nope"));
        Assert.Equal(1, code);
        Assert.Contains("no such checkpoint folder", err);
    }

    [Fact]
    public void AnUnresolvableHubHostIsNotRetried()
    {
        var (code, _, err) = CliProcess.Run(new Dictionary<string, string> { ["HF_ENDPOINT"] = "https://no-such-host.invalid", ["HF_HUB_CACHE"] = dir["cache"] },
            "download", "org/model");
        Assert.Equal(1, code);
        Assert.Contains("1 attempt)", err);
    }

    [Fact]
    public void AJsonlLineWithOtherKeysNamesThem()
    {
        var file = Path.Combine(Directory.CreateDirectory(dir["jsonl"]).FullName, "bad.jsonl");
        File.WriteAllText(file, """{"conversations": [{"question": "q", "answer": "a"}]}""" + "\n");
        var e = Assert.Throws<NanoVlmException>(() => new JsonlDataset(file));
        Assert.Contains("line 1: conversations[0] has no 'user' (its keys: 'question', 'answer')", e.Message);
    }

    [Fact]
    public void AFinishedRunIsNeverOverwrittenAndAFailedStartLeavesNoFolder()
    {
        var (code, output, err) = Train("kept", "--max-steps", "2");
        Assert.True(code == 0, err + output);
        var metrics = File.ReadAllText(Path.Combine(dir["kept"], "metrics.jsonl"));
        (code, _, err) = Train("kept", "--max-steps", "2");
        Assert.Equal(1, code);
        Assert.Contains("error: --run-name 'kept':", err);
        Assert.Contains("already holds a run; resume it or choose another run name", err);
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(dir["kept"], "metrics.jsonl")));

        (code, _, err) = CliProcess.Run("train", "--preset", "tiny", "--data", $"jsonl:{dir["missing"]}/data.jsonl", "--output", dir.Path, "--run-name", "failed");
        Assert.Equal(1, code);
        Assert.False(Directory.Exists(dir["failed"]), "a run that failed to start left its folder");
    }

    [Fact]
    public void EpochsStepsAndTheSummaryAgreeOnSmallData()
    {
        // 20 samples, batch 6: four batches an epoch (the last one partial), so 3 epochs are 12 steps.
        var (code, output, err) = Train("epochs", "--batch-size", "6", "--grad-accum", "1", "--epochs", "3", "--packing", "false",
            "--val-ratio", "0", "--eval-interval", "4");
        Assert.True(code == 0, err + output);
        Assert.Contains("12 optimizer steps", output);
        var steps = File.ReadLines(Path.Combine(dir["epochs"], "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.TryGetProperty("train_loss", out _)).ToList();
        Assert.Equal(12, steps.Count);
        Assert.Equal(2, steps[^1].GetProperty("epoch").GetInt32());
    }

    [Fact]
    public void SmallDataIsSaidAndTheWarmupNeverOvershoots()
    {
        var (code, output, err) = Train("small", "--max-steps", "1", "--packing", "false");
        Assert.True(code == 0, err + output);
        var text = System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");
        Assert.Contains("the validation split is empty", text);
        Assert.Contains("one optimizer step takes 128 samples (batch 32 x accumulation 4), more than the 20 training samples", text);
        var lr = JsonDocument.Parse(File.ReadLines(Path.Combine(dir["small"], "metrics.jsonl")).First()).RootElement.GetProperty("lr").GetDouble();
        Assert.True(lr <= new TrainingOptions().LrMp, $"the first step's learning rate {lr} is over the peak");
        Assert.Equal(1.0, LrSchedule.At(0, 1.0, maxSteps: 1), 12);
    }

    [Fact]
    public void FineTuningSaysWhatItLoads()
    {
        var (code, output, err) = Train("source", "--max-steps", "1");
        Assert.True(code == 0, err + output);
        var checkpoint = Path.Combine(dir["source"], "checkpoints", "step-0000001");
        (code, output, err) = CliProcess.Run("train", "--model", checkpoint, "--data", $"jsonl:{dir["data-source"]}/data.jsonl",
            "--output", dir.Path, "--run-name", "tuned", "--max-steps", "1", "--eval-samples", "0");
        Assert.True(code == 0, err + output);
        Assert.Contains($"model {checkpoint} (fine-tuned)", output);
        Assert.DoesNotContain("scratch + scratch", output);
    }

    /// <summary>Data asking a few kinds of question is scored per kind too (Fashion-MNIST's yes/no questions are far easier).</summary>
    [Fact]
    public void EvaluationReportsEachKindOfQuestion()
    {
        var result = new NanoVlm.Evaluation.EvaluationResult(
        [
            new("a", "What is this?", "coat", "coat", true, null, null), new("b", "What is this?", "bag", "coat", false, null, null),
            new("c", "Is this footwear?", "no", "no", true, null, null), new("d", "Is this footwear?", "yes", "yes", true, null, null),
        ], 0);
        Assert.Equal([("What is this?", 2, 0.5), ("Is this footwear?", 2, 1.0)], result.ByQuestion());
        var many = new NanoVlm.Evaluation.EvaluationResult(Enumerable.Range(0, 30).Select(i => new NanoVlm.Evaluation.Prediction($"{i}", $"q{i}", "a", "a", true, null, null)).ToList(), 0);
        Assert.Empty(many.ByQuestion());
    }

    public void Dispose() => dir.Dispose();
}
