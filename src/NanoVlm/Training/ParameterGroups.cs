using NanoVlm.Models;

namespace NanoVlm.Training;

/// <summary>nanoVLM's parameter groups, each with its peak learning rate: the projector, the vision encoder and the decoder.</summary>
internal static class ParameterGroups
{
    /// <summary>
    /// A part at rate 0 (or frozen) is left out and its parameters stop requiring gradients. With a LoRA <paramref name="adapter"/>
    /// the whole model is frozen and the adapter's weights are the one group.
    /// </summary>
    public static List<(ParamGroup Group, double PeakLr)> Build(VisionLanguageModel model, TrainingOptions options, LoraAdapter? adapter = null)
    {
        var all = model.UniqueNamedParameters();
        if (adapter is not null)
        {
            foreach (var (_, p) in all) p.requires_grad = false;
            var weights = adapter.PeftTensors().Select(t => (t.Name, t.Weight)).ToList();
            foreach (var (_, p) in weights) p.requires_grad = true;
            return [(new ParamGroup("lora", weights), options.LrLora)];
        }
        var parts = new (string Name, string Prefix, double Lr)[]
        {
            ("mp", "MP.", options.LrMp),
            ("vision", "vision_encoder.", options.FreezeVision ? 0 : options.LrVision),
            ("language", "decoder.", options.FreezeDecoder ? 0 : options.LrLanguage),
        };
        var groups = new List<(ParamGroup, double)>();
        foreach (var (name, prefix, lr) in parts)
        {
            var members = all.Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            foreach (var (_, p) in members) p.requires_grad = lr > 0;
            if (lr > 0) groups.Add((new ParamGroup(name, members), lr));
        }
        return groups;
    }
}
