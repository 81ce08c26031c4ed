using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>The step's mean loss and gradient norm (over every process), and whether the weights moved.</summary>
internal readonly record struct StepOutcome(double Loss, double GradNorm, bool Applied);

/// <summary>
/// One optimizer step after the micro-batches of gradient accumulation: gradients combined across processes, clipped, the learning
/// rate of the schedule, AdamW, the bf16 copy refreshed. A step whose loss or gradient is not finite is skipped; after
/// <see cref="TrainingOptions.MaxBadSteps"/> of them the run stops.
/// </summary>
internal sealed class OptimizerStep(AdamW optimizer, IReadOnlyList<(ParamGroup Group, double PeakLr)> groups, ComputeCopy? compute,
    TrainingOptions options, GradientSync sync, Action<string>? note)
{
    public int BadSteps { get; set; }

    public StepOutcome Take(int step, int maxSteps, Tensor lossTotal, int microBatches, string? lastSaved)
    {
        using var scope = NewDisposeScope(); // frees the temporaries of clipping and AdamW every step
        optimizer.CombineGradients(sync);
        using var read = stack([lossTotal / microBatches, optimizer.ClipGradNorm(options.MaxGradNorm).to(float64)]).cpu();
        var (loss, gradNorm) = (sync.Mean(read[0].item<double>()), read[1].item<double>());
        lossTotal.zero_();
        var applied = double.IsFinite(loss) && double.IsFinite(gradNorm);
        if (applied)
        {
            foreach (var (group, peak) in groups) group.Lr = LrSchedule.At(step, peak, maxSteps);
            optimizer.Step();
            compute?.RefreshWeights();
        }
        else
        {
            BadSteps++;
            note?.Invoke($"step {step}: loss {loss} / grad norm {gradNorm} is not finite, step skipped ({BadSteps}/{options.MaxBadSteps})");
            if (BadSteps >= options.MaxBadSteps)
                throw new NanoVlmException($"training stopped after {BadSteps} non-finite steps; last good checkpoint: {lastSaved ?? "none"}");
        }
        optimizer.ZeroGrad();
        return new StepOutcome(loss, gradNorm, applied);
    }
}
