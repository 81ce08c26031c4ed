using NanoVlm.Generation;
using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Models;

[Collection(nameof(RunsAlone))]
public class ModelTests
{
    [Fact]
    public void PixelShuffleGroupsEachNeighbourhoodRowMajor()
    {
        // 4x4 grid of 2-dim tokens; token (r, c) holds [10r + c, -(10r + c)].
        var grid = arange(4).unsqueeze(1) * 10 + arange(4).unsqueeze(0);
        var x = stack([grid, -grid], -1).reshape(1, 16, 2).to(float32);
        var y = ModalityProjector.PixelShuffle(x, 2);
        Assert.Equal([1L, 4, 8], y.shape);
        // Output token (i, j) is the concatenation of tokens (2i, 2j), (2i, 2j+1), (2i+1, 2j), (2i+1, 2j+1).
        for (var i = 0; i < 2; i++)
        for (var j = 0; j < 2; j++)
        {
            var expected = new[] { (2 * i, 2 * j), (2 * i, 2 * j + 1), (2 * i + 1, 2 * j), (2 * i + 1, 2 * j + 1) }
                .SelectMany(p => new float[] { 10 * p.Item1 + p.Item2, -(10 * p.Item1 + p.Item2) }).ToArray();
            Assert.Equal(expected, y[0, 2 * i + j].data<float>().ToArray());
        }
    }

    [Fact]
    public void PixelShuffleRejectsGridNotDivisible() =>
        Assert.Throws<NanoVlmException>(() => ModalityProjector.PixelShuffle(zeros(1, 9, 2), 2));

