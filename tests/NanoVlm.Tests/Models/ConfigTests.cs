using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Models;

public class ConfigTests
{
    [Fact]
    public void RoundTripsEveryKey()
    {
        var cfg = TestModels.Tiny with { LmChatTemplate = "{{ 'x' }}\n", VlmExtraTokens = new() { ["image_token"] = "<|image|>", ["r1c1"] = "<row_1_col_1>" } };
        var json = cfg.ToJson();
        foreach (var key in new[] { "vit_hidden_dim", "vit_cls_flag", "lm_re_base", "lm_base_vocab_size", "mp_image_token_length",
                     "vlm_extra_tokens", "lm_chat_template", "resize_to_max_side_len", "hf_repo_name", "vlm_checkpoint_path", "max_img_size" })
            Assert.Contains($"\"{key}\"", json);
        var back = VlmConfig.Parse(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(["image_token", "r1c1"], back.VlmExtraTokens.Keys);
    }

    /// <summary>PyTorch nanoVLM builds <c>VLMConfig(**json)</c>: the file must hold exactly its keys (nanovlm-generations.md §2).</summary>
    [Fact]
    public void WritesExactlyTheKeysOfNanoVlmsCurrentConfig()
    {
        const string specKeys = """
            vit_hidden_dim, vit_inter_dim, vit_patch_size, vit_img_size, vit_n_heads, vit_dropout, vit_n_blocks,
            vit_ln_eps, vit_cls_flag, vit_model_type, lm_hidden_dim, lm_inter_dim, lm_rms_eps, lm_re_base,
            lm_max_position_embeddings, lm_base_vocab_size, extra_token_amount, lm_vocab_size, lm_n_heads,
            lm_n_kv_heads, lm_dropout, lm_n_blocks, lm_attn_scaling, lm_max_length, lm_use_tokens, lm_tie_weights,
            lm_model_type, lm_tokenizer, lm_chat_template, mp_pixel_shuffle_factor, mp_image_token_length,
            max_img_size, resize_to_max_side_len, vlm_extra_tokens, vlm_load_backbone_weights,
            vlm_checkpoint_path, hf_repo_name
            """;
        var expected = specKeys.Split(',').Select(k => k.Trim()).ToList();
        foreach (var cfg in new[] { TestModels.Tiny with { LmEosTokenId = 2 }, Presets.Get("460m"), Presets.Get("tiny") })
        {
            var keys = System.Text.Json.Nodes.JsonNode.Parse(cfg.ToJson())!.AsObject().Select(kv => kv.Key).ToList();
            Assert.Equal(expected, keys);
        }
    }

    [Fact]
    public void ReadsAndWritesV01ConfigsAsTheyAre()
    {
        var file = Path.Combine(GoldenCases.First(GoldenCases.V01Format), "config.json");
        var cfg = VlmConfig.Load(file);
        Assert.Equal(CheckpointGeneration.V01, cfg.Generation);
        Assert.True(cfg.PrependsImages);
        Assert.Equal((0, 300, 300, 4), (cfg.ExtraTokenAmount, cfg.LmBaseVocabSize, cfg.LmVocabSize, cfg.MpImageTokenLength));
        Assert.Empty(cfg.VlmExtraTokens);
        var original = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        var written = System.Text.Json.Nodes.JsonNode.Parse(cfg.ToJson())!.AsObject();
        Assert.Equal(VlmConfig.V01Keys, written.Select(kv => kv.Key));
        foreach (var (key, value) in original) Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(value, written[key]), key);
        Assert.Equal(CheckpointGeneration.V01, VlmConfig.Parse(cfg.ToJson()).Generation);
    }

    [Fact]
    public void TellsTheGenerationsApart()
    {
        Assert.Equal(CheckpointGeneration.SeedEra, VlmConfig.Parse("""{"vlm_extra_tokens": {"image_token": "<|image|>"}}""").Generation);
        Assert.Equal(CheckpointGeneration.Current, Presets.Get("230m").Generation);
        // A seed-era file without mp_image_token_length gets the count its code derived.
        Assert.Equal(49, VlmConfig.Parse("""{"vlm_extra_tokens": {"image_token": "<|image|>"}}""").MpImageTokenLength);
        // Our older files carried lm_eos_token_id; it is read but never written for these generations.
        var old = VlmConfig.Parse("""{"lm_eos_token_id": 2, "mp_image_token_length": 49}""");
        Assert.Equal(2, old.LmEosTokenId);
        Assert.DoesNotContain("lm_eos_token_id", old.ToJson());
    }

