using NanoVlm.IO;
using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Training;

public class TrainerTests
{
    static readonly TrainingOptions Options = new()
    {
        BatchSize = 4, GradientAccumulationSteps = 2, MaxSteps = 6, EvalInterval = 3, LrMp = 3e-3, LrBackbones = 1e-3, Seed = 5,
    };

    static Dictionary<string, Tensor> Weights(VisionLanguageModel m) => m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    static void AssertSameWeights(Dictionary<string, Tensor> expected, VisionLanguageModel model)
    {
        foreach (var (name, t) in model.state_dict())
            Assert.True(t.eq(expected[name]).all().item<bool>(), $"{name} differs");
    }

    [Fact]
    public void ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne()
    {
        using var data = new TinyData();
        using var runs = new TempDir();

        using var straight = data.NewModel();
        var full = new Trainer(straight, Options, runs["straight"], data.TrainingData(Options)).Run();
        Assert.Equal(6, full.Steps);

        using var first = data.NewModel();
        using var stop = new CancellationTokenSource();
        var interrupted = new Trainer(first, Options, runs["resumed"], data.TrainingData(Options));
        interrupted.Step += r => { if (r.Step == 4) stop.Cancel(); };
        var partial = interrupted.Run(cancel: stop.Token);
        Assert.True(partial.Interrupted);
        Assert.Equal(4, partial.Steps);

        using var second = data.NewModel(seed: 99); // different init: everything must come from the checkpoint
        var resumed = new Trainer(second, Options, runs["resumed"], data.TrainingData(Options)).Run(resume: true);
        Assert.Equal(6, resumed.Steps);
        AssertSameWeights(Weights(straight.Model), second.Model);

        var metrics = File.ReadAllLines(Path.Combine(runs["resumed"], "metrics.jsonl"));
        Assert.Equal(6, metrics.Count(l => l.Contains("train_loss")));
    }

    [Fact]
    public void TrainingLowersTheLossAndWritesCheckpointsAndMetrics()
    {
        using var data = new TinyData();
        using var runs = new TempDir();
        using var model = data.NewModel();
        var options = Options with { MaxSteps = 30, EvalInterval = 10, GradientAccumulationSteps = 1 };
        var losses = new List<double>();
        var evals = new List<EvalReport>();
        var trainer = new Trainer(model, options, runs.Path, data.TrainingData(options));
        trainer.Step += r => losses.Add(r.Loss);
        trainer.Evaluated += evals.Add;
        var result = trainer.Run();
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average() * 0.8, $"loss {losses.First():F3} -> {losses.Last():F3}");
        Assert.Equal(3, evals.Count);
        Assert.All(evals, e => Assert.NotNull(e.ValLoss));
        Assert.NotNull(result.BestFolder);
        using var best = Checkpoint.Load(result.BestFolder!);
        Assert.True(File.Exists(Path.Combine(runs.Path, "metrics.jsonl")));
        Assert.Equal("step-0000030", File.ReadAllText(Path.Combine(runs.Path, "checkpoints", "latest")));
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(runs.Path, "checkpoints"), "step-*").Length);
    }

    [Fact]
    public void FrozenPartsDoNotChange()
    {
        using var data = new TinyData();
        using var runs = new TempDir();
        using var model = data.NewModel();
        var before = Weights(model.Model);
        var options = Options with { FreezeVision = true, FreezeDecoder = true, MaxSteps = 2 };
        new Trainer(model, options, runs.Path, data.TrainingData(options)).Run();
        foreach (var (name, t) in model.Model.state_dict())
        {
            var same = t.eq(before[name]).all().item<bool>();
            Assert.True(name.StartsWith("MP.") ? !same : same, name);
        }
    }

    [Fact]
    public void Bf16TrainsWithFp32MasterWeights()
    {
        using var data = new TinyData();
        using var runs = new TempDir();
        using var model = data.NewModel();
        var options = Options with { Bf16 = true, MaxSteps = 20, GradientAccumulationSteps = 1, EvalInterval = 20 };
        var losses = new List<double>();
        var trainer = new Trainer(model, options, runs.Path, data.TrainingData(options));
        trainer.Step += r => losses.Add(r.Loss);
        trainer.Run();
        Assert.All(model.Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.True(losses.TakeLast(3).Average() < losses.Take(3).Average(), $"loss {losses.First():F3} -> {losses.Last():F3}");
    }

    [Fact]
    public void NonFiniteStepsAreSkippedThenTheRunStops()
    {
        using var data = new TinyData();
        using var runs = new TempDir();
        using var model = data.NewModel();
        var options = Options with { MaxSteps = 20, GradientAccumulationSteps = 1, MaxBadSteps = 3, EvalInterval = 2 };
        var notes = new List<string>();
        var trainer = new Trainer(model, options, runs.Path, data.TrainingData(options));
        trainer.Note += notes.Add;
        trainer.Step += r =>
        {
            if (r.Step != 3) return;
            using var _ = no_grad();
            model.Model.state_dict()["MP.proj.weight"].fill_(float.NaN); // poison: every later loss is NaN
        };
        var e = Assert.Throws<NanoVlmException>(() => trainer.Run());
        Assert.Contains("after 3 non-finite steps", e.Message);
        Assert.Contains("step-0000002", e.Message);
        Assert.Equal(3, notes.Count(n => n.Contains("step skipped")));
        using var good = Checkpoint.Load(Path.Combine(runs.Path, "checkpoints", "step-0000002"));
        Assert.True(good.state_dict()["MP.proj.weight"].isfinite().all().item<bool>());
    }

    [Fact]
    public void LearningRateFollowsWarmupThenCosineToATenth()
    {
        const int steps = 1000; // warmup = 30 steps
        Assert.Equal(1.0 / 30, LrSchedule.At(0, 1.0, steps), 12);
        Assert.Equal(1.0, LrSchedule.At(29, 1.0, steps), 12);
        Assert.Equal(1.0, LrSchedule.At(30, 1.0, steps), 12);
        Assert.Equal(0.55, LrSchedule.At(515, 1.0, steps), 12);
        Assert.Equal(0.1, LrSchedule.At(1000, 1.0, steps), 12);
        Assert.Equal(0.1, LrSchedule.At(5000, 1.0, steps), 12);
    }

    [Fact]
    public void AdamWMatchesTorchSharpsAdamW()
    {
        manual_seed(1);
        var ours = new TorchSharp.Modules.Parameter(randn(5, 3));
        var theirs = new TorchSharp.Modules.Parameter(ours.detach().clone());
        using var adam = new AdamW([new ParamGroup("g", [("w", ours)]) { Lr = 0.01 }], weightDecay: 0.1);
        var reference = optim.AdamW([theirs], lr: 0.01, weight_decay: 0.1);
        for (var i = 0; i < 5; i++)
        {
            var grad = randn(5, 3);
            ours.grad!.copy_(grad); // AdamW keeps the gradient in its flat buffer
            theirs.grad = grad.clone();
            adam.Step();
            reference.step();
        }
        var diff = (ours - theirs).abs().max().item<float>();
        Assert.True(diff < 1e-6, $"max difference {diff}");
    }
}
