using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Training;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;

namespace NanoVlm.Tests.Reliability;

/// <summary>A loss that turns NaN/Inf (here: poisoned images from some batch on) skips the step, is logged, and after
/// <see cref="TrainingOptions.MaxBadSteps"/> stops the run leaving the last good checkpoint intact and loadable.</summary>
public sealed class NonFiniteLossTests : IDisposable
{
    readonly TempDir _dir = new();
    const int BatchesPerEpoch = 10;

    static TrainingData Data(VisionLanguageModel model, Func<int, bool> poisoned) => new(epoch => Batches(model, epoch, poisoned), BatchesPerEpoch);

    static IEnumerable<VlmBatch> Batches(VisionLanguageModel model, int epoch, Func<int, bool> poisoned)
    {
        for (var i = 0; i < BatchesPerEpoch; i++)
        {
            var index = epoch * BatchesPerEpoch + i;
            var (ids, mask, images) = TestModels.Batch(model, [1, 1], [5, 7], seed: index);
            if (poisoned(index)) images!.fill_(index % 2 == 0 ? double.NaN : double.PositiveInfinity);
            var labels = ids.masked_fill(mask.eq(0), -100);
            yield return new VlmBatch(ids, mask, labels, images!, [], []);
        }
    }

    static TrainingOptions Options(int maxBadSteps) => new()
    {
        BatchSize = 2, GradientAccumulationSteps = 1, MaxSteps = 12, EvalInterval = 1000, CheckpointInterval = 1, MaxBadSteps = maxBadSteps,
    };

    [Fact]
    public void Persistent_nan_skips_logs_and_aborts_leaving_the_last_good_checkpoint()
    {
        using var vlm = TestModels.Vlm(TestModels.Create());
        var model = vlm.Model;
        var trainer = new Trainer(vlm, Options(maxBadSteps: 3), _dir.Path, Data(model, index => index >= 4));
        var notes = new List<string>();
        trainer.Note += notes.Add;

        var e = HostileInput.Refused(() => trainer.Run(), "step-0000004", "training stopped after 3 non-finite steps");
        Assert.Contains("last good checkpoint", e);
        Assert.Equal(3, notes.Count(n => n.Contains("is not finite, step skipped")));
        var metrics = File.ReadAllLines(Path.Combine(_dir.Path, "metrics.jsonl"));
        // The third bad step stops the run before its metrics line: the exception reports it.
        Assert.Equal(2, metrics.Count(l => l.Contains("\"train_loss\":\"NaN\"") || l.Contains("\"train_loss\":\"Infinity\"")));

        var latest = TrainingState.LatestFolder(_dir.Path)!;
        Assert.EndsWith("step-0000004", latest);
        using var saved = Checkpoint.Load(latest);
        var current = model.state_dict();
        foreach (var (name, t) in saved.state_dict())
        {
            Assert.True(t.isfinite().all().item<bool>(), $"{name} is not finite in the last good checkpoint");
            Assert.True(t.eq(current[name]).all().item<bool>(), $"{name}: skipped steps changed the weights");
        }
    }

    [Fact]
    public void A_transient_nan_is_skipped_and_the_run_completes()
    {
        using var vlm = TestModels.Vlm(TestModels.Create());
        var model = vlm.Model;
        var trainer = new Trainer(vlm, Options(maxBadSteps: 3), _dir.Path, Data(model, index => index is 3 or 7));
        var notes = new List<string>();
        trainer.Note += notes.Add;
        var result = trainer.Run();
        Assert.Equal(12, result.Steps);
        Assert.Equal(2, notes.Count(n => n.Contains("step skipped")));
        foreach (var (name, t) in model.state_dict()) Assert.True(t.isfinite().all().item<bool>(), name);
        Assert.EndsWith("step-0000012", TrainingState.LatestFolder(_dir.Path));
    }

    public void Dispose() => _dir.Dispose();
}
