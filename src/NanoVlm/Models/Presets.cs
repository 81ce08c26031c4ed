using NanoVlm.Runtime;
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

    /// <summary>
    /// The seed's 222M model. v0.1 counted only text in lm_max_length (79); the placeholders of up to four images now sit in the
    /// text too, so the budget adds 4 x 49 of them.
    /// </summary>
    public static VlmConfig Seed222M { get; } = new() { LmMaxLength = 79 + 4 * 49 };

    /// <summary>Current nanoVLM's default (the 460M-class <c>lusxvr/nanoVLM-460M-8k</c>): SigLIP2-B/16-512 + SmolLM2-360M-Instruct, image splitting.</summary>
    public static VlmConfig Current460M { get; } = new()
    {
        VitImgSize = 512, VitModelType = "google/siglip2-base-patch16-512",
        LmHiddenDim = 960, LmInterDim = 2560, LmNHeads = 15, LmNKvHeads = 5, LmNBlocks = 32, LmMaxPositionEmbeddings = 8192,
        LmBaseVocabSize = 49152, ExtraTokenAmount = CurrentExtraTokens.Count, LmVocabSize = 49152 + CurrentExtraTokens.Count,
        LmMaxLength = 4096, LmModelType = "HuggingFaceTB/SmolLM2-360M-Instruct", LmTokenizer = "HuggingFaceTB/SmolLM2-360M-Instruct",
        MpPixelShuffleFactor = 4, MpImageTokenLength = 64, MaxImgSize = 2048, ResizeToMaxSideLen = true,
        VlmExtraTokens = CurrentExtraTokens,
    };

    /// <summary>The 230M class (<c>lusxvr/nanoVLM-230M-8k</c>): the current pipeline with SmolLM2-135M-Instruct as the decoder.</summary>
    public static VlmConfig Current230M { get; } = Current460M with
    {
        LmHiddenDim = 576, LmInterDim = 1536, LmNHeads = 9, LmNKvHeads = 3, LmNBlocks = 30,
        LmModelType = "HuggingFaceTB/SmolLM2-135M-Instruct", LmTokenizer = "HuggingFaceTB/SmolLM2-135M-Instruct", LmMaxLength = 8192,
    };

    /// <summary>The current generation's extra tokens in nanoVLM's order: the image token, the global image token, r1c1..r8c8.</summary>
    public static Dictionary<string, string> CurrentExtraTokens => new[] { ("image_token", "<|image|>"), ("global_image_token", "<|global_image|>") }
        .Concat(from i in Enumerable.Range(1, 8) from j in Enumerable.Range(1, 8) select ($"r{i}c{j}", $"<row_{i}_col_{j}>"))
        .ToDictionary(x => x.Item1, x => x.Item2);

    static readonly Dictionary<string, Func<VlmConfig>> All = new()
    {
        ["222m"] = () => Seed222M,
        ["230m"] = () => Current230M,
        ["460m"] = () => Current460M,
        ["tiny"] = () => Tiny,
    };

    public static IReadOnlyList<string> Names { get; } = [.. All.Keys];

    /// <summary>
    /// <c>222m</c>: the seed's model (SigLIP-B/16-224 + SmolLM2-135M); <c>230m</c>, <c>460m</c>: the current generation (backbones from
    /// the Hub); <c>tiny</c>: <see cref="Tiny"/>.
    /// </summary>
    public static VlmConfig Get(string name)
    {
        if (!All.TryGetValue(name.ToLowerInvariant(), out var preset))
            throw NanoVlmException.For("Preset", $"'{name}' is not a preset (known: {string.Join(", ", Names)})");
        var cfg = preset();
        return cfg with { VlmExtraTokens = new Dictionary<string, string>(cfg.VlmExtraTokens) }; // callers may not change the shared one
    }
}
