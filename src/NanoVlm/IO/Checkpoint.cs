using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.IO;

/// <summary>nanoVLM checkpoints: a folder with <c>config.json</c> and <c>model.safetensors</c> (F32, or BF16/F16 converted on load).</summary>
public static class Checkpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static VisionLanguageModel Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new NanoVlmException($"{folder}: checkpoint folder not found");
        var configPath = Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath)) throw new NanoVlmException($"{folder}: missing {ConfigFile}");
        if (!TensorStore.Exists(folder)) throw new NanoVlmException($"{folder}: missing {WeightsFile}");
        var cfg = VlmConfig.Load(configPath);
        using var store = TensorStore.Open(folder);
        var model = new VisionLanguageModel(cfg, initWeights: false);
        try
        {
            LoadStateDict(model, store, name => name);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies every tensor of the model's state dict from the store, where <paramref name="sourceName"/> maps a
    /// model name to the stored name (null = not stored: keep the model's value). Tied aliases may be stored once.
    /// Errors name the missing, unexpected or mis-shaped tensor.
    /// </summary>
    internal static void LoadStateDict(VisionLanguageModel model, TensorStore store, Func<string, string?> sourceName,
        Func<string, Tensor, Tensor>? transform = null, bool rejectUnexpected = true)
    {
        var state = model.state_dict();
        var aliases = state.Keys.GroupBy(model.AliasKey).ToDictionary(g => g.Key, g => g.Order(StringComparer.Ordinal).ToList());
        var used = new HashSet<string>();
        using var _ = no_grad();
        foreach (var (name, target) in state)
        {
            var candidates = aliases[model.AliasKey(name)].Select(sourceName).OfType<string>().ToList();
            var source = candidates.FirstOrDefault(store.Contains);
            if (source is null)
            {
                if (candidates.Count == 0 || name.EndsWith("rotary_embd.inv_freq", StringComparison.Ordinal)) continue;
                throw new NanoVlmException($"{store.Source}: missing tensor '{candidates[0]}'");
            }
            used.UnionWith(candidates.Where(store.Contains));
            using var stored = store.Load(source);
            using var value = transform is null ? stored.alias() : transform(name, stored);
            if (!value.shape.SequenceEqual(target.shape))
                throw new NanoVlmException(
                    $"{store.Source}: tensor '{source}' has shape [{string.Join(", ", value.shape)}] but the config expects [{string.Join(", ", target.shape)}]");
            target.copy_(value);
        }
        var unexpected = rejectUnexpected ? store.Names.Except(used).Order(StringComparer.Ordinal).FirstOrDefault() : null;
        if (unexpected is not null) throw new NanoVlmException($"{store.Source}: unexpected tensor '{unexpected}'");
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> the way nanoVLM does: a tied tensor stored once under its
    /// alphabetically first name (<c>decoder.head.weight</c>), <c>inv_freq</c> included. Each file is written atomically.
    /// </summary>
    public static void Save(VisionLanguageModel model, string folder)
    {
        Directory.CreateDirectory(folder);
        var tensors = model.state_dict().Where(kv => model.AliasKey(kv.Key) == kv.Key);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        model.Config.Save(Path.Combine(folder, ConfigFile));
    }
}
