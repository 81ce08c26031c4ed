using TorchSharp.Modules;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>One set of parameters sharing a learning rate (nanoVLM: the projector, and the two backbones).</summary>
public sealed record ParamGroup(string Name, IReadOnlyList<(string Name, Parameter Param)> Params)
{
    public double Lr { get; set; }
}

/// <summary>
/// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments), over each group's parameters
/// and gradients flattened into one buffer (<see cref="FlatParameters"/>): a step is a handful of whole-buffer operations
/// and reads nothing back to the host. Every parameter of a group is updated each step, one that got no gradient with a
/// zero gradient (torch with <c>zero_grad(set_to_none=False)</c>). Its state is plain named tensors we checkpoint and
/// restore bit for bit.
/// <para>
/// Sharded (ZeRO stage 1, <paramref name="shardOver"/> with several processes): each buffer splits into one block per process;
/// a process keeps the moments of its block only, gets the mean gradient of its block (<see cref="GradientSync.ReduceScatterMean"/>),
/// updates its block of the weights and the processes exchange the blocks (<see cref="GradientSync.AllGather"/>). The arithmetic
/// per value is the unsharded one; the moments take 1/N of the memory.
/// </para>
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly double beta1, beta2, eps, weightDecay;
    readonly (Tensor M, Tensor V)[] moments;
    readonly Tensor[] mixWeights;
    readonly GradientSync? shards;
    readonly Tensor[] gradShards;
    (Tensor M, Tensor V)[]? gathered;

    public AdamW(IReadOnlyList<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01,
        GradientSync? shardOver = null)
    {
        (this.beta1, this.beta2, this.eps, this.weightDecay) = (beta1, beta2, eps, weightDecay);
        shards = shardOver is { WorldSize: > 1 } ? shardOver : null;
        var world = shards?.WorldSize ?? 1;
        Groups = groups;
        Buffers = groups.Select(g => new FlatParameters(g.Params, world)).ToList();
        gradShards = shards is null ? [] : Buffers.Select(b => zeros(b.Grad.numel() / world, b.Grad.dtype, b.Grad.device).DetachFromDisposeScope()).ToArray();
        moments = Buffers.Select(b => (zeros(b.Data.numel() / world, b.Data.dtype, b.Data.device).DetachFromDisposeScope(),
            zeros(b.Data.numel() / world, b.Data.dtype, b.Data.device).DetachFromDisposeScope())).ToArray();
        mixWeights = Buffers.Select(b => full([], 1 - beta1, b.Data.dtype, b.Data.device).DetachFromDisposeScope()).ToArray();
    }

    public IReadOnlyList<ParamGroup> Groups { get; }

    /// <summary>Each group's parameters and gradients as flat buffers, in group order.</summary>
    public IReadOnlyList<FlatParameters> Buffers { get; }

    public long Steps { get; private set; }

    /// <summary>The bytes of the moments this process holds.</summary>
    public long StateBytes => moments.Sum(m => m.M.numel() * m.M.element_size() + m.V.numel() * m.V.element_size());

    /// <summary>Whether the moments are split over the processes (ZeRO stage 1).</summary>
    public bool Sharded => shards is not null;

    /// <summary>This process's block of a flat buffer (all of it when not sharded).</summary>
    Tensor Block(Tensor flat) => shards is null ? flat : flat.narrow(0, shards.Rank * (flat.numel() / shards.WorldSize), flat.numel() / shards.WorldSize);

    /// <summary>The gradients this step uses, combined over the processes: whole buffers averaged, or this process's blocks of the mean.</summary>
    IReadOnlyList<Tensor> StepGradients => shards is null ? [.. Buffers.Select(b => b.Grad)] : gradShards;

    /// <summary>Combines the accumulated gradients over the processes (every process calls it).</summary>
    public void CombineGradients(GradientSync sync)
    {
        if (shards is null) sync.AverageGradients(Buffers.Select(b => b.Grad).ToList());
        else
            for (var i = 0; i < Buffers.Count; i++) shards.ReduceScatterMean(Buffers[i].Grad, gradShards[i]);
    }

    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        DropGathered();
        Steps++;
        var correction1 = 1 - Math.Pow(beta1, Steps);
        var correction2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, Steps));
        var grads = StepGradients;
        for (var i = 0; i < Groups.Count; i++)
        {
            var (p, grad, (m, v), lr) = (Block(Buffers[i].Data), grads[i], moments[i], Groups[i].Lr);
            p.mul_(1 - lr * weightDecay);
            m.lerp_(grad, mixWeights[i]);
            v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
            var denom = v.sqrt().div_(correction2Sqrt).add_(eps);
            p.addcdiv_(m, denom, -lr / correction1);
        }
        if (shards is not null)
            foreach (var b in Buffers) shards.AllGather(b.Data);
    }

    /// <summary>
    /// Scales every gradient so that their joint L2 norm is at most <paramref name="maxNorm"/> (torch's clip_grad_norm_)
    /// and returns the norm before clipping as a 0-dim tensor on the device, so that the caller decides when to read it.
    /// Sharded, the norm joins every process's blocks.
    /// </summary>
    public Tensor ClipGradNorm(double maxNorm)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = StepGradients;
        var norm = shards is not null
            ? tensor(Math.Sqrt(shards.Sum(grads.Sum(g => g.to(float64).square().sum().item<double>()))), grads[0].dtype, grads[0].device)
            : grads.Count == 1 ? grads[0].norm() : stack(grads.Select(g => g.norm()).ToList()).norm();
        var coefficient = (maxNorm / (norm + 1e-6)).clamp_max(1.0);
        foreach (var g in grads) g.mul_(coefficient);
        return norm.MoveToOuterDisposeScope();
    }

    public void ZeroGrad()
    {
        foreach (var b in Buffers) b.Grad.zero_();
    }

    /// <summary>
    /// Sharded: every process's block of the moments brought together for <see cref="State"/> (a collective: every process calls
    /// it before a checkpoint, whichever writes it). Nothing to do otherwise.
    /// </summary>
    public void GatherState()
    {
        if (shards is null || gathered is not null) return;
        using var _ = no_grad();
        gathered = Buffers.Select((b, g) =>
        {
            var (m, v) = (zeros_like(b.Data).DetachFromDisposeScope(), zeros_like(b.Data).DetachFromDisposeScope());
            Block(m).copy_(moments[g].M);
            Block(v).copy_(moments[g].V);
            shards.AllGather(m);
            shards.AllGather(v);
            return (m, v);
        }).ToArray();
    }

    /// <summary>The moments as named tensors: <c>exp_avg.{param}</c> and <c>exp_avg_sq.{param}</c>, whole whether sharded or not.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State()
    {
        var whole = shards is null ? moments : gathered ?? throw new InvalidOperationException("a sharded optimizer's state is gathered first (GatherState)");
        return Buffers.SelectMany((b, g) => b.Names.SelectMany((name, i) => new KeyValuePair<string, Tensor>[]
        {
            new($"exp_avg.{name}", b.Slice(whole[g].M, i)), new($"exp_avg_sq.{name}", b.Slice(whole[g].V, i)),
        }));
    }

    /// <summary>Moments saved whole (by any number of processes, sharded or not); a sharded optimizer keeps its block of them.</summary>
    public void Restore(long steps, Func<string, Tensor?> load)
    {
        using var _ = no_grad();
        Steps = steps;
        DropGathered();
        for (var g = 0; g < Buffers.Count; g++)
        {
            var b = Buffers[g];
            var (blockStart, blockLength) = shards is null ? (0L, b.Data.numel()) : (shards.Rank * (b.Data.numel() / shards.WorldSize), b.Data.numel() / shards.WorldSize);
            for (var i = 0; i < b.Names.Count; i++)
            {
                var name = b.Names[i];
                if (load($"exp_avg.{name}") is not { } m) continue;
                using var v = load($"exp_avg_sq.{name}") ?? throw new NanoVlmException($"training state: exp_avg_sq.{name} is missing");
                using (m)
                {
                    var shape = b.Params[i].shape;
                    if (!m.shape.SequenceEqual(shape) || !v.shape.SequenceEqual(shape))
                        throw new NanoVlmException($"training state: exp_avg.{name} does not match the model");
                    // The part of parameter i inside this process's block.
                    var (start, end) = (Math.Max(b.Offset(i), blockStart), Math.Min(b.Offset(i) + m.numel(), blockStart + blockLength));
                    if (start >= end) continue;
                    moments[g].M.narrow(0, start - blockStart, end - start).copy_(m.reshape(-1).narrow(0, start - b.Offset(i), end - start));
                    moments[g].V.narrow(0, start - blockStart, end - start).copy_(v.reshape(-1).narrow(0, start - b.Offset(i), end - start));
                }
            }
        }
    }

    void DropGathered()
    {
        foreach (var (m, v) in gathered ?? []) { m.Dispose(); v.Dispose(); }
        gathered = null;
    }

    public void Dispose()
    {
        DropGathered();
        foreach (var (m, v) in moments)
        {
            m.Dispose();
            v.Dispose();
        }
        foreach (var t in mixWeights.Concat(gradShards)) t.Dispose();
        foreach (var b in Buffers) b.Dispose();
    }
}
