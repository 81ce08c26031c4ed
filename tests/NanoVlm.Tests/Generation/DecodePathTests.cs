using NanoVlm.Generation;
using TorchSharp;
using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Generation;

/// <summary>The decode path is chosen per generation; the kernels never skip what changes a layer.</summary>
[Collection(nameof(RunsAlone))]
public class DecodePathTests
{
    static readonly GenerationOptions Greedy = new() { MaxNewTokens = 10, Greedy = true, StopAtEos = false };

    [Fact]
    public void EveryPathGivesTheSameTokens()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 4);
        model.eval();
        var (ids, mask, images) = TestModels.Batch(model, [1, 1], [5, 3]);
        var modules = model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Modules });
        foreach (var path in new[] { DecodePath.Auto, DecodePath.Kernels })
            Assert.True(modules.eq(model.Generate(ids, images, mask, Greedy with { DecodePath = path })).all().item<bool>(), $"{path}");
        Assert.Equal(DecodePath.Kernels, new DecodeRunner(model, DecodePath.Auto).Path);
    }

    /// <summary>A forward hook changes decode-time outputs: Auto runs the modules and applies it, Kernels refuses the model.</summary>
    [Fact]
    public void AHookIsNeverSkippedAtDecodeTime()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 4);
        model.eval();
        var (ids, mask, images) = TestModels.Batch(model, [1], [5]);
        var plain = model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Kernels });
        // Step by step, one row of the hooked model against the same model decoded without the cache: every position recomputed
        // by the modules, so a skipped hook at decode time would show.
        var hook = model.Decoder.blocks[0].mlp.register_forward_hook((_, _, output) => output * 3 + 1);
        var auto = new DecodeRunner(model, DecodePath.Auto);
        Assert.Equal(DecodePath.Modules, auto.Path);
        var hooked = model.Generate(ids, images, mask, Greedy);
        var recomputed = model.Generate(ids, images, mask, Greedy with { UseKvCache = false, DecodePath = DecodePath.Modules });
        Assert.True(hooked.eq(recomputed).all().item<bool>(), "the hooked model decoded with its cache differs from the same model recomputed");
        Assert.False(hooked.eq(plain).all().item<bool>(), "the hook changed nothing: the test proves nothing");
        var e = Assert.Throws<NanoVlmException>(() => model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Kernels }));
        Assert.Contains("decoder.blocks.0.mlp has a forward hook", e.Message);
        hook.remove();
        Assert.Equal(DecodePath.Kernels, new DecodeRunner(model, DecodePath.Auto).Path);
    }

    [Fact]
    public void TheKernelsRefuseWhatTheyDoNotComputeWithAReason()
    {
        using var model = TestModels.Create(seed: 4);
        model.train();
        Assert.Contains("training mode", Assert.Throws<NanoVlmException>(() => new DecodeRunner(model, DecodePath.Kernels)).Message);
        model.eval();
        model.to(float64);
        Assert.Contains("dtype is Float64", Assert.Throws<NanoVlmException>(() => new DecodeRunner(model, DecodePath.Kernels)).Message);
        Assert.Equal(DecodePath.Modules, new DecodeRunner(model, DecodePath.Auto).Path);
    }
}
