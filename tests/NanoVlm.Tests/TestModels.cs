using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Tests;

/// <summary>Tiny configurations and inputs for fast tests.</summary>
public static class TestModels
{
    public static VlmConfig Tiny { get; } = new()
    {
        VitHiddenDim = 32, VitInterDim = 64, VitPatchSize = 8, VitImgSize = 32, VitNHeads = 2, VitNBlocks = 1,
        LmHiddenDim = 32, LmInterDim = 64, LmNHeads = 4, LmNKvHeads = 2, LmNBlocks = 2,
        LmBaseVocabSize = 50, ExtraTokenAmount = 1, LmVocabSize = 51, LmMaxPositionEmbeddings = 128, LmMaxLength = 64,
        MpImageTokenLength = 4, VitModelType = "testing", LmModelType = "testing",
    };

    public static VisionLanguageModel Create(long seed = 0, VlmConfig? cfg = null)
    {
        manual_seed(seed);
        var model = new VisionLanguageModel(cfg ?? Tiny);
        model.eval();
        return model;
    }

    /// <summary>A left-padded batch: row r has images[r] images, then text tokens (ids 1..49), pad id 0 with mask 0.</summary>
    public static (Tensor Ids, Tensor Mask, Tensor? Images) Batch(VisionLanguageModel model, int[] imagesPerRow, int[] textPerRow, long seed = 1)
    {
        var gen = new Generator((ulong)seed);
        var tokens = model.Config.MpImageTokenLength;
        var rows = imagesPerRow.Select((n, r) => Enumerable.Repeat((long)model.ImageTokenId, n * tokens)
            .Concat(randint(1, 50, [textPerRow[r]], generator: gen).data<long>().ToArray()).ToArray()).ToList();
        var width = rows.Max(r => r.Length);
        var ids = zeros(rows.Count, width, int64);
        var mask = zeros(rows.Count, width, int64);
        for (var r = 0; r < rows.Count; r++)
        {
            ids[r, (width - rows[r].Length)..] = tensor(rows[r]);
            mask[r, (width - rows[r].Length)..] = 1;
        }
        var nImages = imagesPerRow.Sum();
        var images = nImages == 0 ? null : rand([nImages, 3, model.Config.VitImgSize, model.Config.VitImgSize], generator: gen);
        return (ids, mask, images);
    }
}
