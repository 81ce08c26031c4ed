using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

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
    public void APackedBatchHasTheLossOfItsSamplesUnpacked()
    {
        using var data = new TinyData(count: 6);
        using var vlm = data.NewModel();
        var model = vlm.Model;
        model.eval();
        List<EncodedSample> Encoded() => DatasetView.All(data).ReadInOrder().Select(s => vlm.Processor.EncodeForTraining(s)!).ToList();
        using var unpacked = vlm.Processor.Collate(Encoded()); // collating disposes the samples' images
        var encoded = Encoded();
        using var packed = PackedCollation.Collate([encoded[..3], encoded[3..]], data.Tokenizer.PadTokenId, data.Config.VitImgSize);
        Assert.Equal(2, packed.InputIds.shape[0]);
        var expected = model.forward(unpacked.InputIds, unpacked.Images, unpacked.AttentionMask, unpacked.Labels).Loss!.item<float>();
        var actual = model.forward(packed.InputIds, packed.Images, packed.AttentionMask, packed.Labels, packed.SequenceIds).Loss!.item<float>();
        Assert.Equal(expected, actual, 5);
    }

    [Fact]
    public void PackedTrainingLowersTheLoss()
    {
        using var data = new TinyData();
        using var runs = new TempDir();
        using var model = data.NewModel();
        var options = Options with { MaxSteps = 30, EvalInterval = 30, GradientAccumulationSteps = 1, BatchSize = 2 };
        var losses = new List<double>();
        var trainer = new Trainer(model, options, runs.Path, data.TrainingData(options, new PackingOptions()));
        trainer.Step += r => losses.Add(r.Loss);
        trainer.Run();
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average() * 0.8, $"loss {losses.First():F3} -> {losses.Last():F3}");
    }

    public static TheoryData<string, string> FrozenParts => new()
    {
        { "freeze-vision freeze-decoder", "vision_encoder. decoder." },
        { "lr-vision=0 lr-language=0", "vision_encoder. decoder." },
        { "lr-mp=0", "MP." },
        { "lr-vision=0", "vision_encoder." },
        { "lr-mp=0 freeze-decoder", "MP. decoder." },
    };

    [Theory]
    [MemberData(nameof(FrozenParts))]
    public void PartsAtLearningRateZeroOrFrozenDoNotChange(string settings, string frozenPrefixes)
    {
        using var data = new TinyData();
        using var runs = new TempDir();
        using var model = data.NewModel();
        var before = Weights(model.Model);
        var options = Options with { MaxSteps = 2, LrVision = 2e-3, LrLanguage = 1e-3 };
        foreach (var setting in settings.Split(' '))
            options = setting switch
            {
                "freeze-vision" => options with { FreezeVision = true },
                "freeze-decoder" => options with { FreezeDecoder = true },
                "lr-mp=0" => options with { LrMp = 0 },
                "lr-vision=0" => options with { LrVision = 0 },
                "lr-language=0" => options with { LrLanguage = 0 },
                _ => throw new ArgumentException(setting),
            };
        new Trainer(model, options, runs.Path, data.TrainingData(options)).Run();
        foreach (var (name, p) in model.Model.named_parameters())
        {
            var frozen = frozenPrefixes.Split(' ').Any(name.StartsWith);
            Assert.Equal(frozen, p.eq(before[name]).all().item<bool>());
            Assert.Equal(!frozen, p.requires_grad);
        }
    }

    [Fact]
    public void NothingToTrainIsAnError()
    {
        var e = Assert.Throws<NanoVlmException>(() => (Options with { LrMp = 0, LrVision = 0, FreezeDecoder = true }).Validate());
        Assert.Contains("nothing to train", e.Message);
        Assert.Contains("LrVision", Assert.Throws<NanoVlmException>(() => (Options with { LrVision = -1 }).Validate()).Message);
    }

    [Fact]
    public void LrBackbonesSetsBothBackbonesAndOldRunFilesStillRead()
    {
        var both = Options with { LrBackbones = 5e-4 };
        Assert.Equal((5e-4, 5e-4), (both.LrVision, both.LrLanguage));
        var old = System.Text.Json.JsonSerializer.Deserialize<TrainingOptions>("""{"LrMp":0.003,"LrBackbones":0.0007}""")!;
        Assert.Equal((0.003, 7e-4, 7e-4), (old.LrMp, old.LrVision, old.LrLanguage));
        var split = Options with { LrVision = 1e-5, LrLanguage = 2e-5 };
        var json = System.Text.Json.JsonSerializer.Serialize(split);
        Assert.DoesNotContain("LrBackbones", json);
        Assert.Equal(split, System.Text.Json.JsonSerializer.Deserialize<TrainingOptions>(json));

        var before = System.Text.Json.JsonSerializer.Deserialize<TrainArgs>("""{"Data":["fashion-mnist"],"Options":{"LrBackbones":0.0007}}""")!;
        Assert.Null(before.Packing); // runs from before packing resume unpacked
        Assert.Equal(MinRatings.Default, before.MinRatings);
        var now = new TrainArgs { Packing = new PackingOptions { MaxImagesPerPack = 6 }, MinRatings = new MinRatings(Formatting: 3), Options = split };
        var again = System.Text.Json.JsonSerializer.Deserialize<TrainArgs>(System.Text.Json.JsonSerializer.Serialize(now))!;
        Assert.Equal((now.Packing, now.MinRatings, now.Options), (again.Packing, again.MinRatings, again.Options));
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
