using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Benchmarks;

public class PresetsTests
{
    [Fact]
    public void The222mPresetCountsImagePlaceholdersInItsTextBudget()
    {
        var cfg = Presets.Get("222m");
        Assert.Equal(new VlmConfig().ToJson(), (cfg with { LmMaxLength = new VlmConfig().LmMaxLength }).ToJson());
        Assert.Equal(79 + 4 * cfg.MpImageTokenLength, cfg.LmMaxLength);
    }

    [Theory]
    [InlineData("460m", 460_000_000, 10_000_000)]
    [InlineData("230m", 230_000_000, 10_000_000)]
    public void CurrentGenerationPresetsMatchNanoVlm(string name, long parameters, long tolerance)
    {
        var cfg = Presets.Get(name);
        cfg.Validate();
        Assert.Equal(CheckpointGeneration.Current, cfg.Generation);
        Assert.Equal(66, cfg.VlmExtraTokens.Count);
        Assert.Equal(["image_token", "global_image_token", "r1c1", "r1c2"], cfg.VlmExtraTokens.Keys.Take(4));
        Assert.Equal("<row_8_col_8>", cfg.VlmExtraTokens["r8c8"]);
        Assert.Equal((512, 64, 4), (cfg.VitImgSize, cfg.MpImageTokenLength, cfg.MpPixelShuffleFactor));
        Assert.InRange(cfg.EstimatedParameters(), parameters - tolerance, parameters + tolerance);
    }

    [Fact]
    public void TinyIsAValidSmallModel()
    {
        var tiny = Presets.Get("TINY");
        tiny.Validate();
        Assert.Equal(tiny.ImagePatchGrid * tiny.ImagePatchGrid / (tiny.MpPixelShuffleFactor * tiny.MpPixelShuffleFactor), tiny.MpImageTokenLength);
        Assert.Equal(128, tiny.LmMaxLength);
        using var model = new VisionLanguageModel(tiny, initWeights: false);
        Assert.InRange(model.ParameterCounts().Total, 100_000, 5_000_000);
    }

    [Fact]
    public void CallersGetTheirOwnCopy()
    {
        Presets.Get("tiny").VlmExtraTokens["image_token"] = "<changed>";
        Assert.Equal("<|image|>", Presets.Get("tiny").ImageToken);
    }

    [Fact]
    public void UnknownPresetIsAOneLineErrorListingTheNames()
    {
        var e = Assert.Throws<NanoVlmException>(() => Presets.Get("7b"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("'7b'", e.Message);
        foreach (var name in Presets.Names) Assert.Contains(name, e.Message);
    }
}
