using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using static NanoVlm.Tests.Kernels.StreamingMatVecTests;
using NanoVlm.Generation.Kernels;

namespace NanoVlm.Tests.Kernels;

/// <summary>The fused C# decode step against the modules it stands in for: outputs and the cache slot it writes.</summary>
[Collection(nameof(RunsAlone))]
public class DecodeStepTests
{
    /// <summary>
    /// Head dim 8 (the vector loops exactly), 12 (their scalar tails) and 24 (the attention's 16-wide sums and a tail); 4 query heads
    /// on 2 kv heads unless said; an MLP 44 wide (tails again).
    /// </summary>
    static VlmConfig Config(int headDim, int heads, int kvHeads) =>
        TestModels.Tiny with { LmHiddenDim = heads * headDim, LmNHeads = heads, LmNKvHeads = kvHeads, LmInterDim = 44 };

    public static TheoryData<int, ScalarType> Cases => new()
    {
        { 8, ScalarType.Float32 }, { 12, ScalarType.Float32 }, { 24, ScalarType.Float32 },
        { 8, ScalarType.BFloat16 }, { 12, ScalarType.BFloat16 }, { 24, ScalarType.BFloat16 },
    };

    /// <summary>5 query heads on each kv head: the attention takes them 4 and 1 at a time.</summary>
    [Fact]
    public void FiveQueryHeadsPerKvHeadEqualTheModules()
    {
        foreach (var t in new[] { 1, 3 })
        {
            using var scope = NewDisposeScope();
            var decoder = Decoder(16, ScalarType.Float32, heads: 10, kvHeads: 2);
            Compare(decoder, randn(1, 20, decoder.Hidden), null, ScalarType.Float32, t);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LeftPaddedRowsEqualTheModules(int headDim, ScalarType dtype)
    {
        // A step of one token per row, and one of two (4 tokens: the most bf16 takes).
        foreach (var t in new[] { 1, 2 })
        {
            using var scope = NewDisposeScope();
            var decoder = Decoder(headDim, dtype);
            // Row 0 has 3 padded positions at the start; the step's tokens are attended by both rows.
            var mask = ones(2, 9 + t, int64);
            mask[0, ..3] = 0;
            Compare(decoder, randn(2, 9, decoder.Hidden).to(dtype), mask, dtype, t);
        }
    }

    /// <summary>
    /// The rest of a prompt after its cached start, as a later turn of a conversation prefills it: several new positions at once,
    /// each attending to the cache and to the new positions before it (in fp32 up to 16 tokens, in bf16 up to 4).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void SeveralNewPositionsAfterACachedPrefixEqualTheModules(int headDim, ScalarType dtype)
    {
        foreach (var t in dtype == ScalarType.Float32 ? new[] { 3, 13, MatVecLinear.MaxRows } : [3, MatVecLinear.MaxBf16Rows])
        {
            using var scope = NewDisposeScope();
            var decoder = Decoder(headDim, dtype);
            Compare(decoder, randn(1, 11, decoder.Hidden).to(dtype), null, dtype, t);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PositionsBeyondTheTrainedContextEqualTheModules(int headDim, ScalarType dtype)
    {
        foreach (var t in new[] { 1, 3 })
        {
            using var scope = NewDisposeScope();
            var decoder = Decoder(headDim, dtype);
            // 127 or more cached positions: the step reaches past lm_max_position_embeddings (128), where RoPE's frequencies are stretched.
            Compare(decoder, randn(1, 130 - t, decoder.Hidden).to(dtype), null, dtype, t);
        }
    }

    [Fact]
    public void MergedCachesWithTheirOwnPositionsEqualTheModules()
    {
        using var scope = NewDisposeScope();
        var decoder = Decoder(8, ScalarType.Float32);
        using var inference = inference_mode();
        KvCache Prefill(int length)
        {
            var cache = new KvCache(decoder.Model.Config, 1, length, float32, CPU);
            decoder.Model.Decoder.call(randn(1, length, decoder.Hidden), null, cache, null);
            return cache;
        }
        using var shorter = Prefill(4);
        using var longer = Prefill(7);
        // As the server joins prompts: right-aligned, each row keeping its own positions (RowStarts) and masking the slots before it.
        using var merged = KvCache.Merge([(shorter, [0]), (longer, [0])], 3);
        using var copy = KvCache.Merge([(merged, [0, 1])], 3);
        // One token per row, then two: each row's new positions follow its own.
        foreach (var t in new[] { 1, 2 })
        {
            var mask = arange(merged.Length + t).unsqueeze(0).ge(merged.RowStarts!.unsqueeze(1));
            var (expected, actual) = Step(decoder, randn(2, t, decoder.Hidden), mask, merged, copy);
            AssertClose(expected, actual, 1e-5, 1e-5, $"hidden states of merged rows, {t} new positions");
        }
    }

    [Fact]
    public void ACacheOfAnotherDtypeOrBatchIsLeftToTheModules()
    {
        using var scope = NewDisposeScope();
        var decoder = Decoder(8, ScalarType.Float32);
        using var inference = inference_mode();
        var x = randn(1, 1, decoder.Hidden);
        using (var small = new KvCache(decoder.Model.Config, 1, 2, float32, CPU))
            Assert.Null(DecodeStep.Run(DecoderWeights.From(decoder.Model), randn(1, 3, decoder.Hidden), null, small));
        using (var roomy = new KvCache(decoder.Model.Config, 1, 40, float32, CPU))
            Assert.Null(DecodeStep.Run(DecoderWeights.From(decoder.Model), randn(1, MatVecLinear.MaxRows + 1, decoder.Hidden), null, roomy));
        // Several new positions after a long cache: their attention is libtorch's.
        using (var prefix = new KvCache(decoder.Model.Config, 1, DecodeStep.MaxNewPositionsTimesSlots / 2 + 2, float32, CPU))
        {
            prefix.Advance(DecodeStep.MaxNewPositionsTimesSlots / 2);
            Assert.Null(DecodeStep.Run(DecoderWeights.From(decoder.Model), randn(1, 2, decoder.Hidden), null, prefix));
            Assert.NotNull(DecodeStep.Run(DecoderWeights.From(decoder.Model), randn(1, 1, decoder.Hidden), null, prefix));
        }
        // At the limit itself: 2 positions after 2,046 slots.
        using (var limit = new KvCache(decoder.Model.Config, 1, DecodeStep.MaxNewPositionsTimesSlots / 2, float32, CPU))
        {
            limit.Advance(DecodeStep.MaxNewPositionsTimesSlots / 2 - 2);
            Assert.NotNull(DecodeStep.Run(DecoderWeights.From(decoder.Model), randn(1, 2, decoder.Hidden), null, limit));
        }
        using (var padded = new KvCache(decoder.Model.Config, 1, 4, float32, CPU))
            Assert.Null(DecodeStep.Run(DecoderWeights.From(decoder.Model), randn(1, 2, decoder.Hidden), tensor(new long[,] { { 1, 0 } }), padded));
        using var bf16Cache = new KvCache(decoder.Model.Config, 1, 4, bfloat16, CPU);
        Assert.Null(DecodeStep.Run(DecoderWeights.From(decoder.Model), x, null, bf16Cache));
        using var widerCache = new KvCache(decoder.Model.Config, 2, 4, float32, CPU);
        Assert.Null(DecodeStep.Run(DecoderWeights.From(decoder.Model), x, null, widerCache));
        using var fits = new KvCache(decoder.Model.Config, 1, 4, float32, CPU);
        Assert.NotNull(DecodeStep.Run(DecoderWeights.From(decoder.Model), x, null, fits));
    }

    sealed record TestDecoder(VisionLanguageModel Model, int Hidden);

    static TestDecoder Decoder(int headDim, ScalarType dtype, int heads = 4, int kvHeads = 2)
    {
        var model = TestModels.Create(seed: 5, Config(headDim, heads, kvHeads));
        if (dtype != ScalarType.Float32) model.to(dtype);
        return new TestDecoder(model, heads * headDim);
    }

    /// <summary>
    /// Prefills <paramref name="prompt"/> into two caches, then runs a step of <paramref name="t"/> new positions per row through the
    /// modules on one and through the fused step on the other.
    /// </summary>
    static void Compare(TestDecoder decoder, Tensor prompt, Tensor? mask, ScalarType dtype, int t)
    {
        using var inference = inference_mode();
        var (batch, length) = ((int)prompt.size(0), (int)prompt.size(1));
        using var reference = new KvCache(decoder.Model.Config, batch, length + t, dtype, CPU);
        using var fused = new KvCache(decoder.Model.Config, batch, length + t, dtype, CPU);
        var prefillMask = mask?.narrow(1, 0, length);
        decoder.Model.Decoder.call(prompt, prefillMask, reference, null);
        decoder.Model.Decoder.call(prompt, prefillMask, fused, null);
        var (expected, actual) = Step(decoder, randn(batch, t, decoder.Hidden).to(dtype), mask, reference, fused);
        var (rtol, atol) = dtype == ScalarType.Float32 ? (1e-5, 1e-5) : (0.05, 0.05);
        AssertClose(expected.to(float32), actual.to(float32), rtol, atol, $"hidden states, {dtype}, {t} new positions");
        for (var layer = 0; layer < decoder.Model.Config.LmNBlocks; layer++)
        {
            var (k0, v0) = reference.Layer(layer);
            var (k1, v1) = fused.Layer(layer);
            AssertClose(k0.to(float32), k1.to(float32), rtol, atol, $"cached keys of layer {layer}");
            AssertClose(v0.to(float32), v1.to(float32), rtol, atol, $"cached values of layer {layer}");
        }
    }

    /// <summary>One step (x [rows, new positions, hidden]) through the modules on one cache and through the fused step on the other.</summary>
    static (Tensor Expected, Tensor Actual) Step(TestDecoder decoder, Tensor x, Tensor? mask, KvCache reference, KvCache fused)
    {
        using var inference = inference_mode();
        var expected = decoder.Model.Decoder.call(x, mask, reference, null);
        var actual = DecodeStep.Run(DecoderWeights.From(decoder.Model), x, mask, fused);
        Assert.NotNull(actual);
        Assert.Equal(reference.Length, fused.Length);
        return (expected, actual);
    }
}
