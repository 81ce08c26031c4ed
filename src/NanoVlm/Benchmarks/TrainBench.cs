using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

public sealed record TrainBenchOptions
{
    public string Preset { get; init; } = "222m";
    public IReadOnlyList<int> BatchSizes { get; init; } = [1, 4];
    public int SeqLen { get; init; } = 128;
    /// <summary>Timed optimizer steps per configuration, after one untimed warm-up step.</summary>
    public int Steps { get; init; } = 2;
    public IReadOnlyList<ScalarType> Dtypes { get; init; } = [ScalarType.Float32, ScalarType.BFloat16];
    public IReadOnlyList<int> PeakSizes { get; init; } = [512, 1024, 2048];
    public int PeakRepeats { get; init; } = 3;
    /// <summary>0: full training; r > 0: a LoRA adapter of rank r on the decoder's linears, the model frozen.</summary>
    public IReadOnlyList<int> LoraRanks { get; init; } = [0];
    public Device Device { get; init; } = CPU;
}

public sealed record TrainBenchRow(string Preset, int BatchSize, int SeqLen, string Dtype, double StepS, double SamplesPerS,
    double TokensPerS, double ModelGflopPerStep, double PeakGflops, double Mfu, int Threads, string Device, string Training,
    long TrainableParameters, long CheckpointBytes);

/// <summary>
/// Time of one full training step (forward, backward, gradient clipping, AdamW) on random weights and inputs, as the
/// trainer runs it: fp32, or bf16 compute with fp32 master weights. MFU = model FLOPs per second / measured matmul peak.
/// </summary>
public static class TrainBench
{
    public static IEnumerable<TrainBenchRow> Run(TrainBenchOptions o)
    {
        var cfg = Presets.Get(o.Preset);
        foreach (var dtype in o.Dtypes)
        {
            var peak = MachinePeak.MatmulGflops(dtype, o.PeakSizes, o.PeakRepeats, o.Device);
            foreach (var rank in o.LoraRanks)
            {
                manual_seed(0);
                using var model = new VisionLanguageModel(cfg);
                model.to(o.Device);
                using var trainer = new BenchTraining(model, dtype, rank);
                foreach (var batch in o.BatchSizes)
                {
                    using var data = SyntheticBatch.Create(model, batch, o.SeqLen);
                    var seconds = Timing.Median(o.Device, o.Steps, () => trainer.Step(data));
                    // The model FLOPs of a full training step. A LoRA step skips the weight gradients and the vision tower's backward:
                    // its utilisation against that count would mean nothing, so it has none (NaN).
                    var gflop = ModelFlops.Forward(cfg, batch, o.SeqLen, imagesPerSample: 1).TrainingStep / 1e9;
                    yield return new TrainBenchRow(o.Preset, batch, o.SeqLen, BenchDtypes.Name(dtype), seconds, batch / seconds,
                        batch * o.SeqLen / seconds, gflop, peak, rank > 0 ? double.NaN : gflop / seconds / peak, get_num_threads(), Devices.Name(o.Device),
                        trainer.Name, trainer.TrainableParameters, trainer.CheckpointBytes);
                }
            }
        }
    }
}
