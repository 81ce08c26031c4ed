using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>One set of parameters sharing a learning rate (nanoVLM: the projector, and the two backbones).</summary>
public sealed record ParamGroup(string Name, IReadOnlyList<(string Name, Parameter Param)> Params)
{
    public double Lr { get; set; }
}

/// <summary>
/// AdamW exactly as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments). Written out so that
/// its state is plain named tensors we can checkpoint and restore bit for bit.
/// </summary>
public sealed class AdamW(IReadOnlyList<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
    : IDisposable
{
    readonly Dictionary<string, (Tensor M, Tensor V)> moments = new();

    public IReadOnlyList<ParamGroup> Groups { get; } = groups;
    public long Steps { get; private set; }

    public IEnumerable<Parameter> Parameters => Groups.SelectMany(g => g.Params.Select(p => p.Param));

    public void Step()
    {
        using var _ = no_grad();
        Steps++;
        var correction1 = 1 - Math.Pow(beta1, Steps);
        var correction2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, Steps));
        using var mixWeight = tensor(1 - beta1);
        foreach (var group in Groups)
        foreach (var (name, p) in group.Params)
        {
            if (p.grad is not { } grad) continue;
            if (!moments.TryGetValue(name, out var m))
                moments[name] = m = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
            p.mul_(1 - group.Lr * weightDecay);
            m.M.lerp_(grad, mixWeight);
            m.V.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
            using var denom = m.V.sqrt().div_(correction2Sqrt).add_(eps);
            p.addcdiv_(m.M, denom, -group.Lr / correction1);
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.grad?.zero_();
    }

    /// <summary>The moments as named tensors: <c>exp_avg.{param}</c> and <c>exp_avg_sq.{param}</c>.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State() =>
        moments.SelectMany(kv => new KeyValuePair<string, Tensor>[] { new($"exp_avg.{kv.Key}", kv.Value.M), new($"exp_avg_sq.{kv.Key}", kv.Value.V) });

    public void Restore(long steps, Func<string, Tensor?> load)
    {
        Steps = steps;
        foreach (var (name, p) in Groups.SelectMany(g => g.Params))
        {
            if (load($"exp_avg.{name}") is not { } m) continue;
            var v = load($"exp_avg_sq.{name}") ?? throw new NanoVlmException($"training state: exp_avg_sq.{name} is missing");
            if (!m.shape.SequenceEqual(p.shape)) throw new NanoVlmException($"training state: exp_avg.{name} does not match the model");
            moments[name] = (m.to(p.dtype, p.device).DetachFromDisposeScope(), v.to(p.dtype, p.device).DetachFromDisposeScope());
        }
    }

    public void Dispose()
    {
        foreach (var (m, v) in moments.Values)
        {
            m.Dispose();
            v.Dispose();
        }
    }
}
