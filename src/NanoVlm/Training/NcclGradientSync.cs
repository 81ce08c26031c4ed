using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>
/// The processes of an MPI job with their gradients on GPUs: gradients (and a sharded optimizer's blocks) combined by NCCL in device
/// memory; scalars and barriers through MPI, which also started the job and carried NCCL's id.
/// </summary>
public sealed class NcclGradientSync(Mpi world, Nccl nccl) : GradientSync
{
    readonly MpiGradientSync host = new(world);

    public override int Rank => world.Rank;
    public override int WorldSize => world.Size;

    public override void AverageGradients(IReadOnlyList<Tensor> gradients)
    {
        foreach (var grad in gradients)
        {
            Require(grad);
            nccl.SumInPlace(TensorMemory.Pointer(grad), grad.numel());
            using (no_grad()) grad.div_(world.Size);
        }
    }

    public override void ReduceScatterMean(Tensor full, Tensor shard)
    {
        Require(full);
        Require(shard);
        nccl.ReduceScatter(TensorMemory.Pointer(full), TensorMemory.Pointer(shard), shard.numel());
        using (no_grad()) shard.div_(world.Size);
    }

    public override void AllGather(Tensor full)
    {
        Require(full);
        nccl.AllGatherInPlace(TensorMemory.Pointer(full), world.Rank, full.numel() / world.Size);
    }

    static void Require(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CUDA || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new NanoVlmException($"NCCL combines contiguous fp32 tensors on the GPU; got {t.dtype} on {t.device}");
    }

    public override double Sum(double value) => host.Sum(value);

    public override void Barrier() => host.Barrier();

    public override void Dispose()
    {
        nccl.Dispose();
        base.Dispose();
    }
}
