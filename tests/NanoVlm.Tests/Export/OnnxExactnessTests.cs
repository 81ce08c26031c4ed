using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NanoVlm.Export;
using NanoVlm.Models;
using NanoVlm.Pretrained;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace NanoVlm.Tests.Export;

/// <summary>
/// The exported graphs run by ONNX Runtime against the TorchSharp model, on every golden case of every generation: the prompt's
/// logits (an image and a question), then 16 cached decoding steps, within 1e-4, and the same greedy tokens.
/// </summary>
[Collection(nameof(RunsAlone))]
public class OnnxExactnessTests
{
    const int Steps = 16;
    const float Tolerance = 1e-4f;

    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void GraphsGiveTheModelsLogits(string caseDir) => CompareWithModel(caseDir, new OnnxExportOptions(), Tolerance);

    /// <summary>Opset 18 (ReduceMean's axes as an input) on a splitting case.</summary>
    [Fact]
    public void Opset18GivesTheSameLogits() => CompareWithModel(GoldenCases.First(GoldenCases.V02Format), new OnnxExportOptions { Opset = 18 }, Tolerance);

    /// <summary>Half-precision weights: close to the float32 model (the weights' rounding), the same greedy tokens on a tiny model.</summary>
    [Fact]
    public void HalfWeightsStayClose() => CompareWithModel(GoldenCases.First(GoldenCases.V02Format), new OnnxExportOptions { Dtype = "fp16" }, 2e-2f);