    /// <summary>nanoVLM splits images when the tile tokens cover the grid max_img_size allows, and adds a global tile only with its token.</summary>
    [Fact]
    public void ImageSplittingFollowsTheTileTokensAndTheGlobalTileItsToken()
    {
        var current = Presets.Get("230m");
        var noGlobal = current with { VlmExtraTokens = current.VlmExtraTokens.Where(kv => kv.Key != "global_image_token").ToDictionary() };
        Assert.Equal(CheckpointGeneration.SplitNoGlobal, VlmConfig.Parse(noGlobal.ToJson()).Generation);
        Assert.True(CheckpointGeneration.SplitNoGlobal.SplitsImages());
        // nanoVLM's first image-splitting config: r1c1..r4c4 with 512-px tiles of images up to 1024 px, no global image.
        Assert.Equal(CheckpointGeneration.SplitNoGlobal, (current with { MaxImgSize = 1024, VlmExtraTokens = TileTokens(4) }).Generation);
        // The seed's r1c1..r4c4 beside 224-px images up to 1024 px could never split an image: the seed era.
        Assert.Equal(CheckpointGeneration.SeedEra, (new VlmConfig() with { VlmExtraTokens = TileTokens(4) }).Generation);
        Assert.False(CheckpointGeneration.SeedEra.SplitsImages());
        Assert.Equal(CheckpointGeneration.SeedEra, VlmConfig.Load(Path.Combine(GoldenCases.First(GoldenCases.SeedFormat), "config.json")).Generation);
    }

    [Theory]
    [InlineData("""{"vit_img_size": 512, "max_img_size": 2048, "vlm_extra_tokens": {"image_token": "<|image|>", "global_image_token": "<|g|>"}}""",
        "vlm_extra_tokens has global_image_token but its tile tokens cover no grid where max_img_size 2048 with vit_img_size 512 splits images up to 4x4")]
    [InlineData("""{"vit_img_size": 512, "max_img_size": 2048, "vlm_extra_tokens": {"image_token": "<|image|>", "global_image_token": "<|g|>", "r1c1": "<a>", "r1c2": "<b>", "r2c1": "<c>", "r2c2": "<d>"}}""",
        "its tile tokens cover r1c1..r2c2 where max_img_size 2048 with vit_img_size 512 splits images up to 4x4")]
    [InlineData("""{"vlm_extra_tokens": {"image_token": "<|image|>", "r1c1": "<a>", "r2c1": "<c>"}}""",
        "vlm_extra_tokens has the tile token r2c1 but not all of r1c1..r2c2")]
    public void AConfigMixingTheGenerationsIsAOneLineError(string json, string message)
    {
        var e = Assert.Throws<NanoVlmException>(() => VlmConfig.Parse(json, "x/config.json"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("x/config.json: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    static Dictionary<string, string> TileTokens(int k)
    {
        var tokens = new Dictionary<string, string> { ["image_token"] = "<|image|>" };
        for (var i = 1; i <= k; i++)
            for (var j = 1; j <= k; j++) tokens[$"r{i}c{j}"] = $"<row_{i}_col_{j}>";
        return tokens;
    }

    [Fact]
    public void UnknownKeysAreIgnoredAndMissingKeysDefaulted()
    {
        var cfg = VlmConfig.Parse("""{"lm_n_blocks": 4, "some_future_key": [1, 2], "vit_n_blocks": 3}""");
        Assert.Equal(4, cfg.LmNBlocks);
        Assert.Equal(3, cfg.VitNBlocks);
        Assert.Equal(new VlmConfig().LmHiddenDim, cfg.LmHiddenDim);
        Assert.Equal("<|image|>", cfg.ImageToken);
    }

    [Fact]
    public void ReadsTheGoldenCaseConfig()
    {
        var cfg = VlmConfig.Load(Path.Combine(GoldenCases.First(GoldenCases.SeedFormat), "config.json"));
        Assert.Equal(17, cfg.VlmExtraTokens.Count);
    }

    [Theory]
    [InlineData("""{"lm_hidden_dim": 100, "lm_n_heads": 9}""", "lm_hidden_dim 100 is not divisible by lm_n_heads 9")]
    [InlineData("""{"vit_hidden_dim": 100}""", "vit_hidden_dim 100 is not divisible by vit_n_heads 12")]
    [InlineData("""{"lm_n_kv_heads": 2}""", "lm_n_heads 9 is not divisible by lm_n_kv_heads 2")]
    [InlineData("""{"vit_patch_size": 15}""", "vit_patch_size 15 does not divide vit_img_size 224")]
    [InlineData("""{"vit_img_size": 208, "mp_image_token_length": 42}""", "patch grid is not divisible by mp_pixel_shuffle_factor 2")]
    [InlineData("""{"mp_image_token_length": 64}""", "mp_image_token_length is 64 but a 224px image")]
    [InlineData("""{"lm_n_blocks": 0}""", "lm_n_blocks must be between 1 and")]
    [InlineData("""{"lm_hidden_dim": -576}""", "lm_hidden_dim must be between 1 and")]
    [InlineData("""{"lm_vocab_size": 2000000000}""", "lm_vocab_size must be between 1 and")]
    [InlineData("""{"lm_hidden_dim": "big"}""", "invalid config at 'lm_hidden_dim'")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    [InlineData("""{"lm_hidden_dim": 576""", "invalid config")]
    public void InvalidConfigsGiveOneLineErrors(string json, string expected)
    {
        var e = Assert.Throws<NanoVlmException>(() => VlmConfig.Parse(json, "cfg.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("cfg.json: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
