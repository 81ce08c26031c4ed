using System.Text.Json;
using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Cli;

/// <summary>`nanovlm train` and friends end to end on tiny runs, through the real executable.</summary>
public sealed class TrainCommandTests : IDisposable
{
    readonly TempDir dir = new();

    string Jsonl(string name, int count = 24) => TestJsonl.Write(dir[name], count);

    (int Code, string Out, string Err) Train(string run, params string[] extra) =>
        CliProcess.Run(["train", "--preset", "tiny", "--data", $"jsonl:{Jsonl("data")}", "--output", dir.Path, "--run-name", run,
            "--batch-size", "4", "--max-steps", "4", "--eval-interval", "2", "--eval-samples", "4", "--val-ratio", "0.25", "--threads", "1",
            .. extra]);

    static JsonElement[] Metrics(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    [Fact]
    public void TrainsSavesCheckpointsPlotAndMetricsThenGeneratesAndEvaluates()
    {
        var (code, output, err) = Train("run", "--grad-accum", "2");
        Assert.True(code == 0, err);
        var run = dir["run"];
        foreach (var f in new[] { "run.json", "metrics.jsonl", "loss.png", "tokenizer/tokenizer.json", "best/model.safetensors", "best/tokenizer.json", "checkpoints/latest" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        var metrics = Metrics(run);
        Assert.Equal([1, 2, 3, 4], metrics.Where(m => m.TryGetProperty("train_loss", out _)).Select(m => m.GetProperty("step").GetInt32()));
        Assert.Equal([2, 4], metrics.Where(m => m.TryGetProperty("val_loss", out _)).Select(m => m.GetProperty("step").GetInt32()));
        foreach (var key in new[] { "lr", "grad_norm", "tokens_per_s", "seconds", "epoch" })
            Assert.True(metrics[0].TryGetProperty(key, out _), key);
        Assert.Contains("training summary", output);

        (code, output, err) = CliProcess.Run("generate", "--model", Path.Combine(run, "best"), "--image", Path.Combine(dir["data"], "0.png"),
            "--prompt", "What is this?", "--generations", "2", "--max-new-tokens", "3", "--seed", "1");
        Assert.True(code == 0, err);
        Assert.Contains("  >> Generation 1: ", output);
        Assert.Contains("  >> Generation 2: ", output);

        var report = dir["eval.json"];
        (code, output, err) = CliProcess.Run("eval", "--model", Path.Combine(run, "best"), "--data", $"jsonl:{dir["data"]}/data.jsonl", "--json", report);
        Assert.True(code == 0, err);
        Assert.Matches(@"accuracy: \d+\.\d\d% \(\d+/24\)", output);
        Assert.Equal(24, JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("total").GetInt32());
    }

    [Fact]
    public void FrozenBackbonesKeepTheirInitialWeights()
    {
        var (code, _, err) = Train("frozen", "--freeze-vision", "--freeze-decoder", "--seed", "3");
        Assert.True(code == 0, err);
        using var trained = VisionLanguageModel.FromPretrained(Path.Combine(dir["frozen"], "best"));
        manual_seed(3);
        using var initial = new VisionLanguageModel(trained.Config);
        var start = initial.state_dict();
        foreach (var (name, t) in trained.state_dict())
            Assert.True(name.StartsWith("MP.") ^ t.eq(start[name]).all().item<bool>(), name);
    }

    [Fact]
    public void Bf16MixtureAndCutoffRun()
    {
        var second = Jsonl("more", 12);
        var (code, output, err) = Train("mix", "--bf16", "--data", $"jsonl:{second}@0.5", "--cutoff", "12");
        Assert.True(code == 0, err);
        Assert.Contains("18 training samples", output.ReplaceLineEndings(" "));
        using var model = VisionLanguageModel.FromPretrained(Path.Combine(dir["mix"], "best"));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
    }

    [Fact]
    public void ResumeOfAFinishedRunDoesNothingMore()
    {
        Assert.Equal(0, Train("done").Code);
        var before = Metrics(dir["done"]).Length;
        var (code, _, err) = CliProcess.Run("train", "--resume", dir["done"]);
        Assert.True(code == 0, err);
        Assert.Equal(before, Metrics(dir["done"]).Length);
    }

    [Theory]
    [InlineData("error: --batch-size must be > 0, got 0", "--batch-size", "0")]
    [InlineData("error: --data 'bogus:x': unknown kind 'bogus'", "--data", "bogus:x")]
    [InlineData("error: --preset: unknown preset 'huge'", "--preset", "huge")]
    [InlineData("error: --device: unknown device 'tpu'", "--device", "tpu")]
    [InlineData("not a training run folder", "--resume", "/nonexistent-run")]
    public void BadArgumentsGiveOneLineErrors(string expected, params string[] args)
    {
        var (code, _, err) = CliProcess.Run(["train", .. args]);
        Assert.Equal(1, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    public void Dispose() => dir.Dispose();
}
