using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>
/// LoRA (Hu et al., 2021) as PEFT computes it: an adapted linear gives W x + (alpha / r) B A dropout(x), with A [r, in] initialised
/// as nn.Linear's weight (Kaiming-uniform, a = sqrt 5) and B [out, r] at zero, so a fresh adapter changes nothing. The base model is
/// not touched: each adapted linear gets a forward hook that adds the update, so prefill and decoding (the modules) apply it and the
/// kernels, which see the hook, step aside. <see cref="Merge"/> folds the update into the weights instead.
/// </summary>
public sealed class LoraAdapter : Module
{
    readonly List<(string Path, Linear A, Linear B)> layers = [];
    readonly List<Action> hooks = [];

    public LoraAdapter(VisionLanguageModel model, LoraConfig config) : base(nameof(LoraAdapter))
    {
        config.Validate();
        Config = config;
        foreach (var (path, module) in model.named_modules())
        {
            if (module is not Linear linear || !config.Targets(path)) continue;
            var weight = linear.weight!;
            var a = Linear(weight.size(1), config.Rank, hasBias: false, device: weight.device, dtype: float32);
            var b = Linear(config.Rank, weight.size(0), hasBias: false, device: weight.device, dtype: float32);
            using (no_grad()) b.weight!.zero_();
            layers.Add((path, a, b));
            register_module(Key(path, "A"), a);
            register_module(Key(path, "B"), b);
        }
        if (layers.Count == 0) throw NanoVlmException.For("LoraTargets", $"'{config.TargetModules}' matches no linear of the model");
    }

    public LoraConfig Config { get; }

    /// <summary>The adapted module paths, in model order.</summary>
    public IReadOnlyList<string> Paths => layers.Select(l => l.Path).ToList();

    /// <summary>PEFT's names for the tensors: <c>base_model.model.{path}.lora_A.weight</c> and <c>.lora_B.weight</c>.</summary>
    public IEnumerable<(string Name, Parameter Weight)> PeftTensors() =>
        layers.SelectMany(l => new[] { ($"base_model.model.{l.Path}.lora_A.weight", l.A.weight!), ($"base_model.model.{l.Path}.lora_B.weight", l.B.weight!) });

    /// <summary>
    /// Adds the update to the linears of <paramref name="model"/> (the one it was made for, or a copy of it in another dtype); disposing
    /// the result removes these hooks again (<see cref="Detach"/> removes every hook).
    /// </summary>
    public IDisposable Attach(VisionLanguageModel model)
    {
        var added = new List<Action>();
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        foreach (var (path, a, b) in layers)
        {
            if (modules.GetValueOrDefault(path) is not Linear linear)
                throw new NanoVlmException($"the adapter's {path} is not a linear of this model");
            var scaling = Config.Scaling;
            var remover = linear.register_forward_hook((_, x, y) =>
            {
                var input = x.to(a.weight!.dtype);
                if (Config.Dropout > 0) input = functional.dropout(input, Config.Dropout, training);
                return y + (b.call(a.call(input)) * scaling).to(y.dtype);
            });
            added.Add(remover.remove);
        }
        hooks.AddRange(added);
        return new Attachment(() =>
        {
            foreach (var remove in added)
            {
                remove();
                hooks.Remove(remove);
            }
        });
    }

    sealed class Attachment(Action detach) : IDisposable
    {
        bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            detach();
        }
    }

    /// <summary>Removes every hook this adapter added.</summary>
    public void Detach()
    {
        foreach (var remove in hooks) remove();
        hooks.Clear();
    }

    /// <summary>W += (alpha / r) B A in each adapted linear of <paramref name="model"/>; the adapter should then be detached.</summary>
    public void Merge(VisionLanguageModel model)
    {
        using var _ = no_grad();
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        foreach (var (path, a, b) in layers)
        {
            var weight = ((Linear)modules[path]).weight!;
            weight.add_((b.weight!.matmul(a.weight!) * Config.Scaling).to(weight.dtype));
        }
    }

    /// <summary>Copies the tensors named as <see cref="PeftTensors"/> names them; every one must be there, with its shape.</summary>
    public void Load(Func<string, Tensor?> tensor, string source)
    {
        using var _ = no_grad();
        foreach (var (name, weight) in PeftTensors())
        {
            using var value = tensor(name) ?? throw new NanoVlmException($"{source}: missing tensor {name}");
            if (!value.shape.SequenceEqual(weight.shape))
                throw new NanoVlmException($"{source}: {name} has shape [{string.Join(", ", value.shape)}], the adapter needs [{string.Join(", ", weight.shape)}]");
            weight.copy_(value);
        }
    }

    static string Key(string path, string matrix) => $"{path.Replace('.', '_')}_lora_{matrix}";

    protected override void Dispose(bool disposing)
    {
        if (disposing) Detach();
        base.Dispose(disposing);
    }
}
