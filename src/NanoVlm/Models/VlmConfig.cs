using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>
/// nanoVLM's <c>VLMConfig</c>: every key of its flat <c>config.json</c>. Defaults are the seed's 222M model
/// (SigLIP-B/16-224 + SmolLM2-135M, pixel shuffle 2, 49 image tokens).
/// </summary>
public sealed partial record VlmConfig
{
    public int VitHiddenDim { get; init; } = 768;
    public int VitInterDim { get; init; } = 4 * 768;
    public int VitPatchSize { get; init; } = 16;
    public int VitImgSize { get; init; } = 224;
    public int VitNHeads { get; init; } = 12;
    public double VitDropout { get; init; }
    public int VitNBlocks { get; init; } = 12;
    public double VitLnEps { get; init; } = 1e-6;
    public bool VitClsFlag { get; init; }
    public string VitModelType { get; init; } = "google/siglip-base-patch16-224";

    public int LmHiddenDim { get; init; } = 576;
    public int LmInterDim { get; init; } = 1536;
    public double LmRmsEps { get; init; } = 1e-5;
    public double LmReBase { get; init; } = 100000;
    public int LmMaxPositionEmbeddings { get; init; } = 8192;
    public int LmBaseVocabSize { get; init; } = 49152;
    public int ExtraTokenAmount { get; init; } = 1;
    public int LmVocabSize { get; init; } = 49152 + 1;
    public int LmNHeads { get; init; } = 9;
    public int LmNKvHeads { get; init; } = 3;
    public double LmDropout { get; init; }
    public int LmNBlocks { get; init; } = 30;
    public double LmAttnScaling { get; init; } = 1.0;
    public int LmMaxLength { get; init; } = 128 - 49;
    public bool LmUseTokens { get; init; }
    public bool LmTieWeights { get; init; } = true;
    public string LmModelType { get; init; } = "HuggingFaceTB/SmolLM2-135M";
    public string LmTokenizer { get; init; } = "HuggingFaceTB/cosmo2-tokenizer";
    public string LmChatTemplate { get; init; } =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    /// <summary>Only v0.1 configs carry it; later generations take eos from the tokenizer (their VLMConfig rejects this key).</summary>
    [JsonIgnore] public int LmEosTokenId { get; init; }

    public int MpPixelShuffleFactor { get; init; } = 2;
    public int MpImageTokenLength { get; init; } = 49;
    public int MaxImgSize { get; init; } = 1024;
    public bool ResizeToMaxSideLen { get; init; }

    public Dictionary<string, string> VlmExtraTokens { get; init; } = new() { ["image_token"] = "<|image|>" };
    public bool VlmLoadBackboneWeights { get; init; } = true;
    public string VlmCheckpointPath { get; init; } = "checkpoints";
    public string HfRepoName { get; init; } = "nanoVLM";

    /// <summary>v0.1 checkpoints prepend the image embeddings to the text instead of replacing placeholder tokens.</summary>
    [JsonIgnore] public bool PrependsImages { get; init; }

    /// <summary>
    /// As nanoVLM's code reads the config: images are split when the tile tokens cover every grid <c>max_img_size</c> allows (its
    /// processor looks the token of every tile up), with a global tile only when there is a <c>global_image_token</c>; tile tokens
    /// that cannot cover that grid (the seed's <c>r1c1</c>..<c>r4c4</c> beside a 1024-px maximum) were never used to split.
    /// </summary>
    [JsonIgnore]
    public CheckpointGeneration Generation => PrependsImages ? CheckpointGeneration.V01
        : VlmExtraTokens.ContainsKey("global_image_token") ? CheckpointGeneration.Current
        : TileTokenGrid > 0 && TileTokenGrid >= MaxTileGrid ? CheckpointGeneration.SplitNoGlobal
        : CheckpointGeneration.SeedEra;

    /// <summary>k when <c>vlm_extra_tokens</c> holds the tile tokens <c>r1c1</c>..<c>rkck</c> (0 without <c>r1c1</c>).</summary>
    [JsonIgnore]
    public int TileTokenGrid
    {
        get
        {
            var k = 0;
            while (Enumerable.Range(1, k + 1).All(i => VlmExtraTokens.ContainsKey($"r{i}c{k + 1}") && VlmExtraTokens.ContainsKey($"r{k + 1}c{i}"))) k++;
            return k;
        }
    }

    /// <summary>The most tiles along one side of a split image: <c>max_img_size</c> / <c>vit_img_size</c>, rounded up.</summary>
    [JsonIgnore] public int MaxTileGrid => (MaxImgSize + VitImgSize - 1) / VitImgSize;

