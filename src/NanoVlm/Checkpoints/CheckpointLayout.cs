using System.Text.Json;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Checkpoints;

/// <summary>
/// The files of a checkpoint folder, as nanoVLM and Hugging Face lay them out: <c>config.json</c>, the weights (<c>model.safetensors</c>,
/// or <c>model.safetensors.index.json</c> and the shards it names) and the tokenizer files. Saving, loading, pushing and downloading
/// all ask this type which files make a checkpoint.
/// </summary>
public sealed record CheckpointLayout(string Folder)
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string WeightsIndexFile = "model.safetensors.index.json";
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>The files that make a Hugging Face tokenizer (the two configs name its special tokens).</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles = [TokenizerFile, "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>What a Hub download of a checkpoint fetches (shards are named <c>model-00001-of-00002.safetensors</c>).</summary>
    public static readonly IReadOnlyList<string> HubPatterns =
        [ConfigFile, WeightsFile, WeightsIndexFile, "model-*-of-*.safetensors", .. TokenizerFiles];

    /// <summary>What a Hub download of a backbone fetches: its config and weights.</summary>
    public static readonly IReadOnlyList<string> BackbonePatterns = [ConfigFile, "*.safetensors", WeightsIndexFile];

    public string ConfigPath => Path.Combine(Folder, ConfigFile);
    public string WeightsPath => Path.Combine(Folder, WeightsFile);
    public string WeightsIndexPath => Path.Combine(Folder, WeightsIndexFile);
    public bool HasTokenizer => File.Exists(Path.Combine(Folder, TokenizerFile));
    public bool IsSharded => !File.Exists(WeightsPath) && File.Exists(WeightsIndexPath);

    /// <summary>Throws a one-line error naming what is missing: the folder, config.json or the weights.</summary>
    public CheckpointLayout RequireComplete()
    {
        if (!Directory.Exists(Folder)) throw new NanoVlmException($"{Folder}: checkpoint folder not found");
        if (!File.Exists(ConfigPath)) throw new NanoVlmException($"{Folder}: missing {ConfigFile}");
        if (!File.Exists(WeightsPath) && !File.Exists(WeightsIndexPath)) throw new NanoVlmException($"{Folder}: missing {WeightsFile}");
        return this;
    }

    public VlmConfig ReadConfig() => VlmConfig.Load(ConfigPath);

    /// <summary>The weight files: model.safetensors, or every shard the index names (plain file names only).</summary>
    public IReadOnlyList<string> WeightFiles() =>
        IsSharded ? ShardNames(WeightsIndexPath).Select(s => Path.Combine(Folder, s)).ToList() : [WeightsPath];

    /// <summary>Every file of the checkpoint present in the folder: config, weights (and index), tokenizer files.</summary>
    public IReadOnlyList<string> Files()
    {
        RequireComplete();
        var files = new List<string> { ConfigPath };
        if (IsSharded) files.Add(WeightsIndexPath);
        files.AddRange(WeightFiles());
        files.AddRange(TokenizerFiles.Select(f => Path.Combine(Folder, f)).Where(File.Exists));
        return files;
    }

    /// <summary>Copies the tokenizer files present in <paramref name="sourceFolder"/> into this folder.</summary>
    public void CopyTokenizerFrom(string sourceFolder)
    {
        Directory.CreateDirectory(Folder);
        foreach (var name in TokenizerFiles)
        {
            var source = Path.Combine(sourceFolder, name);
            if (File.Exists(source) && Path.GetFullPath(source) != Path.GetFullPath(Path.Combine(Folder, name)))
                AtomicFile.Write(Path.Combine(Folder, name), s => { using var input = RegularFile.OpenRead(source, Data.Tokenizer.MaxFileBytes, "tokenizer file"); input.CopyTo(s); });
        }
    }

    /// <summary>The shard file names of a <c>model.safetensors.index.json</c>, distinct and sorted; each must be a plain file name.</summary>
    public static IReadOnlyList<string> ShardNames(string indexFile)
    {
        try
        {
            using var doc = JsonDocument.Parse(RegularFile.ReadAllText(indexFile, RegularFile.MaxConfigBytes, "safetensors index"));
            var shards = doc.RootElement.GetProperty("weight_map").EnumerateObject()
                .Select(p => p.Value.GetString() ?? throw new InvalidOperationException($"shard of '{p.Name}' is not a string"))
                .Distinct().Order(StringComparer.Ordinal).ToList();
            foreach (var shard in shards)
                if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard.StartsWith('.'))
                    throw new NanoVlmException($"{indexFile}: shard name '{shard}' is not a plain file name");
            return shards;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new NanoVlmException($"{indexFile}: not a safetensors index (a JSON object with a 'weight_map' of tensor name to shard file): {e.Message.Split('\n')[0]}");
        }
    }
}
