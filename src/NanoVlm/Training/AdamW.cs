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
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly double beta1, beta2, eps, weightDecay;
    readonly (Tensor M, Tensor V)[] moments;
    readonly Tensor[] mixWeights;

    public AdamW(IReadOnlyList<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
    {
        (this.beta1, this.beta2, this.eps, this.weightDecay) = (beta1, beta2, eps, weightDecay);
        Groups = groups;
        Buffers = groups.Select(g => new FlatParameters(g.Params)).ToList();
        moments = Buffers.Select(b => (zeros_like(b.Data).DetachFromDisposeScope(), zeros_like(b.Data).DetachFromDisposeScope())).ToArray();
        mixWeights = Buffers.Select(b => full([], 1 - beta1, b.Data.dtype, b.Data.device).DetachFromDisposeScope()).ToArray();
    }

    public IReadOnlyList<ParamGroup> Groups { get; }

    /// <summary>Each group's parameters and gradients as flat buffers, in group order.</summary>
    public IReadOnlyList<FlatParameters> Buffers { get; }

    public long Steps { get; private set; }

    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        Steps++;
        var correction1 = 1 - Math.Pow(beta1, Steps);
        var correction2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, Steps));
        for (var i = 0; i < Groups.Count; i++)
        {
            var (p, grad, (m, v), lr) = (Buffers[i].Data, Buffers[i].Grad, moments[i], Groups[i].Lr);
            p.mul_(1 - lr * weightDecay);
            m.lerp_(grad, mixWeights[i]);
            v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
            var denom = v.sqrt().div_(correction2Sqrt).add_(eps);
            p.addcdiv_(m, denom, -lr / correction1);
        }
    }

    /// <summary>
    /// Scales every gradient so that their joint L2 norm is at most <paramref name="maxNorm"/> (torch's clip_grad_norm_)
    /// and returns the norm before clipping as a 0-dim tensor on the device, so that the caller decides when to read it.
    /// </summary>
    public Tensor ClipGradNorm(double maxNorm)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var norm = Buffers.Count == 1 ? Buffers[0].Grad.norm() : stack(Buffers.Select(b => b.Grad.norm()).ToList()).norm();
        var coefficient = (maxNorm / (norm + 1e-6)).clamp_max(1.0);
        foreach (var b in Buffers) b.Grad.mul_(coefficient);
        return norm.MoveToOuterDisposeScope();
    }

    public void ZeroGrad()
    {
        foreach (var b in Buffers) b.Grad.zero_();
    }

    /// <summary>The moments as named tensors: <c>exp_avg.{param}</c> and <c>exp_avg_sq.{param}</c>.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State() =>
        Buffers.SelectMany((b, g) => b.Names.SelectMany((name, i) => new KeyValuePair<string, Tensor>[]
        {
            new($"exp_avg.{name}", b.Slice(moments[g].M, i)), new($"exp_avg_sq.{name}", b.Slice(moments[g].V, i)),
        }));

    public void Restore(long steps, Func<string, Tensor?> load)
    {
        using var _ = no_grad();
        Steps = steps;
        for (var g = 0; g < Buffers.Count; g++)
        for (var i = 0; i < Buffers[g].Names.Count; i++)
        {
            var name = Buffers[g].Names[i];
            if (load($"exp_avg.{name}") is not { } m) continue;
            using var v = load($"exp_avg_sq.{name}") ?? throw new NanoVlmException($"training state: exp_avg_sq.{name} is missing");
            using (m)
            {
                var shape = Buffers[g].Params[i].shape;
                if (!m.shape.SequenceEqual(shape) || !v.shape.SequenceEqual(shape))
                    throw new NanoVlmException($"training state: exp_avg.{name} does not match the model");
                using var mSlice = Buffers[g].Slice(moments[g].M, i);
                using var vSlice = Buffers[g].Slice(moments[g].V, i);
                mSlice.copy_(m);
                vSlice.copy_(v);
            }
        }
    }

    public void Dispose()
    {
        foreach (var (m, v) in moments)
        {
            m.Dispose();
            v.Dispose();
        }
        foreach (var w in mixWeights) w.Dispose();
        foreach (var b in Buffers) b.Dispose();
    }
}