    [JsonIgnore] public int VitHeadDim => VitHiddenDim / VitNHeads;
    [JsonIgnore] public int LmHeadDim => LmHiddenDim / LmNHeads;
    [JsonIgnore] public int ImagePatchGrid => VitImgSize / VitPatchSize;
    [JsonIgnore] public string ImageToken => VlmExtraTokens.GetValueOrDefault("image_token", "<|image|>");
    [JsonIgnore] public int DerivedImageTokenLength => ImagePatchGrid * ImagePatchGrid / (MpPixelShuffleFactor * MpPixelShuffleFactor);

    /// <summary>Refused above this many parameters (80 GB of fp32 weights): a config that asks for more is a mistake or an attack.</summary>
    public const double MaxParameters = 20e9;
    /// <summary>Refused above this many image patches per image: attention over them is quadratic.</summary>
    public const int MaxImagePatches = 1 << 14;

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        IndentSize = 4,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Reads a nanoVLM <c>config.json</c>: unknown keys ignored, missing keys defaulted, then validated.</summary>
    public static VlmConfig Load(string path) => Parse(RegularFile.ReadAllText(path, RegularFile.MaxConfigBytes, "config"), path);

    public static VlmConfig Parse(string json, string source = "config.json")
    {
        VlmConfig? cfg;
        JsonObject obj;
        try
        {
            obj = JsonNode.Parse(json, documentOptions: new() { MaxDepth = 16 }) as JsonObject
                  ?? throw new NanoVlmException($"{source}: expected a JSON object");
            cfg = obj.Deserialize<VlmConfig>(Json);
            if (cfg is not null && obj["lm_eos_token_id"] is { } eos) cfg = cfg with { LmEosTokenId = eos.GetValue<int>() };
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            var where = e is JsonException { Path: { Length: > 2 } p } ? $" at '{p[2..]}'" : e is JsonException ? "" : " at 'lm_eos_token_id'";
            throw new NanoVlmException($"{source}: invalid config{where}: {FirstLine(e.Message)}");
        }
        if (cfg is null) throw new NanoVlmException($"{source}: expected a JSON object");
        // Older files lack keys their code derived: v0.1 has no extra tokens at all (images are prepended), and the seed era
        // computed the image token count.
        if (!obj.ContainsKey("vlm_extra_tokens") && !obj.ContainsKey("mp_image_token_length"))
            cfg = cfg with
            {
                PrependsImages = true, VlmExtraTokens = [], ExtraTokenAmount = 0, LmBaseVocabSize = cfg.LmVocabSize,
                MpImageTokenLength = cfg.DerivedImageTokenLength,
            };
        else if (!obj.ContainsKey("mp_image_token_length"))
            cfg = cfg with { MpImageTokenLength = cfg.DerivedImageTokenLength };
        cfg.Validate(source);
        return cfg;
    }

    /// <summary>The keys of nanoVLM's current <c>VLMConfig</c>, in its order: its <c>VLMConfig(**json)</c> rejects any other.</summary>
    public static readonly IReadOnlyList<string> CurrentKeys =
    [
        "vit_hidden_dim", "vit_inter_dim", "vit_patch_size", "vit_img_size", "vit_n_heads", "vit_dropout", "vit_n_blocks", "vit_ln_eps",
        "vit_cls_flag", "vit_model_type", "lm_hidden_dim", "lm_inter_dim", "lm_rms_eps", "lm_re_base", "lm_max_position_embeddings",
        "lm_base_vocab_size", "extra_token_amount", "lm_vocab_size", "lm_n_heads", "lm_n_kv_heads", "lm_dropout", "lm_n_blocks",
        "lm_attn_scaling", "lm_max_length", "lm_use_tokens", "lm_tie_weights", "lm_model_type", "lm_tokenizer", "lm_chat_template",
        "mp_pixel_shuffle_factor", "mp_image_token_length", "max_img_size", "resize_to_max_side_len", "vlm_extra_tokens",
        "vlm_load_backbone_weights", "vlm_checkpoint_path", "hf_repo_name",
    ];

    /// <summary>The keys of nanoVLM v0.1's <c>VLMConfig</c>, in its order.</summary>
    public static readonly IReadOnlyList<string> V01Keys =
    [
        "vit_hidden_dim", "vit_inter_dim", "vit_patch_size", "vit_img_size", "vit_n_heads", "vit_dropout", "vit_n_blocks", "vit_ln_eps",
        "vit_cls_flag", "vit_model_type", "lm_hidden_dim", "lm_inter_dim", "lm_rms_eps", "lm_re_base", "lm_max_position_embeddings",
        "lm_vocab_size", "lm_n_heads", "lm_n_kv_heads", "lm_dropout", "lm_n_blocks", "lm_attn_scaling", "lm_max_length", "lm_use_tokens",
        "lm_tie_weights", "lm_model_type", "lm_tokenizer", "lm_eos_token_id", "mp_pixel_shuffle_factor", "vlm_load_backbone_weights",
        "vlm_checkpoint_path",
    ];