    [Fact]
    public void CachedGreedyEqualsUncachedOnPaddedBatchWithMixedImageCounts()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [2, 0, 1], [3, 7, 5]);
        var options = new GenerationOptions { MaxNewTokens = 12, Greedy = true, StopAtEos = false };
        var cached = model.Generate(ids, images, mask, options);
        var uncached = model.Generate(ids, images, mask, options with { UseKvCache = false });
        Assert.Equal([3L, 12], cached.shape);
        Assert.True(cached.eq(uncached).all().item<bool>());
    }

    [Fact]
    public void StoppingAtEosGivesTheSameResultAsRunningEveryStep()
    {
        // A hot temperature makes sampling near-uniform, so each row meets eos well within 200 steps.
        using var model = TestModels.Create(seed: 3);
        var (ids, mask, images) = TestModels.Batch(model, [1, 1], [4, 2]);
        var options = new GenerationOptions { MaxNewTokens = 200, TopK = 0, TopP = 1.0, Temperature = 10.0, Seed = 7 };
        var full = model.Generate(ids, images, mask, options with { StopAtEos = false });
        var steps = 0;
        var early = model.Generate(ids, images, mask, options, _ => steps++);
        Assert.True(steps < 200, "every row should have reached eos before the last step");
        Assert.True(full.eq(early).all().item<bool>());
        var checkedPeriodically = model.Generate(ids, images, mask, options); // no callback: eos is checked every few steps
        Assert.True(full.eq(checkedPeriodically).all().item<bool>());
    }

    [Fact]
    public void SamplingIsReproducibleWithASeed()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1], [4]);
        var options = new GenerationOptions { MaxNewTokens = 10, Temperature = 1.5, Seed = 42 };
        var a = model.Generate(ids, images, mask, options);
        var b = model.Generate(ids, images, mask, options);
        var c = model.Generate(ids, images, mask, options with { Seed = 43 });
        Assert.True(a.eq(b).all().item<bool>());
        Assert.False(a.eq(c).all().item<bool>());
    }

    [Fact]
    public void ZeroNewTokensReturnsAnEmptyResult()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1, 0], [2, 3]);
        var ids0 = model.Generate(ids, images, mask, new GenerationOptions { MaxNewTokens = 0 });
        Assert.Equal([2L, 0], ids0.shape);
    }

    [Fact]
    public void EverythingAfterTheFirstEosBecomesEos()
    {
        var ids = tensor(new long[,] { { 5, 0, 7, 8 }, { 1, 2, 3, 4 }, { 0, 9, 0, 9 } });
        var expected = tensor(new long[,] { { 5, 0, 0, 0 }, { 1, 2, 3, 4 }, { 0, 0, 0, 0 } });
        Assert.True(TextGeneration.ReplaceAfterEos(ids, 0).eq(expected).all().item<bool>());
    }

    [Fact]
    public void PerSampleImageListsEqualTheFlatList()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [2, 0, 1], [3, 4, 2]);
        var perSample = new List<IReadOnlyList<Tensor>> { new[] { images![0], images[1] }, Array.Empty<Tensor>(), new[] { images[2] } };
        var flat = model.forward(ids, images, mask).Logits;
        var nested = model.forward(ids, VisionLanguageModel.StackImages(perSample.SelectMany(x => x).ToList()), mask).Logits;
        Assert.True(flat.allclose(nested, rtol: 0, atol: 0));
    }

    [Fact]
    public void TextOnlyBatchSkipsTheVisionTower()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [0, 0], [3, 5]);
        Assert.Null(images);
        var (logits, loss) = model.forward(ids, images, mask, ids);
        Assert.Equal([2L, 5, 51], logits.shape);
        Assert.True(loss!.isfinite().item<bool>());
        var emptyBatch = model.forward(ids, zeros(0, 3, 32, 32), mask).Logits; // how a collator stacks "no images"
        Assert.True(emptyBatch.eq(logits).all().item<bool>());
    }

    [Fact]
    public void LeftPaddingDoesNotChangeRealTokens()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1, 1], [6, 2]);
        var batched = model.forward(ids, images, mask).Logits;
        var realLength = 4 + 2;
        var alone = model.forward(ids[1..2, ^realLength..], images![1..2], mask[1..2, ^realLength..]).Logits;
        var error = (batched[1, ^realLength..] - alone[0]).abs().max().item<float>();
        Assert.True(error < 1e-5, $"max abs difference {error}");
    }

    [Fact]
    public void PackedSamplesComputeWhatEachComputesAlone()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1, 1, 0], [5, 3, 4]);
        var width = (int)ids.shape[1];
        var (a, b, c) = (ids[0, (width - 9)..], ids[1, (width - 7)..], ids[2, (width - 4)..]);
        // Row 0 packs A and B; row 1 holds C after 12 padding tokens.
        var packed = stack([cat([a, b]), cat([zeros(12, int64), c])]);
        var sequenceIds = tensor(new long[,]
        {
            { 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2 },
            { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 },
        });
        var logits = model.forward(packed, images, sequenceIds.ne(0).to(int64), sequenceIds: sequenceIds).Logits;

        float Error(Tensor part, Tensor sample, Tensor? image) =>
            (part - model.forward(sample.unsqueeze(0), image).Logits[0]).abs().max().item<float>();
        Assert.True(Error(logits[0, ..9], a, images![0..1]) < 1e-5);
        Assert.True(Error(logits[0, 9..], b, images[1..2]) < 1e-5);
        Assert.True(Error(logits[1, 12..], c, null) < 1e-5);
        Assert.True(logits.isfinite().all().item<bool>(), "padding positions stay finite");
        var unmasked = model.forward(packed, images, sequenceIds.ne(0).to(int64)).Logits;
        Assert.True(Error(unmasked[0, 9..], b, images[1..2]) > 1e-3, "without sequence ids B sees A");
    }

    [Fact]
    public void MismatchedImageCountIsAClearError()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [2], [3]);
        var e = Assert.Throws<NanoVlmException>(() => model.forward(ids, images![..1], mask));
        Assert.Contains("8 image tokens but 1 images", e.Message);
    }

    [Fact]
    public void LossIgnoresMinus100Targets()
    {
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1], [5]);
        var targets = full_like(ids, -100);
        targets[0, -1] = 3;
        var (logits, loss) = model.forward(ids, images, mask, targets);
        var expected = -logits[0, -1].log_softmax(-1)[3].item<float>();
        Assert.Equal(expected, loss!.item<float>(), 5);
    }

    [Fact]
    public void DefaultModelHasTheSeedsParameterCounts()
    {
        using var model = Devices.OnMeta(() => new VisionLanguageModel(new VlmConfig(), initWeights: false));
        Assert.Equal((85_797_120L, 1_769_472L, 134_515_584L, 222_082_176L), model.ParameterCounts());
    }

    [Fact]
    public void TopKTopPFilterKeepsTheTopTokens()
    {
        var logits = tensor(new float[,] { { 5, 4, 3, 2, 1, 0 } });
        Assert.Equal([true, true, true, false, false, false], Sampling.TopKTopPFilter(logits, 3, 1.0).isfinite().data<bool>().ToArray());
        // probabilities ≈ .64 .23 .09 .03 .01 .004: cumulative .64 .87 .95 ...; p = 0.9 keeps the first two.
        Assert.Equal([true, true, false, false, false, false], Sampling.TopKTopPFilter(logits, 0, 0.9).isfinite().data<bool>().ToArray());
        Assert.Equal([true, false, false, false, false, false], Sampling.TopKTopPFilter(logits, 0, 0.01).isfinite().data<bool>().ToArray());
    }
}
