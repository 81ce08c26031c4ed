namespace NanoVlm.Models;

/// <summary>Named model configurations for <c>--preset</c> (training, benchmarks).</summary>
public static class Presets
{
    /// <summary>Marks a config whose tokenizer is a word-level one built from the training data.</summary>
    public const string WordLevelTokenizer = "wordlevel";

    /// <summary>
    /// A CPU-sized model trained from scratch in minutes (the demo's): 28px images cut into 4px patches (a 7x7 grid) for a
    /// 3-block ViT 96 wide, a pixel shuffle of 7 that folds the whole grid into one image token, a 2-block decoder 96 wide.
    /// Its vocabulary is a stand-in that training replaces with the tokenizer's size.
    /// </summary>
    public static VlmConfig Tiny { get; } = new()
    {
        VitHiddenDim = 96, VitInterDim = 384, VitPatchSize = 4, VitImgSize = 28, VitNHeads = 4, VitNBlocks = 3, VitModelType = "scratch",
        MpPixelShuffleFactor = 7, MpImageTokenLength = 1,
        LmHiddenDim = 96, LmInterDim = 256, LmNHeads = 4, LmNKvHeads = 2, LmNBlocks = 2, LmMaxPositionEmbeddings = 256, LmMaxLength = 128,
        LmBaseVocabSize = 64, ExtraTokenAmount = 1, LmVocabSize = 65, LmModelType = "scratch", LmTokenizer = WordLevelTokenizer,
        VlmLoadBackboneWeights = false, HfRepoName = "nanoVLM-tiny",
    };

    static readonly Dictionary<string, Func<VlmConfig>> All = new()
    {
        ["222m"] = () => new VlmConfig(),
        ["tiny"] = () => Tiny,
    };

    public static IReadOnlyList<string> Names { get; } = [.. All.Keys];

    /// <summary><c>222m</c>: the seed's model (SigLIP-B/16-224 + SmolLM2-135M, backbones from the Hub); <c>tiny</c>: <see cref="Tiny"/>.</summary>
    public static VlmConfig Get(string name)
    {
        if (!All.TryGetValue(name.ToLowerInvariant(), out var preset))
            throw new NanoVlmException($"--preset: unknown preset '{name}' (known: {string.Join(", ", Names)})");
        var cfg = preset();
        return cfg with { VlmExtraTokens = new Dictionary<string, string>(cfg.VlmExtraTokens) }; // callers may not change the shared one
    }
}