    /// <summary>
    /// Two prompts in one call, padded to n + 1 tiles with tiles whose <c>pixel_attention_mask</c> is false (filled with ones, not
    /// zeros, so only the mask can leave them out): the features are those of the n real tiles alone.
    /// </summary>
    [Fact]
    public void PaddingTilesAreLeftOutOfTheFeatures()
    {
        var caseDir = GoldenCases.First(GoldenCases.V02Format);
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir, new OnnxExportOptions());
        using var _ = vlm;
        using var sessions = new Sessions(export, half: false);
        using var batch = vlm.Processor.EncodePrompt("what?", [vlm.Processor.Images.DecodeFile(OnnxGoldenModels.ImageFiles(caseDir).First())]);
        var tiles = Dense(batch.Images);
        var (n, size) = (tiles.Dimensions[0], (int)(tiles.Length / tiles.Dimensions[0]));
        Assert.True(n > 1, "the golden image is split into tiles");
        var alone = sessions.Images(new DenseTensor<float>(tiles.Buffer, [1, .. tiles.Dimensions]));
        var padded = Enumerable.Repeat(1f, 2 * (n + 1) * size).ToArray();
        tiles.Buffer.Span.CopyTo(padded);
        var real = Enumerable.Range(0, 2 * (n + 1)).Select(t => t < n).ToArray();
        var features = sessions.Images(new DenseTensor<float>(padded, [2, n + 1, .. tiles.Dimensions.ToArray()[1..]]), real);
        Assert.Equal(alone.Dimensions.ToArray(), features.Dimensions.ToArray());
        Assert.Equal(alone.Buffer.ToArray(), features.Buffer.ToArray());
    }

    /// <summary>The comparison fails when the graphs differ from the model (here: the model's weights changed after the export).</summary>
    [Fact]
    public void ComparisonCanFail()
    {
        var caseDir = GoldenCases.First(GoldenCases.V02Format);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => CompareWithModel(caseDir, new OnnxExportOptions(), Tolerance, vlm =>
        {
            using var _ = no_grad();
            var norm = vlm.Model.named_parameters().First(p => p.name == "decoder.norm.weight").parameter;
            norm.mul_(1.001);
        }));
    }

    /// <summary>
    /// A left-padded batch of two past lm_max_position_embeddings (RoPE's frequencies stretched): the decoder graph gives the
    /// model's logits for the prompt and a cached step, padding and all.
    /// </summary>
    [Fact]
    public void PaddedBatchBeyondTheTrainedContext()
    {
        using var dir = new TempDir();
        using var vlm = TestModels.Vlm(TestModels.Create(3, TestModels.Tiny with { LmMaxPositionEmbeddings = 8 }));
        OnnxExport.Export(vlm, dir["export"], new OnnxExportOptions());
        using var scope = NewDisposeScope();
        using var sessions = new Sessions(dir["export"], half: false);
        var cfg = vlm.Config;
        const int length = 12, padding = 3;
        var embeds = randn(2, length, cfg.LmHiddenDim);
        var mask = ones(2, length + 1, int64);
        mask[1, ..padding] = 0;
        using var cache = new KvCache(cfg, 2, length + 1, float32, CPU);
        var reference = vlm.Model.Head(vlm.Model.Decoder.call(embeds, mask[.., ..length], cache, null));
        var past = Enumerable.Range(0, cfg.LmNBlocks).SelectMany(i => new[] { $"past_key_values.{i}.key", $"past_key_values.{i}.value" })
            .ToDictionary(n => n, _ => new DenseTensor<float>([2, cfg.LmNKvHeads, 0, cfg.LmHeadDim]));
        var outputs = sessions.Decode(Dense(embeds), Dense<long>(mask[.., ..length]), 0, past);
        AssertClose(reference, outputs["logits"], Tolerance, "prompt");

        var step = randn(2, 1, cfg.LmHiddenDim);
        reference = vlm.Model.Head(vlm.Model.Decoder.call(step, mask, cache, null));
        past = Enumerable.Range(0, cfg.LmNBlocks).SelectMany(i => new[] { $"{i}.key", $"{i}.value" })
            .ToDictionary(n => $"past_key_values.{n}", n => outputs[$"present.{n}"]);
        outputs = sessions.Decode(Dense(step), Dense<long>(mask), length, past);
        AssertClose(reference, outputs["logits"], Tolerance, "step");
    }

    /// <summary>A LoRA adapter applied to the model is folded into the exported weights: the graphs give the adapted model's logits.</summary>
    [Fact]
    public void AnAppliedAdapterIsFoldedIn()
    {
        using var dir = new TempDir();
        using var vlm = TestModels.Vlm(TestModels.Create(4));
        var adapter = new LoraAdapter(vlm.Model, new LoraConfig
        {
            Rank = 4, Alpha = 8, TargetModules = LoraConfig.Targets(LoraConfig.DecoderLinears, vision: true, projector: true),
        });
        using (no_grad())
            foreach (var (name, weight) in adapter.PeftTensors())
                if (name.EndsWith("lora_B.weight", StringComparison.Ordinal)) weight.copy_(randn_like(weight) * 0.05);
        vlm.UseAdapter(adapter);
        using var scope = NewDisposeScope();
        var (ids, _, images) = TestModels.Batch(vlm.Model, [1], [5]);
        var adapted = vlm.Model.call(ids, images, null, null, null).Logits;
        using var plain = TestModels.Create(4);
        Assert.True((plain.call(ids, images, null, null, null).Logits - adapted).abs().max().item<float>() > 1e-3, "the adapter changes nothing");

        OnnxExport.Export(vlm, dir["export"], new OnnxExportOptions());
        Assert.Null(vlm.Adapter);
        using var sessions = new Sessions(dir["export"], half: false);
        var tiles = Dense(images!);
        var features = sessions.Images(new DenseTensor<float>(tiles.Buffer, [1, .. tiles.Dimensions]));
        var idArray = ids.data<long>().ToArray();
        var tokens = sessions.Run(sessions.Embed, ("input_ids", new DenseTensor<long>(idArray, [1, idArray.Length])))["inputs_embeds"];
        var cfg = vlm.Config;
        var past = Enumerable.Range(0, cfg.LmNBlocks).SelectMany(i => new[] { $"past_key_values.{i}.key", $"past_key_values.{i}.value" })
            .ToDictionary(n => n, _ => new DenseTensor<float>([1, cfg.LmNKvHeads, 0, cfg.LmHeadDim]));
        var outputs = sessions.Decode(Scatter(tokens, idArray, vlm.Model.ImageTokenId, features), idArray.Length, 0, past);
        AssertClose(adapted, outputs["logits"], Tolerance, "adapted prompt");
    }

    static void CompareWithModel(string caseDir, OnnxExportOptions options, float tolerance, Action<PretrainedVlm>? changeAfterExport = null)
    {
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir, options);
        using var _ = vlm;
        changeAfterExport?.Invoke(vlm);
        using var scope = NewDisposeScope();
        using var sessions = new Sessions(export, options.HalfWeights);
        var cfg = vlm.Config;
        var image = vlm.Processor.Images.DecodeFile(OnnxGoldenModels.ImageFiles(caseDir).First());
        using var batch = vlm.Processor.EncodePrompt("what is in the picture?", [image]);
        var ids = batch.InputIds.data<long>().ToArray();

        // TorchSharp: the model's own prefill and cached steps.
        using var cache = new KvCache(cfg, 1, ids.Length + cfg.MpImageTokenLength + Steps + 1, float32, CPU);
        var (embedded, _) = vlm.Model.Embed(batch.InputIds, batch.Images);
        var reference = vlm.Model.Head(vlm.Model.Decoder.call(embedded, null, cache, null));

        // ONNX Runtime: the image features put in place of the placeholders (v0.1: in front of the text), then the decoder.
        var tiles = Dense(batch.Images);
        var pixels = new DenseTensor<float>(tiles.Buffer, [1, .. tiles.Dimensions]);
        var features = sessions.Images(pixels);
        Assert.Equal([(int)batch.Images.shape[0] * cfg.MpImageTokenLength, cfg.LmHiddenDim], features.Dimensions.ToArray());
        var tokens = sessions.Run(sessions.Embed, ("input_ids", new DenseTensor<long>(ids, [1, ids.Length])))["inputs_embeds"];
        var embeds = cfg.PrependsImages ? Prepend(features, tokens) : Scatter(tokens, ids, vlm.Model.ImageTokenId, features);
        var length = embeds.Dimensions[1];
        var past = Enumerable.Range(0, cfg.LmNBlocks).SelectMany(i => new[] { $"past_key_values.{i}.key", $"past_key_values.{i}.value" })
            .ToDictionary(n => n, _ => new DenseTensor<float>([1, cfg.LmNKvHeads, 0, cfg.LmHeadDim]));
        var outputs = sessions.Decode(embeds, length, 0, past);
        AssertClose(reference, outputs["logits"], tolerance, "prompt");

        for (var step = 0; step < Steps; step++)
        {
            var next = ArgMaxLast(outputs["logits"]);
            Assert.Equal(reference[0, -1].argmax().item<long>(), next);
            var stepTokens = sessions.Run(sessions.Embed, ("input_ids", new DenseTensor<long>(new[] { next }, [1, 1])))["inputs_embeds"];
            past = Enumerable.Range(0, cfg.LmNBlocks).SelectMany(i => new[] { $"{i}.key", $"{i}.value" })
                .ToDictionary(n => $"past_key_values.{n}", n => outputs[$"present.{n}"]);
            outputs = sessions.Decode(stepTokens, 1, length + step, past);
            // The token embedding itself: a random model may pick its image placeholder, which Embed reserves for images.
            var stepEmbedded = vlm.Model.Decoder.token_embedding.call(tensor(new[] { next }, [1, 1]));
            reference = vlm.Model.Head(vlm.Model.Decoder.call(stepEmbedded, null, cache, null));
            AssertClose(reference, outputs["logits"], tolerance, $"step {step + 1}");
        }
    }

    static DenseTensor<T> Dense<T>(Tensor t) where T : unmanaged => new(t.contiguous().data<T>().ToArray(), t.shape.Select(d => (int)d).ToArray());

    static DenseTensor<float> Dense(Tensor t) => Dense<float>(t);

    static DenseTensor<float> Prepend(DenseTensor<float> image, DenseTensor<float> text)
    {
        var (ni, nt, h) = (image.Dimensions[0], text.Dimensions[1], text.Dimensions[2]);
        var data = image.Buffer.ToArray().Concat(text.Buffer.ToArray()).ToArray();
        return new DenseTensor<float>(data, [1, ni + nt, h]);
    }

    static DenseTensor<float> Scatter(DenseTensor<float> tokens, long[] ids, int imageTokenId, DenseTensor<float> features)
    {
        var h = tokens.Dimensions[2];
        var data = tokens.Buffer.ToArray();
        var rows = features.Buffer.ToArray();
        var next = 0;
        for (var t = 0; t < ids.Length; t++)
            if (ids[t] == imageTokenId) Array.Copy(rows, (next++) * h, data, t * h, h);
        Assert.Equal(rows.Length / h, next);
        return new DenseTensor<float>(data, [1, ids.Length, h]);
    }

    static long ArgMaxLast(DenseTensor<float> logits)
    {
        var (t, v) = (logits.Dimensions[1], logits.Dimensions[2]);
        var last = logits.Buffer.Span.Slice((t - 1) * v, v);
        var best = 0;
        for (var i = 1; i < v; i++) if (last[i] > last[best]) best = i;
        return best;
    }

    static void AssertClose(Tensor expected, DenseTensor<float> actual, float tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.Dimensions.ToArray().Select(d => (long)d).ToArray());
        var e = expected.contiguous().data<float>().ToArray();
        var a = actual.Buffer.Span;
        var worst = 0f;
        for (var i = 0; i < e.Length; i++) worst = Math.Max(worst, Math.Abs(e[i] - a[i]));
        Assert.True(worst <= tolerance, $"{what}: logits differ by up to {worst:g3} (tolerance {tolerance:g3})");
    }

    /// <summary>The three sessions, with ONNX Runtime's full graph optimizations.</summary>
    sealed class Sessions : IDisposable
    {
        public InferenceSession Vision { get; }
        public InferenceSession Embed { get; }
        public InferenceSession Decoder { get; }

        public Sessions(string export, bool half)
        {
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            Vision = new InferenceSession(OnnxExport.GraphPath(export, VlmOnnxGraphs.VisionEncoder, half), options);
            Embed = new InferenceSession(OnnxExport.GraphPath(export, VlmOnnxGraphs.EmbedTokens, half), options);
            Decoder = new InferenceSession(OnnxExport.GraphPath(export, VlmOnnxGraphs.Decoder, half), options);
        }

        /// <summary>The vision encoder's features of <paramref name="pixels"/> [batch, num_images, 3, S, S]; with a mask input, the tiles
        /// <paramref name="real"/> names (by default all).</summary>
        public DenseTensor<float> Images(DenseTensor<float> pixels, bool[]? real = null)
        {
            var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("pixel_values", pixels) };
            if (Vision.InputMetadata.ContainsKey("pixel_attention_mask"))
            {
                var (batch, count, size) = (pixels.Dimensions[0], pixels.Dimensions[1], pixels.Dimensions[3]);
                var mask = Enumerable.Range(0, batch * count).SelectMany(t => Enumerable.Repeat(real?[t] ?? true, size * size)).ToArray();
                inputs.Add(NamedOnnxValue.CreateFromTensor("pixel_attention_mask", new DenseTensor<bool>(mask, [batch, count, size, size])));
            }
            return Run(Vision, inputs)["image_features"];
        }

        public Dictionary<string, DenseTensor<float>> Run<T>(InferenceSession session, params (string Name, DenseTensor<T> Value)[] inputs) =>
            Run(session, inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Name, i.Value)).ToList());

        static Dictionary<string, DenseTensor<float>> Run(InferenceSession session, IReadOnlyCollection<NamedOnnxValue> inputs)
        {
            using var results = session.Run(inputs);
            return results.ToDictionary(r => r.Name, r => new DenseTensor<float>(r.AsTensor<float>().ToArray(), r.AsTensor<float>().Dimensions.ToArray()));
        }

        public Dictionary<string, DenseTensor<float>> Decode(DenseTensor<float> embeds, int seq, int pastLength, Dictionary<string, DenseTensor<float>> past) =>
            Decode(embeds, new DenseTensor<long>(Enumerable.Repeat(1L, pastLength + seq).ToArray(), [1, pastLength + seq]), pastLength, past);

        /// <summary>Every row at positions past..past+seq (left padding does not shift them, as in the model).</summary>
        public Dictionary<string, DenseTensor<float>> Decode(DenseTensor<float> embeds, DenseTensor<long> mask, int pastLength, Dictionary<string, DenseTensor<float>> past)
        {
            var (batch, seq) = (embeds.Dimensions[0], embeds.Dimensions[1]);
            var positions = Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(pastLength, seq).Select(p => (long)p)).ToArray();
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("inputs_embeds", embeds),
                NamedOnnxValue.CreateFromTensor("attention_mask", mask),
                NamedOnnxValue.CreateFromTensor("position_ids", new DenseTensor<long>(positions, [batch, seq])),
            };
            inputs.AddRange(past.Select(p => NamedOnnxValue.CreateFromTensor(p.Key, p.Value)));
            return Run(Decoder, inputs);
        }

        public void Dispose()
        {
            Vision.Dispose();
            Embed.Dispose();
            Decoder.Dispose();
        }
    }
}
