using NanoVlm.Models;

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
