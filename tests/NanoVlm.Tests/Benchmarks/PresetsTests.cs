using NanoVlm.Models;

namespace NanoVlm.Tests.Benchmarks;

public class PresetsTests
{
    [Fact]
    public void The222mPresetIsTheDefaultConfig() => Assert.Equal(new VlmConfig().ToJson(), Presets.Get("222m").ToJson());

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
