using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.IO;

/// <summary>Where one model tensor comes from: its name as stored, and how to read it.</summary>
internal sealed record TensorSource(string StoredName, Func<Tensor> Load);

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
        MemoryBudget.EnsureModelFits(cfg, configPath);
        using var store = TensorStore.Open(folder);
        var model = new VisionLanguageModel(cfg, initWeights: false);
        try
        {
            var expected = model.state_dict().Keys.ToHashSet();
            var unexpected = store.Names.Where(n => !expected.Contains(n)).Order(StringComparer.Ordinal).FirstOrDefault();
            if (unexpected is not null) throw new NanoVlmException($"{store.Source}: unexpected tensor '{unexpected}'");
            LoadStateDict(model, store.Source, store.Names.ToDictionary(n => n, n => new TensorSource(n, () => store.Load(n))));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies every tensor of the model's state dict (under a name prefix) from <paramref name="sources"/> (keyed by model name; a tied
    /// tensor may be given under either alias). Errors name the missing or mis-shaped tensor as stored.
    /// </summary>
    internal static void LoadStateDict(VisionLanguageModel model, string origin, IReadOnlyDictionary<string, TensorSource> sources, string prefix = "")
    {
        using var _ = no_grad();
        foreach (var (name, target) in model.state_dict().Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var source = model.Aliases(name).Select(sources.GetValueOrDefault).OfType<TensorSource>().FirstOrDefault();
            if (source is null)
            {
                if (name.EndsWith("rotary_embd.inv_freq", StringComparison.Ordinal)) continue; // derived from the config
                throw new NanoVlmException($"{origin}: missing tensor '{name}'");
            }
            using var value = source.Load();
            if (!value.shape.SequenceEqual(target.shape))
                throw new NanoVlmException(
                    $"{origin}: tensor '{source.StoredName}' has shape [{string.Join(", ", value.shape)}] but the config expects [{string.Join(", ", target.shape)}]");
            target.copy_(value);
        }
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> the way nanoVLM does: a tied tensor stored once under its
    /// alphabetically first name (<c>decoder.head.weight</c>), <c>inv_freq</c> included. Each file is written atomically.
    /// </summary>
    public static void Save(VisionLanguageModel model, string folder)
    {
        Directory.CreateDirectory(folder);
        var tensors = model.state_dict().Where(kv => model.StoredName(kv.Key) == kv.Key);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        model.Config.Save(Path.Combine(folder, ConfigFile));
    }
}
