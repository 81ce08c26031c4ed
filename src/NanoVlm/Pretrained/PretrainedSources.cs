using NanoVlm.Data;
using NanoVlm.Hub;
using NanoVlm.Models;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Pretrained;

/// <summary>
/// Everything that takes a model, backbone or tokenizer accepts a local path or a Hugging Face repo id (downloaded into the
/// shared cache, see <see cref="HubClient"/>).
/// </summary>
public static class PretrainedSources
{
    static HubClient NewHub(IProgress<DownloadProgress>? progress) => new(HubOptions.FromEnvironment(), progress);

    /// <summary>
    /// A value that can only be a local path (it starts with '.', '/' or '~', or its first part is a local folder, as in
    /// <c>runs/nope</c>) and is missing is an error at once, not a Hub id to look up.
    /// </summary>
    static void RequireLocalIfPath(string value, string what)
    {
        if (Directory.Exists(value) || File.Exists(value)) return;
        var first = value.Split('/')[0];
        var looksLocal = value.StartsWith('.') || value.StartsWith('/') || value.StartsWith('~')
                         || (value.Contains('/') && first.Length > 0 && Directory.Exists(first));
        if (looksLocal) throw new NanoVlmException($"{value}: no such {what} (a local path; a Hub id has the form 'org/name')");
    }

    /// <summary>A checkpoint folder: the path itself when it exists, else the repo id's checkpoint files, all from one commit.</summary>
    public static string ResolveModelFolder(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        if (Directory.Exists(pathOrRepoId)) return new CheckpointLayout(pathOrRepoId).RequireComplete().Folder;
        RequireLocalIfPath(pathOrRepoId, "checkpoint folder");
        using var hub = NewHub(progress);
        return ResolveModelFolder(pathOrRepoId, hub);
    }

    /// <summary><see cref="ResolveModelFolder(string, IProgress{DownloadProgress})"/> through a given Hub client.</summary>
    public static string ResolveModelFolder(string pathOrRepoId, HubClient hub)
    {
        if (Directory.Exists(pathOrRepoId)) return new CheckpointLayout(pathOrRepoId).RequireComplete().Folder;
        RequireLocalIfPath(pathOrRepoId, "checkpoint folder");
        if (!HubNames.IsRepoId(pathOrRepoId))
            throw new NanoVlmException($"'{pathOrRepoId}' is neither an existing folder nor a Hub repo id ('name' or 'org/name')");
        var folder = hub.DownloadSnapshotAsync(pathOrRepoId, allowPatterns: [.. CheckpointLayout.HubPatterns]).GetAwaiter().GetResult();
        var layout = new CheckpointLayout(folder);
        if (!File.Exists(layout.ConfigPath)) throw new NanoVlmException($"{pathOrRepoId}: the repo has no {CheckpointLayout.ConfigFile} (not a nanoVLM checkpoint)");
        if (!File.Exists(layout.WeightsPath) && !File.Exists(layout.WeightsIndexPath))
            throw new NanoVlmException($"{pathOrRepoId}: the repo has neither {CheckpointLayout.WeightsFile} nor {CheckpointLayout.WeightsIndexFile}");
        return folder;
    }

    /// <summary>A LoRA adapter folder (<c>adapter_config.json</c>, <c>adapter_model.safetensors</c>): the path itself, or a repo id's adapter files.</summary>
    public static string ResolveAdapterFolder(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        if (Directory.Exists(pathOrRepoId))
            return AdapterFiles.IsAdapterFolder(pathOrRepoId) ? pathOrRepoId
                : throw new NanoVlmException($"{pathOrRepoId}: not an adapter folder (no {AdapterFiles.ConfigFile})");
        RequireLocalIfPath(pathOrRepoId, "adapter folder");
        if (!HubNames.IsRepoId(pathOrRepoId))
            throw new NanoVlmException($"'{pathOrRepoId}' is neither an existing folder nor a Hub repo id ('name' or 'org/name')");
        using var hub = NewHub(progress);
        var folder = hub.DownloadSnapshotAsync(pathOrRepoId, allowPatterns: [AdapterFiles.ConfigFile, AdapterFiles.WeightsFile]).GetAwaiter().GetResult();
        if (!AdapterFiles.IsAdapterFolder(folder)) throw new NanoVlmException($"{pathOrRepoId}: the repo has no {AdapterFiles.ConfigFile} (not a LoRA adapter)");
        return folder;
    }

