using System.Collections;
using System.Reflection;
using NanoVlm.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NanoVlm.Generation.Kernels;

/// <summary>One decoder block's weights as <see cref="DecodeStep"/> reads them.</summary>
internal sealed record BlockWeights(Tensor Norm1, double Norm1Eps, Tensor Q, Tensor K, Tensor V, Tensor Out,
    Tensor Norm2, double Norm2Eps, Tensor Gate, Tensor Up, Tensor Down);

/// <summary>
/// The weights the kernels read, taken from a model they serve exactly: plain linears and norms (no adapter or other module in
/// their place), no forward hook anywhere in the decoder, fp32 or bf16 contiguous weights on the CPU, inference mode. The tensors
/// are the model's own (no copy): a snapshot of which tensors, not of their values.
/// </summary>
internal sealed record DecoderWeights(IReadOnlyList<BlockWeights> Blocks, Tensor Norm, double NormEps, Tensor Head,
    int Heads, int KvHeads, int HeadDim, Tensor InvFreq, int OriginalMaxSeqLen, double AttentionScaling)
{
    public ScalarType Dtype => Head.dtype;

    /// <summary>Why the kernels cannot serve <paramref name="model"/> exactly (null: they can), and whether that is only its device.</summary>
    public static (string? Reason, bool DeviceOnly) Refusal(VisionLanguageModel model)
    {
        var decoder = model.Decoder;
        if (model.Device.type != DeviceType.CPU) return ($"the model is on {model.Device.type.ToString().ToLowerInvariant()}", true);
        if (model.training) return ("the model is in training mode", false);
        if (model.Dtype != float32 && model.Dtype != bfloat16) return ($"its dtype is {model.Dtype} (the kernels take float32 and bfloat16)", false);
        if (!HookFieldsFound) return ("this TorchSharp keeps its forward hooks where they cannot be seen, so a hook could not be ruled out", false);
        foreach (var (name, module) in decoder.named_modules().Prepend(("", decoder)))
        {
            if (HasHooks(module)) return ($"decoder{(name == "" ? "" : "." + name)} has a forward hook", false);
            if (KernelModules.Contains(module.GetType())) continue;
            return ($"decoder.{name} is a {module.GetType().Name}, which the kernels do not compute", false);
        }
        var parameters = decoder.parameters().ToList();
        if (parameters.Concat(decoder.buffers()).Any(t => t.dtype != model.Dtype && t.dtype != float32) || parameters.Any(p => !p.is_contiguous()))
            return ("its weights mix dtypes or are not contiguous", false);
        return (null, false);
    }

    /// <summary>The module types a decode step computes itself: anything else (an adapter, a quantized linear) is refused.</summary>
    static readonly HashSet<Type> KernelModules = [typeof(Linear), typeof(Embedding), typeof(RMSNorm), typeof(RotaryEmbedding),
        typeof(LanguageModelBlock), typeof(LanguageModelGroupedQueryAttention), typeof(LanguageModelMLP), typeof(Dropout),
        typeof(ModuleList<LanguageModelBlock>), typeof(LanguageModel)];

    /// <summary>Whether TorchSharp's module base classes have the private hook collections <see cref="HasHooks"/> reads.</summary>
    static readonly bool HookFieldsFound = HookFields(typeof(Linear)).Any();

    static IEnumerable<FieldInfo> HookFields(Type? type)
    {
        for (; type is not null; type = type.BaseType)
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if (field.Name.Contains("hook", StringComparison.OrdinalIgnoreCase)) yield return field;
    }

    /// <summary>TorchSharp keeps forward hooks in private dictionaries of its module base classes.</summary>
    static bool HasHooks(nn.Module module) => HookFields(module.GetType()).Any(field => field.GetValue(module) is ICollection { Count: > 0 });

    /// <summary>The snapshot of a model <see cref="Refusal"/> accepted.</summary>
    public static DecoderWeights From(VisionLanguageModel model)
    {
        var d = model.Decoder;
        var first = d.blocks[0].attn;
        return new DecoderWeights(
            d.blocks.Select(b => new BlockWeights(b.norm1.weight, b.norm1.eps, b.attn.q_proj.weight!, b.attn.k_proj.weight!, b.attn.v_proj.weight!,
                b.attn.out_proj.weight!, b.norm2.weight, b.norm2.eps, b.mlp.gate_proj.weight!, b.mlp.up_proj.weight!, b.mlp.down_proj.weight!)).ToList(),
            d.norm.weight, d.norm.eps, d.head.weight!, first.nHeads, first.nKvHeads, first.headDim,
            d.rotary_embd.inv_freq, d.rotary_embd.originalMaxSeqLen, d.rotary_embd.attentionScaling);
    }

    public IEnumerable<Tensor> All() =>
        Blocks.SelectMany(b => new[] { b.Norm1, b.Q, b.K, b.V, b.Out, b.Norm2, b.Gate, b.Up, b.Down }).Append(Norm);
}
