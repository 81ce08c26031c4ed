namespace NanoVlm.Models;

/// <summary>Named model configurations for benchmarks and quick runs (random weights, nothing downloaded).</summary>
public static class Presets
{
    public static IReadOnlyList<string> Names { get; } = ["222m", "tiny"];

    /// <summary>
    /// A CPU-friendly toy: ViT 128 wide, 4 heads, 4 blocks on 32px images with 4px patches (an 8x8 grid), pixel shuffle 2
    /// (16 image tokens); decoder 128 wide, 4 heads / 2 kv heads, 4 blocks, MLP 384, sequences up to 128. Its vocabulary
    /// (1024 + the image token) is a stand-in: training replaces it with the tokenizer's size.
    /// </summary>
    public static VlmConfig Tiny { get; } = new()
    {
        VitHiddenDim = 128, VitInterDim = 4 * 128, VitPatchSize = 4, VitImgSize = 32, VitNHeads = 4, VitNBlocks = 4,
        MpPixelShuffleFactor = 2, MpImageTokenLength = 16,
        LmHiddenDim = 128, LmInterDim = 384, LmNHeads = 4, LmNKvHeads = 2, LmNBlocks = 4,
        LmBaseVocabSize = 1024, ExtraTokenAmount = 1, LmVocabSize = 1024 + 1, LmMaxLength = 128, LmMaxPositionEmbeddings = 1024,
        VitModelType = "tiny", LmModelType = "tiny",
    };

    /// <summary>"222m" (the default <see cref="VlmConfig"/>, nanoVLM's seed model) or "tiny" (<see cref="Tiny"/>).</summary>
    public static VlmConfig Get(string name) => name.ToLowerInvariant() switch
    {
        "222m" => new VlmConfig(),
        "tiny" => Tiny,
        _ => throw new NanoVlmException($"unknown preset '{name}' (use {string.Join(" or ", Names)})"),
    };
}
