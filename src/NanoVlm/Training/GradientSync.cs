using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>
/// Where the processes of a data-parallel run meet: after backward, each optimizer step's accumulated gradients are averaged
/// over them before clipping; scalars for the log are averaged the same way (nanoVLM's <c>dist_mean_scalar</c>). One process
/// (<see cref="Local"/>) has nothing to combine.
/// </summary>
public abstract class GradientSync : IDisposable
{
    /// <summary>A run in one process.</summary>
    public static GradientSync Local { get; } = new LocalSync();

    public abstract int Rank { get; }
    public abstract int WorldSize { get; }
    /// <summary>The process that writes checkpoints, metrics and the console (rank 0).</summary>
    public bool IsMain => Rank == 0;

    /// <summary>Replaces each gradient buffer by its mean over the processes, in place.</summary>
    public abstract void AverageGradients(IReadOnlyList<Tensor> gradients);

    /// <summary>
    /// A sharded optimizer's gradients: the mean over the processes of <paramref name="full"/> (world x shard long), of which this
    /// process keeps its block (<see cref="Rank"/>) in <paramref name="shard"/>.
    /// </summary>
    public abstract void ReduceScatterMean(Tensor full, Tensor shard);

    /// <summary>A sharded optimizer's weights: each process's block of <paramref name="full"/> copied to every process, in place.</summary>
    public abstract void AllGather(Tensor full);

    /// <summary>The sum of <paramref name="value"/> over the processes.</summary>
    public abstract double Sum(double value);

    /// <summary>The mean of <paramref name="value"/> over the processes.</summary>
    public double Mean(double value) => Sum(value) / WorldSize;

    /// <summary>Waits until every process is here.</summary>
    public abstract void Barrier();

    /// <summary>The processes this one was started with: an MPI job's (mpirun, srun) or this one alone.</summary>
    public static GradientSync FromEnvironment() => Mpi.Launched ? new MpiGradientSync(Mpi.World) : Local;

    /// <summary>
    /// How the processes of a job combine gradients on <paramref name="device"/>: <c>mpi</c> (CPU memory), <c>nccl</c> (GPU memory,
    /// NCCL's communicator on this process's GPU), or <c>auto</c>: NCCL for a GPU, MPI otherwise. One process alone needs neither,
    /// but <c>nccl</c> named explicitly gives it a communicator of one (the single-GPU check of the NCCL path).
    /// </summary>
    public static GradientSync For(string backend, Device device)
    {
        var gpu = device.type == TorchSharp.DeviceType.CUDA;
        var nccl = backend switch
        {
            "auto" => gpu,
            "mpi" when gpu => throw NanoVlmException.For("Distributed", "mpi combines gradients in CPU memory, but the model is on the GPU: use nccl (or auto)"),
            "mpi" => false,
            "nccl" when !gpu => throw NanoVlmException.For("Distributed", "nccl combines gradients in GPU memory, but the model is on the CPU: use mpi (or auto), or a GPU device"),
            "nccl" => true,
            _ => throw NanoVlmException.For("Distributed", $"'{backend}' is not auto, mpi or nccl"),
        };
        var gpuIndex = Math.Max(0, (int)device.index);
        if (!Mpi.Launched)
            return backend == "nccl" ? new NcclGradientSync(null, new Nccl(0, 1, _ => { }, gpuIndex)) : Local;
        if (!nccl) return new MpiGradientSync(Mpi.World);
        return new NcclGradientSync(Mpi.World, new Nccl(Mpi.World.Rank, Mpi.World.Size, Mpi.World.Broadcast, gpuIndex));
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    sealed class LocalSync : GradientSync
    {
        public override int Rank => 0;
        public override int WorldSize => 1;
        public override void AverageGradients(IReadOnlyList<Tensor> gradients) { }
        public override void ReduceScatterMean(Tensor full, Tensor shard) => shard.copy_(full);
        public override void AllGather(Tensor full) { }
        public override double Sum(double value) => value;
        public override void Barrier() { }
    }
}
