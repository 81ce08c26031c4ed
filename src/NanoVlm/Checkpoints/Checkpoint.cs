using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Checkpoints;

/// <summary>Where one model tensor comes from: its name as stored, and how to read it.</summary>
internal sealed record TensorSource(string StoredName, Func<Tensor> Load);

/// <summary>A nanoVLM model's weights and config in a checkpoint folder (F32, or BF16/F16 converted on load; single or sharded).</summary>
public static class Checkpoint
{
    public static VisionLanguageModel Load(string folder)
    {
        var layout = new CheckpointLayout(folder).RequireComplete();
        var cfg = layout.ReadConfig();
        cfg.EnsureFitsInMemory(layout.ConfigPath);
        using var store = TensorStore.Open(folder);
        var model = new VisionLanguageModel(cfg, initWeights: false);
        try
        {
            CheckNames(model, store);
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
    /// Checks a checkpoint's weights without reading them: every header parses, the data sections fit the files, and the tensor
    /// names and shapes are exactly what the config builds. Returns the config.
    /// </summary>
    public static VlmConfig Verify(string folder)
    {
        var layout = new CheckpointLayout(folder).RequireComplete();
        var cfg = layout.ReadConfig();
        // Even on the meta device libtorch builds the token embedding's weight itself.
        MemoryBudget.EnsureFits(4.0 * cfg.LmVocabSize * cfg.LmHiddenDim, $"{layout.ConfigPath}: checking the weights (the token embedding is built)");
        using var store = TensorStore.Open(folder);
        using var model = Devices.OnMeta(() => new VisionLanguageModel(cfg, initWeights: false));
        CheckNames(model, store);
        foreach (var (name, target) in model.state_dict())
        {
            var stored = model.Aliases(name).FirstOrDefault(store.Contains);
            if (stored is null)
            {
                if (IsDerived(name)) continue;
                throw new NanoVlmException($"{store.Source}: missing tensor '{name}'");
            }
            CheckShape(store.Source, stored, store.Shape(stored), target.shape);
        }
        return cfg;
    }

    static void CheckNames(VisionLanguageModel model, TensorStore store)
    {
        var expected = model.state_dict().Keys.ToHashSet();
        var unexpected = store.Names.Where(n => !expected.Contains(n)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unexpected is not null) throw new NanoVlmException($"{store.Source}: unexpected tensor '{unexpected}'");
    }

    static bool IsDerived(string name) => name.EndsWith("rotary_embd.inv_freq", StringComparison.Ordinal);

    static void CheckShape(string origin, string stored, long[] actual, long[] expected)
    {
        if (!actual.SequenceEqual(expected))
            throw new NanoVlmException(
                $"{origin}: tensor '{stored}' has shape [{string.Join(", ", actual)}] but the config expects [{string.Join(", ", expected)}]");
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
                if (IsDerived(name)) continue; // derived from the config
                throw new NanoVlmException($"{origin}: missing tensor '{name}'");
            }
            using var value = source.Load();
            CheckShape(origin, source.StoredName, value.shape, target.shape);
            target.copy_(value);
        }
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> the way nanoVLM does: a tied tensor stored once under its
    /// alphabetically first name (<c>decoder.head.weight</c>), <c>inv_freq</c> included. Each file is written atomically.
    /// </summary>
    public static void Save(VisionLanguageModel model, string folder)
    {
        var layout = new CheckpointLayout(folder);
        Directory.CreateDirectory(folder);
        var tensors = model.state_dict().Where(kv => model.StoredName(kv.Key) == kv.Key);
        SafetensorsFile.Save(layout.WeightsPath, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        model.Config.Save(layout.ConfigPath);
    }
}