    /// <summary>The config.json text: exactly the keys of the code generation that reads it (current, or v0.1 for a v0.1 model).</summary>
    public string ToJson()
    {
        var all = JsonSerializer.SerializeToNode(this, Json)!.AsObject();
        all["lm_eos_token_id"] = LmEosTokenId;
        var ordered = new JsonObject();
        foreach (var key in PrependsImages ? V01Keys : CurrentKeys) ordered[key] = all[key]!.DeepClone();
        return ordered.ToJsonString(Json);
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Throws a one-line <see cref="NanoVlmException"/> naming the first inconsistent field.</summary>
    public void Validate(string source = "config")
    {
        void Check(bool ok, string message)
        {
            if (!ok) throw new NanoVlmException($"{source}: {message}");
        }
        void Positive(string name, long value, long max) =>
            Check(value > 0 && value <= max, $"{name} must be between 1 and {max}, got {value}");

        Positive("vit_hidden_dim", VitHiddenDim, 1 << 16);
        Positive("vit_inter_dim", VitInterDim, 1 << 18);
        Positive("vit_patch_size", VitPatchSize, 1 << 12);
        Positive("vit_img_size", VitImgSize, 1 << 14);
        Positive("vit_n_heads", VitNHeads, 1 << 10);
        Positive("vit_n_blocks", VitNBlocks, 1 << 10);
        Positive("lm_hidden_dim", LmHiddenDim, 1 << 16);
        Positive("lm_inter_dim", LmInterDim, 1 << 18);
        Positive("lm_n_heads", LmNHeads, 1 << 10);
        Positive("lm_n_kv_heads", LmNKvHeads, 1 << 10);
        Positive("lm_n_blocks", LmNBlocks, 1 << 10);
        Positive("lm_vocab_size", LmVocabSize, 1 << 24);
        Positive("lm_max_position_embeddings", LmMaxPositionEmbeddings, 1 << 24);
        Positive("lm_max_length", LmMaxLength, 1 << 24);
        Positive("mp_pixel_shuffle_factor", MpPixelShuffleFactor, 1 << 8);
        Positive("lm_base_vocab_size", LmBaseVocabSize, 1 << 24);
        Positive("max_img_size", MaxImgSize, 1 << 14);
        Check(ExtraTokenAmount >= 0, $"extra_token_amount must be >= 0, got {ExtraTokenAmount}");
        foreach (var (key, value) in new[] { ("vit_model_type", VitModelType), ("lm_model_type", LmModelType), ("lm_tokenizer", LmTokenizer),
                     ("lm_chat_template", LmChatTemplate), ("vlm_checkpoint_path", VlmCheckpointPath), ("hf_repo_name", HfRepoName) })
            Check(value is not null, $"{key} must be a string, got null");
        Check(VlmExtraTokens is not null && VlmExtraTokens.Values.All(v => !string.IsNullOrEmpty(v)),
            "vlm_extra_tokens must be an object of non-empty strings");
        Check(VitDropout is >= 0 and < 1 && LmDropout is >= 0 and < 1, "vit_dropout and lm_dropout must be in [0, 1)");
        Check(double.IsFinite(LmAttnScaling), $"lm_attn_scaling must be finite, got {LmAttnScaling}");
        Check(LmRmsEps > 0 && VitLnEps > 0, "lm_rms_eps and vit_ln_eps must be positive");
        Check(LmReBase > 1 && double.IsFinite(LmReBase), $"lm_re_base must be a finite number greater than 1, got {LmReBase}");
        Check(VitHiddenDim % VitNHeads == 0, $"vit_hidden_dim {VitHiddenDim} is not divisible by vit_n_heads {VitNHeads}");
        Check(LmHiddenDim % LmNHeads == 0, $"lm_hidden_dim {LmHiddenDim} is not divisible by lm_n_heads {LmNHeads}");
        Check(LmHeadDim % 2 == 0, $"lm head dim {LmHeadDim} (lm_hidden_dim / lm_n_heads) must be even for rotary embeddings");
        Check(LmNHeads % LmNKvHeads == 0, $"lm_n_heads {LmNHeads} is not divisible by lm_n_kv_heads {LmNKvHeads}");
        Check(VitImgSize % VitPatchSize == 0, $"vit_patch_size {VitPatchSize} does not divide vit_img_size {VitImgSize}");
        Check(!VitClsFlag, "vit_cls_flag is not supported by the VLM (nanoVLM never sets it)");
        Check(ImagePatchGrid % MpPixelShuffleFactor == 0,
            $"the {ImagePatchGrid}x{ImagePatchGrid} patch grid is not divisible by mp_pixel_shuffle_factor {MpPixelShuffleFactor}");
        var tokens = ImagePatchGrid * ImagePatchGrid / (MpPixelShuffleFactor * MpPixelShuffleFactor);
        Check(MpImageTokenLength == tokens,
            $"mp_image_token_length is {MpImageTokenLength} but a {VitImgSize}px image with patch {VitPatchSize} and pixel shuffle {MpPixelShuffleFactor} gives {tokens} tokens");
        Check((long)ImagePatchGrid * ImagePatchGrid <= MaxImagePatches,
            $"vit_img_size {VitImgSize} / vit_patch_size {VitPatchSize} gives {(long)ImagePatchGrid * ImagePatchGrid} patches per image, over the limit of {MaxImagePatches}");
        var parameters = EstimatedParameters();
        Check(parameters <= MaxParameters,
            $"the model would have {parameters:0.###e0} parameters ({parameters * 4 / 1e12:0.##} TB in fp32), over the limit of {MaxParameters:0e0}");
        Check(LmVocabSize >= LmBaseVocabSize, $"lm_vocab_size {LmVocabSize} is smaller than lm_base_vocab_size {LmBaseVocabSize}");
        Check(LmEosTokenId >= 0 && LmEosTokenId < LmVocabSize, $"lm_eos_token_id {LmEosTokenId} is outside the vocabulary");
        CheckTileTokens(Check);
    }

    /// <summary>Tile tokens and the global image token as nanoVLM wrote them: a full r1c1..rkck block, and with a global token one that covers the grid.</summary>
    void CheckTileTokens(Action<bool, string> check)
    {
        var k = TileTokenGrid;
        foreach (var key in VlmExtraTokens.Keys)
            if (TileKey().Match(key) is { Success: true } m && Math.Max(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)) is var n && n > k)
                check(false, $"vlm_extra_tokens has the tile token {key} but not all of r1c1..r{n}c{n}, the block nanoVLM writes");
        var grid = MaxTileGrid;
        check(!VlmExtraTokens.ContainsKey("global_image_token") || k >= grid,
            $"vlm_extra_tokens has global_image_token but its tile tokens cover {(k == 0 ? "no grid" : $"r1c1..r{k}c{k}")} where max_img_size {MaxImgSize} " +
            $"with vit_img_size {VitImgSize} splits images up to {grid}x{grid}: a config nanoVLM never wrote");
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^r(\d{1,4})c(\d{1,4})$")]
    private static partial System.Text.RegularExpressions.Regex TileKey();

    /// <summary>
    /// The model fits in memory: its fp32 weights (4 bytes a parameter), or to train it the weights, gradients and AdamW's two
    /// moments (16); activations come on top.
    /// </summary>
    public void EnsureFitsInMemory(string source, bool training = false, long? available = null)
    {
        var parameters = EstimatedParameters();
        MemoryBudget.EnsureFits(parameters * (training ? 16 : 4), $"{source}: {(training ? "training " : "")}the model ({parameters:0.###e0} parameters)", available);
    }

    /// <summary>The parameter count of the model this config builds, computed without building it (in double: no overflow).</summary>
    public double EstimatedParameters() => EstimatedParameterCounts().Total;

    /// <summary>The parameter counts per component (what <see cref="VisionLanguageModel.ParameterCounts"/> gives once built).</summary>
    public (double Vision, double Projector, double Decoder, double Total) EstimatedParameterCounts()
    {
        double vh = VitHiddenDim, vi = VitInterDim, p = VitPatchSize, lh = LmHiddenDim, li = LmInterDim, v = LmVocabSize, f = MpPixelShuffleFactor;
        double kv = (double)LmHeadDim * LmNKvHeads, patches = (double)ImagePatchGrid * ImagePatchGrid;
        var vitBlock = 4 * vh + (3 * vh * vh + 3 * vh) + (vh * vh + vh) + (vh * vi + vi) + (vi * vh + vh);
        var vision = 3 * vh * p * p + vh + patches * vh + VitNBlocks * vitBlock + 2 * vh;
        var projector = vh * f * f * lh;
        var lmBlock = 2 * lh + 2 * lh * lh + 2 * lh * kv + 3 * lh * li;
        var decoder = v * lh + LmNBlocks * lmBlock + lh + (LmTieWeights ? 0 : lh * v);
        return (vision, projector, decoder, vision + projector + decoder);
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
