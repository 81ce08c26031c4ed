using System.Text.RegularExpressions;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>
/// A LoRA adapter's settings, as PEFT's <c>LoraConfig</c> names them: rank <c>r</c>, <c>lora_alpha</c> (the update is scaled by
/// alpha / r), <c>lora_dropout</c>, and the linears adapted (<c>target_modules</c>: module names, or one regular expression over
/// the full module paths, which PEFT matches whole).
/// </summary>
public sealed record LoraConfig
{
    /// <summary>nanoVLM's decoder linears (PEFT's usual targets for a Llama decoder).</summary>
    public static readonly IReadOnlyList<string> DecoderLinears = ["q_proj", "k_proj", "v_proj", "out_proj", "gate_proj", "up_proj", "down_proj"];
    /// <summary>The ViT's linears.</summary>
    public static readonly IReadOnlyList<string> VisionLinears = ["qkv_proj", "out_proj", "fc1", "fc2"];

    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public double Dropout { get; init; }
    /// <summary>A regular expression matched against whole module paths (<c>decoder.blocks.0.attn.q_proj</c>).</summary>
    public string TargetModules { get; init; } = Targets(DecoderLinears, vision: false, projector: false);
    public string? BaseModel { get; init; }

    public double Scaling => Alpha / Rank;

    /// <summary>The expression for <paramref name="names"/> in the decoder, and optionally the vision encoder's linears and the projector.</summary>
    public static string Targets(IEnumerable<string> names, bool vision, bool projector)
    {
        var parts = new List<string>();
        var list = names.ToList();
        foreach (var name in list.Where(n => !DecoderLinears.Contains(n)))
            throw NanoVlmException.For("LoraTargets", $"'{name}' is not a decoder linear (use {string.Join(", ", DecoderLinears)})");
        if (list.Count > 0) parts.Add($@"decoder\.blocks\.\d+\.(attn|mlp)\.({string.Join('|', list.Distinct())})");
        if (vision) parts.Add($@"vision_encoder\.blocks\.\d+\.(attn|mlp)\.({string.Join('|', VisionLinears)})");
        if (projector) parts.Add(@"MP\.proj");
        if (parts.Count == 0) throw NanoVlmException.For("LoraTargets", "selects no linear");
        return parts.Count == 1 ? parts[0] : $"({string.Join('|', parts.Select(p => $"({p})"))})";
    }

    /// <summary>Whether PEFT would adapt the module at <paramref name="path"/>: a whole match of the expression.</summary>
    public bool Targets(string path) => Regex.IsMatch(path, $"^(?:{TargetModules})$");

    public void Validate()
    {
        if (Rank is < 1 or > 4096) throw NanoVlmException.For("LoraRank", $"must be between 1 and 4096, got {Rank}");
        if (!(Alpha > 0 && double.IsFinite(Alpha))) throw NanoVlmException.For("LoraAlpha", $"must be a finite number > 0, got {Alpha}");
        if (Dropout is < 0 or >= 1) throw NanoVlmException.For("LoraDropout", $"must be in [0, 1), got {Dropout}");
        try
        {
            _ = new Regex(TargetModules);
        }
        catch (ArgumentException e)
        {
            throw NanoVlmException.For("LoraTargets", $"'{TargetModules}' is not a regular expression ({e.Message.Split('\n')[0]})");
        }
    }
}
