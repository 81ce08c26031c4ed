using NanoVlm.Data;
using NanoVlm.Hub;
using NanoVlm.Models;

namespace NanoVlm.IO;

/// <summary>
/// Everything that takes a model, backbone or tokenizer accepts a local path or a Hugging Face repo id (downloaded into the
/// shared cache, see <see cref="HubClient"/>).
/// </summary>
public static class Pretrained
{
    const string TokenizerFile = "tokenizer.json";

    /// <summary>The files that make a Hugging Face tokenizer (the two configs name its special tokens).</summary>
    public static readonly string[] TokenizerFiles = [TokenizerFile, "tokenizer_config.json", "special_tokens_map.json"];

    static HubClient NewHub(IProgress<DownloadProgress>? progress) => new(HubOptions.FromEnvironment(), progress);

    /// <summary>
    /// A checkpoint folder: the path itself when it exists, else the repo id's config.json, weights (single or sharded) and
    /// tokenizer files from the Hub, all from one commit.
    /// </summary>
    public static string ResolveModelFolder(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        if (Directory.Exists(pathOrRepoId)) return pathOrRepoId;
        using var hub = NewHub(progress);
        var folder = hub.ResolveModelFolderAsync(pathOrRepoId).GetAwaiter().GetResult();
        return hub.DownloadSnapshotAsync(pathOrRepoId, revision: Path.GetFileName(folder),
            allowPatterns: TokenizerFiles).GetAwaiter().GetResult();
    }

    /// <summary>A folder holding tokenizer.json: a local folder or file, or a repo id's tokenizer files.</summary>
    public static string ResolveTokenizer(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        if (Directory.Exists(pathOrRepoId) || File.Exists(pathOrRepoId)) return pathOrRepoId;
        using var hub = NewHub(progress);
        return hub.DownloadSnapshotAsync(pathOrRepoId, allowPatterns: TokenizerFiles).GetAwaiter().GetResult();
    }

    /// <summary>The tokenizer of a checkpoint: its own tokenizer.json when it ships one, else the config's lm_tokenizer.</summary>
    public static Tokenizer LoadTokenizer(VlmConfig cfg, string? checkpointFolder = null, IProgress<DownloadProgress>? progress = null)
    {
        var source = checkpointFolder is not null && File.Exists(Path.Combine(checkpointFolder, TokenizerFile))
            ? checkpointFolder
            : ResolveTokenizer(cfg.LmTokenizer, progress);
        return Tokenizer.Load(source, cfg.VlmExtraTokens);
    }

    /// <summary>A checkpoint (folder or repo id) and its tokenizer, with the image token id taken from the tokenizer.</summary>
    public static (VisionLanguageModel Model, Tokenizer Tokenizer) Load(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        var folder = ResolveModelFolder(pathOrRepoId, progress);
        var model = Checkpoint.Load(folder);
        try
        {
            var tokenizer = LoadTokenizer(model.Config, folder, progress);
            Bind(model, tokenizer);
            return (model, tokenizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Checks that the tokenizer fits the model and takes its image token id.</summary>
    public static void Bind(VisionLanguageModel model, Tokenizer tokenizer)
    {
        if (tokenizer.VocabSize > model.Config.LmVocabSize)
            throw new NanoVlmException($"{tokenizer.Source}: {tokenizer.VocabSize} tokens do not fit the model's lm_vocab_size {model.Config.LmVocabSize}");
        if (!tokenizer.ExtraTokenIds.TryGetValue("image_token", out var image))
            throw new NanoVlmException($"{tokenizer.Source}: the config's vlm_extra_tokens has no image_token");
        if (tokenizer.EosTokenId != model.Config.LmEosTokenId)
            throw new NanoVlmException($"{tokenizer.Source}: eos id {tokenizer.EosTokenId} differs from the config's lm_eos_token_id {model.Config.LmEosTokenId}");
        model.ImageTokenId = image;
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
            return hub.DownloadSnapshotAsync(nameOrPath, allowPatterns: ["config.json", "*.safetensors", "model.safetensors.index.json"])
                .GetAwaiter().GetResult();
        }
        return HfBackbones.Load(cfg, Folder(cfg.VitModelType), Folder(cfg.LmModelType));
    }
}
