using NanoVlm.Data;
using NanoVlm.Runtime;
namespace NanoVlm.Training;

/// <summary>The recipe (spec §8). Defaults follow nanoVLM's train config.</summary>
public sealed record TrainingOptions
{
    /// <summary>Peak learning rates of the projector, the vision encoder and the decoder; 0 freezes that part.</summary>
    public double LrMp { get; init; } = 2e-3;
    public double LrVision { get; init; } = 1e-4;
    public double LrLanguage { get; init; } = 1e-4;
    /// <summary>Sets <see cref="LrVision"/> and <see cref="LrLanguage"/> (run.json files of older runs hold this).</summary>
    public double LrBackbones { init => (LrVision, LrLanguage) = (value, value); }
    public int BatchSize { get; init; } = 32;
    public int GradientAccumulationSteps { get; init; } = 4;
    public double MaxGradNorm { get; init; } = 1.0;
    public int Epochs { get; init; } = 5;
    /// <summary>Optimizer steps; null = batches per epoch × epochs / gradient accumulation.</summary>
    public int? MaxSteps { get; init; }
    public int EvalInterval { get; init; } = 250;
    public double ValRatio { get; init; } = 0.025;
    public int Seed { get; init; }
    /// <summary>Same as <see cref="LrVision"/> 0.</summary>
    public bool FreezeVision { get; init; }
    /// <summary>Same as <see cref="LrLanguage"/> 0.</summary>
    public bool FreezeDecoder { get; init; }
    /// <summary>bf16 compute with fp32 master weights (TorchSharp has no autocast, so a bf16 copy of the model runs the steps).</summary>
    public bool Bf16 { get; init; }
    /// <summary>Also write a resumable checkpoint every this many optimizer steps (0 = only at evaluations and the end).</summary>
    public int CheckpointInterval { get; init; }
    /// <summary>Steps whose loss or gradient is NaN/Inf are skipped; after this many the run stops.</summary>
    public int MaxBadSteps { get; init; } = 10;
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>
    /// ZeRO stage 1 with several processes: each keeps the AdamW moments of its block of the weights only (1/N of the optimizer
    /// memory), with the same numbers as unsharded; checkpoints hold the whole state, so a run resumes at any world size.
    /// </summary>
    public bool ShardOptimizer { get; init; }
    /// <summary>The peak learning rate of a LoRA adapter's weights (PEFT's usual range is 1e-4 to 3e-4).</summary>
    public double LrLora { get; init; } = 2e-4;

    /// <summary>The largest batch accepted (samples per micro-batch).</summary>
    public const int MaxBatchSize = VqaDataLoader.MaxBatchSize;

    public void Validate()
    {
        Check(LrMp >= 0 && double.IsFinite(LrMp), nameof(LrMp), $"must be a finite number >= 0, got {LrMp}");
        Check(LrVision >= 0 && double.IsFinite(LrVision), nameof(LrVision), $"must be a finite number >= 0, got {LrVision}");
        Check(LrLanguage >= 0 && double.IsFinite(LrLanguage), nameof(LrLanguage), $"must be a finite number >= 0, got {LrLanguage}");
        Check(LrLora > 0 && double.IsFinite(LrLora), nameof(LrLora), $"must be a finite number > 0, got {LrLora}");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), $"must be a finite number >= 0, got {WeightDecay}");
        Check(BatchSize is > 0 and <= MaxBatchSize, nameof(BatchSize), $"must be between 1 and {MaxBatchSize}, got {BatchSize}");
        Check(GradientAccumulationSteps > 0, nameof(GradientAccumulationSteps), $"must be > 0, got {GradientAccumulationSteps}");
        Check(MaxGradNorm > 0 && double.IsFinite(MaxGradNorm), nameof(MaxGradNorm), $"must be a finite number > 0, got {MaxGradNorm}");
        Check(Epochs > 0, nameof(Epochs), $"must be > 0, got {Epochs}");
        Check(MaxSteps is null or > 0, nameof(MaxSteps), $"must be > 0, got {MaxSteps}");
        Check(EvalInterval > 0, nameof(EvalInterval), $"must be > 0, got {EvalInterval}");
        Check(ValRatio is >= 0 and < 1, nameof(ValRatio), $"must be in [0, 1), got {ValRatio}");
        Check(LrMp > 0 || (LrVision > 0 && !FreezeVision) || (LrLanguage > 0 && !FreezeDecoder),
            "nothing to train: every part is frozen or at learning rate 0");
        Check(MaxBadSteps > 0, nameof(MaxBadSteps), $"must be > 0, got {MaxBadSteps}");
        Check(CheckpointInterval >= 0, nameof(CheckpointInterval), $"must be >= 0, got {CheckpointInterval}");
    }

    /// <summary>
    /// The optimizer steps of a run over <paramref name="batchesPerEpoch"/> batches an epoch: <see cref="MaxSteps"/>, else epochs x
    /// batches / accumulation. Refused when one step would need more micro-batches than the run's epochs hold (it would never
    /// come), or when the count overflows.
    /// </summary>
    public int Steps(int batchesPerEpoch)
    {
        Validate();
        var batches = (long)batchesPerEpoch * Epochs;
        Check(GradientAccumulationSteps <= batches, nameof(GradientAccumulationSteps),
            $"{GradientAccumulationSteps} needs more micro-batches than the {batches:N0} of {Epochs} epoch(s) of {batchesPerEpoch:N0}: no optimizer step could happen");
        var steps = MaxSteps ?? Math.Max(1, batches / GradientAccumulationSteps);
        Check(steps <= int.MaxValue, nameof(Epochs), $"{Epochs} gives {steps:N0} optimizer steps, over the limit of {int.MaxValue:N0}");
        return (int)steps;
    }

    static void Check(bool ok, string message)
    {
        if (!ok) throw new NanoVlmException(message);
    }

    static void Check(bool ok, string parameter, string problem)
    {
        if (!ok) throw NanoVlmException.For(parameter, problem);
    }
}
