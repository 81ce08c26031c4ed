namespace NanoVlm.Models;

/// <summary>Named model configurations for <c>--preset</c>.</summary>
public static class Presets
{
    /// <summary>Marks a config whose tokenizer is a word-level one built from the training data.</summary>
    public const string WordLevelTokenizer = "wordlevel";

    /// <summary>
    /// <c>222m</c>: the seed's model (SigLIP-B/16-224 + SmolLM2-135M, backbones from the Hub).
    /// <c>tiny</c>: a CPU-sized model trained from scratch (28px images, 7px patches, 4 image tokens, a 2-block decoder);
    /// its vocabulary is set from the tokenizer at training time.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, VlmConfig> All = new Dictionary<string, VlmConfig>
    {
        ["222m"] = new(),
        ["tiny"] = new()
        {
            VitHiddenDim = 96, VitInterDim = 384, VitPatchSize = 7, VitImgSize = 28, VitNHeads = 4, VitNBlocks = 3,
            VitModelType = "scratch",
            LmHiddenDim = 96, LmInterDim = 256, LmNHeads = 4, LmNKvHeads = 2, LmNBlocks = 2, LmMaxPositionEmbeddings = 256,
            LmMaxLength = 128, LmBaseVocabSize = 64, ExtraTokenAmount = 1, LmVocabSize = 65, LmModelType = "scratch",
            LmTokenizer = WordLevelTokenizer, MpImageTokenLength = 4, VlmLoadBackboneWeights = false, HfRepoName = "nanoVLM-tiny",
        },
    };

    public static VlmConfig Get(string name) =>
        All.TryGetValue(name.ToLowerInvariant(), out var cfg)
            ? cfg
            : throw new NanoVlmException($"--preset: unknown preset '{name}' (known: {string.Join(", ", All.Keys)})");
}
