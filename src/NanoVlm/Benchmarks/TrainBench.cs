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
    public Device Device { get; init; } = CPU;
}

public sealed record TrainBenchRow(string Preset, int BatchSize, int SeqLen, string Dtype, double StepS, double SamplesPerS,
    double TokensPerS, double ModelGflopPerStep, double PeakGflops, double Mfu, int Threads, string Device);

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
            manual_seed(0);
            using var model = new VisionLanguageModel(cfg);
            model.to(o.Device);
            using var optimizer = new AdamW([new ParamGroup("all", model.UniqueNamedParameters()) { Lr = 1e-4 }]);
            using var compute = dtype == ScalarType.Float32 ? null : new ComputeCopy(model, optimizer, dtype);
            foreach (var batch in o.BatchSizes)
            {
                using var data = SyntheticBatch.Create(model, batch, o.SeqLen);
                var seconds = Timing.Median(o.Device, o.Steps, () => Step(model, compute, optimizer, data));
                var gflop = ModelFlops.Forward(cfg, batch, o.SeqLen, imagesPerSample: 1).TrainingStep / 1e9;
                yield return new TrainBenchRow(o.Preset, batch, o.SeqLen, BenchDtypes.Name(dtype), seconds, batch / seconds,
                    batch * o.SeqLen / seconds, gflop, peak, gflop / seconds / peak, get_num_threads(), Devices.Name(o.Device));
            }
        }
    }

    /// <summary>
    /// One optimizer step as the trainer runs it, reading the loss and gradient norm back once; with a
    /// <paramref name="compute"/> copy its gradients go to the fp32 master weights.
    /// </summary>
    internal static void Step(VisionLanguageModel model, ComputeCopy? compute, AdamW optimizer, SyntheticBatch data)
    {
        var worker = compute?.Model ?? model;
        model.train();
        worker.train();
        using var scope = NewDisposeScope();
        var (_, loss) = worker.call(data.InputIds, data.Images, data.AttentionMask, data.Targets, null);
        loss!.backward();
        compute?.MoveGradients();
        stack([loss.detach(), optimizer.ClipGradNorm(1.0)]).cpu();
        optimizer.Step();
        compute?.RefreshWeights();
        optimizer.ZeroGrad();
    }
}
