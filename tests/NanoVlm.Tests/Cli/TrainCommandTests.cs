using System.Text.Json;
using NanoVlm.Models;
using NanoVlm.Training;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;

namespace NanoVlm.Tests.Cli;

/// <summary>`nanovlm train` and friends end to end on tiny runs, through the real executable.</summary>
/// <remarks>Alone: some checks rebuild a model from its seed in this process, and parallel tests draw from the same global generator.</remarks>
[Collection(nameof(RunsAlone))]
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
            "--image", Path.Combine(dir["data"], "1.png"), "--prompt", "What is this?", "--generations", "2", "--max-new-tokens", "3", "--seed", "1");
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
        using var trained = Checkpoint.Load(Path.Combine(dir["frozen"], "best"));
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
        using var model = Checkpoint.Load(Path.Combine(dir["mix"], "best"));
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

    static Dictionary<string, Tensor> Weights(string folder)
    {
        using var m = Checkpoint.Load(folder);
        return m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
    }

    static double Change(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b) =>
        a.Keys.Sum(k => (a[k] - b[k]).abs().sum().item<float>());

    [Fact]
    public void SeedLearningRatesClippingAndCheckpointIntervalDoWhatTheySay()
    {
        string Latest(string run) => Path.Combine(dir[run], "checkpoints", File.ReadAllText(Path.Combine(dir[run], "checkpoints", "latest")));
        string[] Common(string seed) => ["--seed", seed, "--device", "cpu", "--workers", "2"];

        Assert.Equal(0, Train("a", [.. Common("7"), "--checkpoint-interval", "1"]).Code);
        Assert.Equal(0, Train("b", Common("7")).Code);
        Assert.Equal(0, Train("c", Common("8")).Code);
        var (a, b, c) = (Weights(Latest("a")), Weights(Latest("b")), Weights(Latest("c")));
        Assert.Equal(0, Change(a, b));                       // same seed, same run
        Assert.True(Change(a, c) > 0);                        // another seed, another run
        Assert.True(Directory.Exists(Path.Combine(dir["a"], "checkpoints", "step-0000003")), "--checkpoint-interval 1 saves every step");
        Assert.False(Directory.Exists(Path.Combine(dir["b"], "checkpoints", "step-0000003")));

        // A part at learning rate 0 keeps its seeded initial weights; the others learn.
        Assert.Equal(0, Train("frozen-lr", [.. Common("7"), "--lr-mp", "0", "--lr-backbones", "0", "--lr-language", "1e-3"]).Code);
        manual_seed(7);
        using var initial = new VisionLanguageModel(VlmConfig.Load(Path.Combine(Latest("frozen-lr"), "config.json")));
        var frozen = Weights(Latest("frozen-lr"));
        double PartChange(string prefix) => Change(frozen.Where(kv => kv.Key.StartsWith(prefix)).ToDictionary(), initial.state_dict());
        Assert.Equal(0, PartChange("MP."));
        Assert.Equal(0, PartChange("vision_encoder."));
        Assert.True(PartChange("decoder.") > 0);

        // Clipping to a tiny norm makes AdamW's steps tiny (the gradient falls below eps).
        Assert.Equal(0, Train("clipped", [.. Common("7"), "--max-grad-norm", "1e-12"]).Code);
        var start = initial.state_dict();
        Assert.True(Change(Weights(Latest("clipped")), start) < 0.01 * Change(a, start));
    }

    [Fact]
    public void ConfigEpochsEvalDataAndFineTuning()
    {
        var cfg = dir["tiny.json"];
        (Presets.Get("tiny") with { VitNBlocks = 1, LmNBlocks = 1 }).Save(cfg);
        var evalData = TestJsonl.Write(dir["eval"], 6);
        var (code, output, err) = CliProcess.Run("train", "--config", cfg, "--data", $"jsonl:{Jsonl("data")}", "--output", dir.Path,
            "--run-name", "cfg", "--batch-size", "4", "--grad-accum", "1", "--epochs", "2", "--val-ratio", "0.25", "--eval-interval", "100",
            "--eval-data", $"jsonl:{evalData}", "--eval-samples", "6", "--tokenizer", "wordlevel", "--packing", "false");
        Assert.True(code == 0, err);
        var metrics = Metrics(dir["cfg"]);
        Assert.Equal(10, metrics.Count(m => m.TryGetProperty("train_loss", out _))); // 18 training samples / 4 = 5 batches (the last partial) x 2 epochs
        Assert.Equal([0, 1], metrics.Where(m => m.TryGetProperty("train_loss", out _)).Select(m => m.GetProperty("epoch").GetInt32()).Distinct());
        Assert.True(metrics.Last().GetProperty("accuracy").ValueKind == JsonValueKind.Number);
        using (var trained = Checkpoint.Load(Path.Combine(dir["cfg"], "best")))
            Assert.Equal(1, trained.Config.LmNBlocks);

        (code, output, err) = CliProcess.Run("train", "--model", Path.Combine(dir["cfg"], "best"), "--data", $"jsonl:{Jsonl("data")}",
            "--output", dir.Path, "--run-name", "fine", "--batch-size", "4", "--max-steps", "2", "--eval-samples", "0");
        Assert.True(code == 0, err);
        var before = Weights(Path.Combine(dir["cfg"], "best"));
        var after = Weights(Path.Combine(dir["fine"], "checkpoints", "step-0000002"));
        Assert.True(Change(before, after) > 0);
        manual_seed(0);
        using var fresh = new VisionLanguageModel(VlmConfig.Load(Path.Combine(dir["cfg"], "best", "config.json")));
        Assert.True(Change(before, after) < Change(fresh.state_dict(), after), "fine-tuning starts from the checkpoint, not from scratch");
    }

    static string Words(string output) => System.Text.RegularExpressions.Regex.Replace(output, @"[\s│]+", " ");

    [Fact]
    public void PackingAndSeparateLearningRatesReachTheRunAndTheSummary()
    {
        var (code, output, err) = Train("packed", "--lr-vision", "0", "--max-images-per-pack", "2", "--max-images-per-sample", "1");
        Assert.True(code == 0, err);
        Assert.Matches(@"about \d+ optimizer steps of 4 packed rows x 4", Words(output));
        Assert.Matches(@"packing \d+ samples in \d+ rows; [\d,]+ padding tokens (instead of [\d,]+ unpacked( \(\d+% (less|more)\))?|\(the samples are all of one length)", Words(output));
        var args = JsonSerializer.Deserialize<TrainArgs>(File.ReadAllText(Path.Combine(dir["packed"], "run.json")))!;
        Assert.Equal((2, 1, 4096), (args.Packing!.MaxImagesPerPack, args.Packing.MaxImagesPerSample, args.Packing.MaxSampleLength));
        Assert.Equal((0.0, new TrainingOptions().LrLanguage), (args.Options.LrVision, args.Options.LrLanguage));
        manual_seed(0);
        using var initial = new VisionLanguageModel(VlmConfig.Load(Path.Combine(dir["packed"], "best", "config.json")));
        var trained = Weights(Path.Combine(dir["packed"], "best"));
        Assert.Equal(0, Change(trained.Where(kv => kv.Key.StartsWith("vision_encoder.")).ToDictionary(), initial.state_dict()));

        (code, output, err) = Train("unpacked", "--packing", "false");
        Assert.True(code == 0, err);
        Assert.DoesNotContain("packed rows", output);
        Assert.DoesNotContain("padding tokens", Words(output));
        Assert.Null(JsonSerializer.Deserialize<TrainArgs>(File.ReadAllText(Path.Combine(dir["unpacked"], "run.json")))!.Packing);
    }

    [Fact]
    public void RatingFlagsFilterFineVisionTurns()
    {
        var (code, output, err) = CliProcess.Run("train", "--preset", "tiny", "--data", $"finevision:{Data.DatasetTests.FineVisionFile()}",
            "--min-relevance-rating", "3", "--output", dir.Path, "--run-name", "fv", "--batch-size", "2", "--max-steps", "1",
            "--eval-samples", "0", "--val-ratio", "0", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("every turn rated below the minimum", Words(output + err)); // counted at each read of the row
    }

    [Fact]
    public async Task CtrlCSavesAResumableCheckpointAndExits130()
    {
        var args = new[]
        {
            "train", "--preset", "tiny", "--data", $"jsonl:{Jsonl("data")}", "--output", dir.Path, "--run-name", "interrupted",
            "--batch-size", "2", "--max-steps", "100000", "--eval-interval", "100000", "--eval-samples", "0", "--threads", "1",
        };
        using var p = System.Diagnostics.Process.Start(CliProcess.StartInfo(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var metrics = Path.Combine(dir["interrupted"], "metrics.jsonl");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!(File.Exists(metrics) && File.ReadLines(metrics).Count() >= 3) && DateTime.UtcNow < deadline) Thread.Sleep(100);
        using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", p.Id.ToString()])) kill.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)), "the run did not stop after Ctrl+C");
        var (output, errors) = (await stdout, await stderr);
        Assert.True(p.ExitCode == 130, errors + output);
        Assert.True(output.Contains("(interrupted, resumable)"), output + errors);
        var latest = NanoVlm.Training.TrainingState.LatestFolder(dir["interrupted"]);
        Assert.NotNull(latest);
        using (Checkpoint.Load(latest!)) { }
    }

    [Theory]
    [InlineData("error: --batch-size must be between 1 and 65536, got 0", "--batch-size", "0")]
    [InlineData("error: --data 'bogus:x': unknown kind 'bogus'", "--data", "bogus:x")]
    [InlineData("error: --preset 'huge' is not a preset", "--preset", "huge")]
    [InlineData("error: --device 'tpu' is not a device", "--device", "tpu")]
    [InlineData("not a training run folder", "--resume", "/nonexistent-run")]
    [InlineData("error: nothing to train: every part is frozen or at learning rate 0", "--lr-mp", "0", "--lr-backbones", "0")]
    [InlineData("error: --max-images-per-sample must be in 1..2 (the images a pack holds), got 4", "--max-images-per-pack", "2")]
    public void BadArgumentsGiveOneLineErrors(string expected, params string[] args)
    {
        var (code, _, err) = CliProcess.Run(["train", .. args]);
        Assert.Equal(1, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    public void Dispose() => dir.Dispose();
}