    /// <summary>A folder holding tokenizer.json: a local folder or file, or a repo id's tokenizer files.</summary>
    public static string ResolveTokenizer(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        if (Directory.Exists(pathOrRepoId) || File.Exists(pathOrRepoId)) return pathOrRepoId;
        RequireLocalIfPath(pathOrRepoId, "tokenizer folder or file");
        using var hub = NewHub(progress);
        return hub.DownloadSnapshotAsync(pathOrRepoId, allowPatterns: [.. CheckpointLayout.TokenizerFiles]).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The tokenizer of a checkpoint: its own tokenizer.json when it ships one, else the config's lm_tokenizer (a folder inside the
    /// checkpoint, a local path or a repo id).
    /// </summary>
    public static Tokenizer LoadTokenizer(VlmConfig cfg, string? checkpointFolder = null, IProgress<DownloadProgress>? progress = null)
    {
        var inside = checkpointFolder is null || Path.IsPathRooted(cfg.LmTokenizer) ? null : Path.Combine(checkpointFolder, cfg.LmTokenizer);
        var source = checkpointFolder is not null && new CheckpointLayout(checkpointFolder).HasTokenizer ? checkpointFolder
            : inside is not null && new CheckpointLayout(inside).HasTokenizer ? inside
            : ResolveTokenizer(cfg.LmTokenizer, progress);
        return Tokenizer.Load(source, cfg.VlmExtraTokens);
    }

    /// <summary>
    /// A tokenizer kept in <paramref name="folder"/> (so checkpoints can ship it): the one already there, else <paramref name="source"/>'s
    /// files copied in (a folder, tokenizer.json or repo id), or for <c>wordlevel</c> one built from the samples' texts. Loaded with
    /// the config's extra tokens.
    /// </summary>
    public static Tokenizer PrepareTokenizer(string source, VlmConfig cfg, Func<IEnumerable<VqaSample>> samples, string folder,
        IProgress<DownloadProgress>? progress = null, Action<string>? log = null, string? extending = null)
    {
        var layout = new CheckpointLayout(folder);
        if (!layout.HasTokenizer)
        {
            if (source == Presets.WordLevelTokenizer && extending is not null)
            {
                var added = WordLevelTokenizerBuilder.Extend(extending, folder, samples(), cfg.Generation, cfg.VlmExtraTokens);
                log?.Invoke(added.Count == 0
                    ? $"the word-level vocabulary of {extending} already holds every word of the data"
                    : $"extending the word-level vocabulary of {extending} with {added.Count:N0} new words ({string.Join(", ", added.Take(5).Select(w => $"'{w}'"))}{(added.Count > 5 ? ", ..." : "")}): new rows in the embedding and head, the old words keep theirs");
            }
            else if (source == Presets.WordLevelTokenizer)
            {
                log?.Invoke("building a word-level tokenizer from the training texts");
                WordLevelTokenizerBuilder.Write(folder, samples(), cfg.Generation);
            }
            else
            {
                var resolved = ResolveTokenizer(source, progress);
                layout.CopyTokenizerFrom(File.Exists(resolved) ? Path.GetDirectoryName(Path.GetFullPath(resolved))! : resolved);
            }
        }
        return Tokenizer.Load(folder, cfg.VlmExtraTokens);
    }

    /// <summary>
    /// A VLM from the Hub backbones named by vit_model_type and lm_model_type (or local folders), vocabulary extended
    /// for the extra tokens, projector freshly initialised.
    /// </summary>
    public static VisionLanguageModel FromBackbones(VlmConfig cfg, IProgress<DownloadProgress>? progress = null)
    {
        string Folder(string nameOrPath)
        {
            if (Directory.Exists(nameOrPath)) return nameOrPath;
            using var hub = NewHub(progress);
            return hub.DownloadSnapshotAsync(nameOrPath, allowPatterns: [.. CheckpointLayout.BackbonePatterns]).GetAwaiter().GetResult();
        }
        return HfBackbones.Load(cfg, Folder(cfg.VitModelType), Folder(cfg.LmModelType));
    }
}
