using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>
/// The processes of an MPI job (mpirun, srun): gradients summed with MPI_Allreduce on the CPU, in place in each optimizer group's
/// flat buffer (one call per group: the buffers are already what DDP's buckets are for).
/// </summary>
public sealed class MpiGradientSync(Mpi world) : GradientSync
{
    public override int Rank => world.Rank;
    public override int WorldSize => world.Size;

    public override unsafe void AverageGradients(IReadOnlyList<Tensor> gradients)
    {
        foreach (var grad in gradients)
        {
            Require(grad);
            for (long offset = 0; offset < grad.numel(); offset += int.MaxValue)
            {
                var count = (int)Math.Min(int.MaxValue, grad.numel() - offset);
                world.SumInPlace((float*)TensorMemory.Pointer(grad) + offset, count);
            }
            using (no_grad()) grad.div_(world.Size);
        }
    }

    public override unsafe void ReduceScatterMean(Tensor full, Tensor shard)
    {
        Require(full);
        Require(shard);
        if (full.numel() != shard.numel() * world.Size) throw new ArgumentException($"{full.numel()} values do not split into {world.Size} shards of {shard.numel()}");
        world.ReduceScatter((float*)TensorMemory.Pointer(full), (float*)TensorMemory.Pointer(shard), checked((int)shard.numel()));
        using (no_grad()) shard.div_(world.Size);
    }

    public override unsafe void AllGather(Tensor full)
    {
        Require(full);
        world.AllGatherInPlace((float*)TensorMemory.Pointer(full), checked((int)(full.numel() / world.Size)));
    }

    static void Require(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new NanoVlmException($"MPI combines contiguous fp32 tensors on the CPU; got {t.dtype} on {t.device}");
    }

    public override double Sum(double value) => world.Sum(value);

    public override void Barrier() => world.Barrier();
}
