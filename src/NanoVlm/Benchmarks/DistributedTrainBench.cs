using NanoVlm.Models;
using TorchSharp;
using NanoVlm.Runtime;
using NanoVlm.Training;
using static TorchSharp.torch;

namespace NanoVlm.Benchmarks;

public sealed record DistributedTrainBenchOptions
{
    public string Preset { get; init; } = "222m";
    public int BatchSize { get; init; } = 2;
    public int SeqLen { get; init; } = 128;
    /// <summary>Timed steps, after one warm-up step.</summary>
    public int Steps { get; init; } = 3;
    public ScalarType Dtype { get; init; } = ScalarType.Float32;
    public IReadOnlyList<bool> ShardOptimizer { get; init; } = [false, true];
    /// <summary>auto, mpi or nccl (<see cref="GradientSync.For"/>).</summary>
    public string Backend { get; init; } = "auto";
    public Device Device { get; init; } = CPU;
}

/// <summary>
/// One configuration of <c>mpirun -np N nanovlm bench train --distributed</c>, from rank 0: the median step and its parts
/// (compute: forward and backward; communication: combining the gradients; optimizer: clipping, AdamW, a sharded optimizer's
/// all-gather), the gradient bytes reduced, the algorithm and bus bandwidth as nccl-tests defines them (algbw = bytes / time;
/// busbw = algbw x 2(N-1)/N for an all-reduce), the share of communication hidden behind backward (none: TorchSharp has no
/// backward hooks, so gradients are combined after backward), the optimizer state and peak RSS per process (of the processes
/// other than rank 0, whose peak includes the one-process baseline; run one configuration per job for clean peaks), and the scaling
/// efficiency against one process running the same per-process batch alone (weak scaling: step time of one / step time of N).
/// </summary>
public sealed record DistributedTrainBenchRow(string Preset, int Processes, string Backend, int BatchSize, int SeqLen, string Dtype, bool ShardOptimizer,
    double StepS, double ComputeS, double CommunicationS, double OptimizerS, long BytesReduced, double AlgbwGbs, double BusbwGbs, double HiddenShare,
    long OptimizerStateBytes, long PeakRssBytes, double OneProcessStepS, double ScalingEfficiency, double SamplesPerS, int Threads, string Device);

public static class DistributedTrainBench
{
    /// <summary>Rows on rank 0 (the other processes take part and return none).</summary>
    public static IEnumerable<DistributedTrainBenchRow> Run(DistributedTrainBenchOptions o)
    {
        if (!Mpi.Launched && o.Backend != "nccl")
            throw NanoVlmException.For("Backend", $"'{o.Backend}': data-parallel steps are measured in a job of several processes (start it with mpirun -np N or srun); one process alone measures only nccl (a communicator of one)");
        if (o.Steps < 1) throw NanoVlmException.For("Steps", $"must be >= 1, got {o.Steps}");
        var cfg = Presets.Get(o.Preset);
        using var sync = GradientSync.For(o.Backend, o.Device);
        var backend = sync is NcclGradientSync ? "nccl" : "mpi";
        var rows = new List<DistributedTrainBenchRow>();
        foreach (var shard in o.ShardOptimizer)
        {
            manual_seed(0);
            using var model = new VisionLanguageModel(cfg);
            model.to(o.Device);
            using var data = SyntheticBatch.Create(model, o.BatchSize, o.SeqLen);
            // One process alone, the others waiting: the per-process batch without anyone to meet.
            double one = double.NaN;
            sync.Barrier();
            if (sync.IsMain)
                using (var alone = new BenchTraining(model, o.Dtype, 0))
                    one = Timing.Median(o.Device, o.Steps, () => alone.Step(data));
            sync.Barrier();
            using var trainer = new BenchTraining(model, o.Dtype, 0, shard ? sync : null);
            trainer.DistributedStep(data, sync, o.Device); // warm-up
            var parts = Enumerable.Range(0, o.Steps).Select(_ => trainer.DistributedStep(data, sync, o.Device)).ToList();
            double Median(Func<(double Compute, double Communication, double Optimizer), double> part) => Timing.MedianOf(parts.Select(part));
            var (computeS, commS, optS) = (Median(p => p.Compute), Median(p => p.Communication), Median(p => p.Optimizer));
            var stepS = Median(p => p.Compute + p.Communication + p.Optimizer);
            // The largest peak RSS of the processes other than rank 0, which also ran the one-process baseline (peak RSS never falls).
            var peak = MaxOver(sync, sync.IsMain && sync.WorldSize > 1 ? 0 : MemoryBench.PeakRssBytes());
            var n = sync.WorldSize;
            // A sharded step's reduce-scatter moves half an all-reduce's bytes per process; the all-gather (in the optimizer part) the other half.
            var algbw = trainer.GradientBytes / commS / 1e9;
            var busFactor = shard ? (n - 1.0) / n : 2.0 * (n - 1) / n;
            if (sync.IsMain)
                rows.Add(new DistributedTrainBenchRow(o.Preset, n, backend, o.BatchSize, o.SeqLen, BenchDtypes.Name(o.Dtype), shard, stepS, computeS, commS, optS,
                    trainer.GradientBytes, algbw, algbw * busFactor, 0.0, trainer.OptimizerStateBytes, peak, one, one / stepS,
                    o.BatchSize * n / stepS, get_num_threads(), Devices.Name(o.Device)));
        }
        return rows;
    }

    static long MaxOver(GradientSync sync, long value)
    {
        // Each process's value through one sum per process (the others add 0): a handful of scalars, no gather needed.
        var values = new double[sync.WorldSize];
        for (var r = 0; r < sync.WorldSize; r++) values[r] = sync.Sum(sync.Rank == r ? value : 0);
        return (long)values.Max();
    }
}
