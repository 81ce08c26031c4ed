using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>
/// Random inputs shaped like a training batch: each sample is one image's placeholder tokens followed by random text ids,
/// no padding, targets shifted by one with the image positions ignored (-100), as the collator produces them; on the
/// model's device, so that timing leaves the host-to-device copy out.
/// </summary>
public sealed record SyntheticBatch(Tensor InputIds, Tensor Images, Tensor AttentionMask, Tensor Targets) : IDisposable
{
    public static SyntheticBatch Create(VisionLanguageModel model, int batch, int seqLen, long seed = 0)
    {
        var cfg = model.Config;
        var imageTokens = cfg.MpImageTokenLength;
        if (seqLen <= imageTokens)
            throw NanoVlmException.For("SeqLen", $"{seqLen} leaves no text after the image's {imageTokens} tokens");
        try
        {
            ContextWindow.Check(cfg, seqLen, $"a sample of {seqLen} tokens");
        }
        catch (NanoVlmException e)
        {
            throw NanoVlmException.For("SeqLen", $"{seqLen}: {e.Message}");
        }
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)seed);
        var text = randint(1, cfg.LmBaseVocabSize, [batch, seqLen - imageTokens + 1], generator: gen);
        var ids = cat([full(batch, imageTokens, model.ImageTokenId, int64), text[.., ..^1]], 1);
        var targets = cat([full(batch, imageTokens - 1, -100L, int64), text], 1);
        var images = rand([batch, 3, cfg.VitImgSize, cfg.VitImgSize], generator: gen);
        var device = model.Device;
        return new SyntheticBatch(ids.to(device).DetachFromDisposeScope(), images.to(device).DetachFromDisposeScope(),
            ones(batch, seqLen, int64, device).DetachFromDisposeScope(), targets.to(device).DetachFromDisposeScope());
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Images.Dispose();
        AttentionMask.Dispose();
        Targets.Dispose();
    }
}
