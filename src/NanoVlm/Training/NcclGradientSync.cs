using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>
/// The processes of an MPI job with their gradients on GPUs: gradients (and a sharded optimizer's blocks) combined by NCCL in device
/// memory; scalars and barriers through MPI, which also started the job and carried NCCL's id. Without MPI (<paramref name="world"/>
/// null) a process alone with a communicator of one: what a single-GPU check of the NCCL path runs.
/// </summary>
public sealed class NcclGradientSync(Mpi? world, Nccl nccl) : GradientSync
{
    readonly MpiGradientSync? host = world is null ? null : new(world);

    public override int Rank => world?.Rank ?? 0;
    public override int WorldSize => world?.Size ?? 1;

    public override void AverageGradients(IReadOnlyList<Tensor> gradients)
    {
        foreach (var grad in gradients)
        {
            Require(grad);
            nccl.SumInPlace(TensorMemory.Pointer(grad), grad.numel());
            using (no_grad()) grad.div_(WorldSize);
        }
    }

    public override void ReduceScatterMean(Tensor full, Tensor shard)
    {
        Require(full);
        Require(shard);
        nccl.ReduceScatter(TensorMemory.Pointer(full), TensorMemory.Pointer(shard), shard.numel());
        using (no_grad()) shard.div_(WorldSize);
    }

    public override void AllGather(Tensor full)
    {
        Require(full);
        nccl.AllGatherInPlace(TensorMemory.Pointer(full), Rank, full.numel() / WorldSize);
    }

    static void Require(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CUDA || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new NanoVlmException($"NCCL combines contiguous fp32 tensors on the GPU; got {t.dtype} on {t.device}");
    }

    public override double Sum(double value) => host?.Sum(value) ?? value;

    public override void Barrier() => host?.Barrier();

    public override void Dispose()
    {
        nccl.Dispose();
        base.Dispose();
    }
}
