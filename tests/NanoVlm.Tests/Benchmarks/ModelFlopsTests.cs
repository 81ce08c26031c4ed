using NanoVlm.Benchmarks;
using NanoVlm.Models;

namespace NanoVlm.Tests.Benchmarks;

public class ModelFlopsTests
{
    [Fact]
    public void TinyPresetMatchesAHandCount()
    {
        // ViT C 128, MLP 512, 4 blocks, patch 4 on 32px (N = 64 tokens); pixel shuffle 2 (16 tokens of 512);
        // decoder H 128, 4 heads of 32, 2 kv heads, MLP 384, 4 blocks, vocab 1025. Batch 2, one image each, 32 tokens.
        var cfg = new VlmConfig
        {
            VitHiddenDim = 128, VitInterDim = 4 * 128, VitPatchSize = 4, VitImgSize = 32, VitNHeads = 4, VitNBlocks = 4,
            MpPixelShuffleFactor = 2, MpImageTokenLength = 16,
            LmHiddenDim = 128, LmInterDim = 384, LmNHeads = 4, LmNKvHeads = 2, LmNBlocks = 4,
            LmBaseVocabSize = 1024, ExtraTokenAmount = 1, LmVocabSize = 1024 + 1, LmMaxLength = 128,
        };
        var count = ModelFlops.Forward(cfg, batch: 2, seqLen: 32, imagesPerSample: 1);

        const double patchConv = 3 * 4 * 4 * 128;                          // 6,144
        const double vitBlock = 128 * 384 + 128 * 128 + 2 * 128 * 512;     // qkv + out + fc1 + fc2 = 196,608
        const double vitAttention = 2 * 64 * 64 * 128 * 2;                 // scores + weighted sum, per block
        const double vision = 2 * (2 * 64 * (patchConv + 4 * vitBlock) + 4 * vitAttention);
        Assert.Equal(219_676_672, vision);
        Assert.Equal(vision, count.Vision);

        Assert.Equal(2 * (2 * 16 * 512 * 128), count.Projector);

        const double lmBlock = 128 * 128 + 2 * 128 * 64 + 128 * 128 + 3 * 128 * 384; // q, k+v, out, gate+up+down = 196,608
        const double head = 128 * 1025;
        const double lmAttention = 2 * 32 * 32 * 128 * 2;
        const double decoder = 2 * (2 * 32 * (4 * lmBlock + head) + 4 * lmAttention);
        Assert.Equal(121_651_200, decoder);
        Assert.Equal(decoder, count.Decoder);

        Assert.Equal(count.Vision + count.Projector + count.Decoder, count.Forward);
        Assert.Equal(3 * count.Forward, count.TrainingStep);
    }

    [Fact]
    public void The222mTrainingStepMatchesTheAnchor()
    {
        // The anchor: 15.4 s per step at batch 4, seq 128 is "about 55 GFLOP/s", i.e. about 850 GFLOP per step.
        var gflop = ModelFlops.Forward(new VlmConfig(), batch: 4, seqLen: 128, imagesPerSample: 1).TrainingStep / 1e9;
        Assert.InRange(gflop, 820, 880);
    }
}
