using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests;

/// <summary>
/// Our implementation against the PyTorch reference on every golden case, by the case's format: the seed's model (spec
/// nanovlm-behavior.md §12), v0.1 checkpoints (nanovlm-generations.md §7) and the current pipeline (§6).
/// </summary>
public class GoldenConformanceTests
{
    static readonly string[] Formats = [GoldenCases.SeedFormat, GoldenCases.V01Format, GoldenCases.V02Format];

    [Fact]
    public void GoldenCasesExist()
    {
        Assert.True(GoldenCases.All().Count > 0, $"no golden case (case.json) under {string.Join(", ", GoldenCases.Roots())}");
        foreach (var format in Formats) Assert.Contains(GoldenCases.All(), c => GoldenCases.Format(c) == format);
    }

    /// <summary>../shared stays the source of the cases kept in tests/golden: a copy that differs (or is missing) fails.</summary>
    [Fact]
    public void RepositoryCopiesEqualTheSharedCases()
    {
        foreach (var set in GoldenCases.Sets)
            foreach (var source in GoldenCases.Cases(GoldenCases.SharedRoot(set)))
            {
                var copy = Path.Combine(GoldenCases.CopyRoot(set), Path.GetRelativePath(GoldenCases.SharedRoot(set), source));
                foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
                {
                    var copied = Path.Combine(copy, Path.GetRelativePath(source, file));
                    Assert.True(File.Exists(copied), $"{file} has no copy at {copied}: copy ../shared/{set} into tests/golden/{set}");
                    Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(copied)), $"{copied} differs from {file}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void MatchesReference(string caseDir) => Check(caseDir);

    /// <summary>The checks can fail: a case whose reference loss or first generated token is changed is refused, in every format.</summary>
    [Theory]
    [InlineData(GoldenCases.SeedFormat, "loss")]
    [InlineData(GoldenCases.V01Format, "loss")]
    [InlineData(GoldenCases.V02Format, "loss")]
    [InlineData(GoldenCases.V01Format, "generated_ids")]
    [InlineData(GoldenCases.V02Format, "gen_0_generated_ids")]
    [InlineData(GoldenCases.V02Format, "image_1_tiles")]
    public void ACorruptedCaseFails(string format, string tensorName)
    {
        using var dir = new TempDir();
        GoldenCases.CopyTo(GoldenCases.First(format), dir.Path);
        var expectedFile = Path.Combine(dir.Path, "expected.safetensors");
        Dictionary<string, Tensor> tensors;
        using (var expected = SafetensorsFile.Open(expectedFile))
            tensors = expected.Entries.Keys.ToDictionary(n => n, expected.Load);
        var t = tensors[tensorName];
        tensors[tensorName] = t.dtype == ScalarType.Int64 ? t.flatten().index_put_(t.flatten()[0] + 1, 0).reshape(t.shape) : t * 1.01 + 0.01;
        File.Delete(expectedFile);
        SafetensorsFile.Save(expectedFile, tensors);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => Check(dir.Path));
    }

    /// <summary>Dispatches on case.json's format; an unknown format fails.</summary>
    internal static void Check(string caseDir)
    {
        using var scope = NewDisposeScope();
        switch (GoldenCases.Format(caseDir))
        {
            case GoldenCases.SeedFormat: CheckSeed(caseDir); break;
            case GoldenCases.V01Format: CheckV01(caseDir); break;
            case GoldenCases.V02Format: CheckPipeline(caseDir); break;
            case var other: Assert.Fail($"{caseDir}: unknown golden case format '{other}'"); break;
        }
    }

    static JsonElement Settings(string caseDir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, "case.json"))).RootElement;

    static SafetensorsFile Expected(string caseDir) => SafetensorsFile.Open(Path.Combine(caseDir, "expected.safetensors"));

    /// <summary>The case's checkpoint in eval mode, read as the generation its format says.</summary>
    static VisionLanguageModel LoadModel(string caseDir, CheckpointGeneration generation)
    {
        var model = Checkpoint.Load(caseDir);
        try
        {
            Assert.Equal(generation, model.Config.Generation);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    static void CheckSeed(string caseDir)
    {
        var settings = Settings(caseDir);
        using var expected = Expected(caseDir);
        Tensor E(string name) => expected.Load(name);

        using var model = LoadModel(caseDir, CheckpointGeneration.SeedEra);
        model.ImageTokenId = settings.GetProperty("image_token_id").GetInt32();
        model.EosTokenId = settings.GetProperty("eos_token_id").GetInt32();

        var images = E("images");
        AssertImagesDecodeLikeTheReference(caseDir, settings, model.Config.VitImgSize, images);
        var (inputIds, mask, targets) = (E("input_ids"), E("attention_mask"), E("targets"));
        AssertLogitsAndLoss(caseDir, model, inputIds, images, mask, targets, E("logits"), E("loss"));

        var options = new GenerationOptions { MaxNewTokens = settings.GetProperty("greedy_new_tokens").GetInt32(), Greedy = true };
        AssertEqual(E("generated_ids"), model.Generate(inputIds, images, mask, options), $"{caseDir}: greedy generated_ids");
        AssertEqual(E("generated_ids"), model.Generate(inputIds, images, mask, options with { UseKvCache = false }),
            $"{caseDir}: greedy generated_ids without KV cache");

        var filtered = Sampling.TopKTopPFilter(E("filter_logits_in"),
            settings.GetProperty("filter_top_k").GetInt32(), settings.GetProperty("filter_top_p").GetDouble());
        AssertEqual(E("filter_kept_mask"), filtered.isfinite().to(int64), $"{caseDir}: top-k/top-p kept mask");
    }

    static void CheckV01(string caseDir)
    {
        var settings = Settings(caseDir);
        using var expected = Expected(caseDir);
        Tensor E(string name) => expected.Load(name);

        using var model = LoadModel(caseDir, CheckpointGeneration.V01);
        Assert.Equal(settings.GetProperty("image_tokens").GetInt32(), model.Config.MpImageTokenLength);
        Assert.Equal(settings.GetProperty("eos_token_id").GetInt32(), model.Config.LmEosTokenId);

        var images = E("images");
        var processor = new ImageProcessor(model.Config.VitImgSize);
        for (var b = 0; b < images.shape[0]; b++)
            AssertClose(images[b], processor.ProcessFile(Path.Combine(caseDir, $"image_{b}.png")), 1e-6, $"{caseDir}: image_{b}.png");
        var (inputIds, mask, targets) = (E("input_ids"), E("attention_mask"), E("targets"));
        AssertLogitsAndLoss(caseDir, model, inputIds, images, mask, targets, E("logits"), E("loss"));

        // v0.1's generate has no eos handling: every step appends its argmax.
        model.EosTokenId = -1;
        var options = new GenerationOptions { MaxNewTokens = settings.GetProperty("greedy_new_tokens").GetInt32(), Greedy = true };
        AssertEqual(E("generated_ids"), model.Generate(inputIds, images, mask, options), $"{caseDir}: greedy generated_ids");
        AssertEqual(E("generated_ids"), model.Generate(inputIds, images, mask, options with { UseKvCache = false }),
            $"{caseDir}: greedy generated_ids without KV cache");
    }

    static void CheckPipeline(string caseDir)
    {
        var settings = Settings(caseDir);
        using var expected = Expected(caseDir);
        Tensor E(string name) => expected.Load(name);

        using var vlm = PretrainedVlm.Load(caseDir);
        vlm.Model.eval();
        var processor = vlm.Processor;
        // Cases with a global image token are the current generation; the others split images without a global tile.
        var global = vlm.Config.VlmExtraTokens.ContainsKey("global_image_token");
        Assert.Equal(global ? CheckpointGeneration.Current : CheckpointGeneration.SplitNoGlobal, vlm.Generation);
        foreach (var (name, id) in settings.GetProperty("extra_token_ids").EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())))
            Assert.Equal(id, vlm.Tokenizer.ExtraTokenIds[name]);
        Assert.Equal(settings.GetProperty("eos_token_id").GetInt32(), vlm.Tokenizer.EosTokenId);
        Assert.Equal(settings.GetProperty("pad_token_id").GetInt32(), vlm.Tokenizer.PadTokenId);

        // Images: our decoder and splitter against the reference tiles.
        var files = settings.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("file").GetString()!).ToList();
        var tilesByFile = new Dictionary<string, Tensor>();
        foreach (var (image, k) in settings.GetProperty("images").EnumerateArray().Select((x, k) => (x, k)))
        {
            var split = processor.ProcessImage(processor.Images.DecodeFile(Path.Combine(caseDir, files[k])));
            var grid = image.GetProperty("grid").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            Assert.Equal((grid[0], grid[1]), (split.Rows, split.Cols));
            var want = E($"image_{k}_tiles");
            Assert.Equal(want.shape, split.Tiles.shape);
            var diff = (split.Tiles - want).abs();
            var (max, mean) = (diff.max().item<float>(), diff.mean().item<float>());
            Assert.True(max <= 1 / 255.0 + 1e-6 && mean <= 1e-3, $"{caseDir}: {files[k]} tiles max abs {max}, mean abs {mean}");
            tilesByFile[files[k]] = want;
        }

        // Training samples: chat text, ids and labels; then the collated batch, its logits and loss (fed the reference tiles).
        var encoded = new List<EncodedSample>();
        foreach (var (sample, s) in settings.GetProperty("train_samples").EnumerateArray().Select((x, s) => (x, s)))
        {
            var images = sample.GetProperty("images").EnumerateArray().Select(i => VqaImage.FromFile(Path.Combine(caseDir, i.GetString()!))).ToList();
            var turns = sample.GetProperty("texts").EnumerateArray()
                .Select(t => new VqaTurn(t.GetProperty("user").GetString()!, t.GetProperty("assistant").GetString()!)).ToList();
            var vqa = new VqaSample(images, turns, $"train {s}");
            Assert.Equal(sample.GetProperty("chat_text").GetString(), processor.TrainingText(vqa));
            var e = processor.EncodeForTraining(vqa) ?? throw new InvalidOperationException($"{caseDir}: train sample {s} was skipped");
            AssertEqual(E($"train_{s}_input_ids"), tensor(e.InputIds.Select(i => (long)i).ToArray()), $"{caseDir}: train_{s}_input_ids");
            using var one = processor.Collate([e with { Images = [] }]);
            AssertEqual(E($"train_{s}_labels"), one.Labels[0], $"{caseDir}: train_{s}_labels");
            encoded.Add(e);
        }
        using var batch = processor.Collate(encoded);
        AssertEqual(E("batch_input_ids"), batch.InputIds, $"{caseDir}: batch_input_ids");
        AssertEqual(E("batch_attention_mask"), batch.AttentionMask, $"{caseDir}: batch_attention_mask");
        AssertEqual(E("batch_labels"), batch.Labels, $"{caseDir}: batch_labels");
        var referenceTiles = cat(settings.GetProperty("train_samples").EnumerateArray()
            .SelectMany(s => s.GetProperty("images").EnumerateArray().Select(i => tilesByFile[i.GetString()!])).ToList(), 0);
        AssertLogitsAndLoss(caseDir, vlm.Model, batch.InputIds, referenceTiles, batch.AttentionMask, batch.Labels, E("logits"), E("loss"));

        // Generation prompts: text, ids, greedy continuation with and without the KV cache.
        var newTokens = settings.GetProperty("greedy_new_tokens").GetInt32();
        foreach (var (gen, g) in settings.GetProperty("generation").EnumerateArray().Select((x, g) => (x, g)))
        {
            var image = processor.Images.DecodeFile(Path.Combine(caseDir, gen.GetProperty("image").GetString()!));
            var prompt = gen.GetProperty("prompt").GetString()!;
            Assert.Equal(gen.GetProperty("text").GetString(), processor.ChatText([new PromptMessage("user", prompt)], [processor.ProcessImage(image)]));
            using var inputs = processor.EncodePrompt(prompt, [image]);
            AssertEqual(E($"gen_{g}_input_ids"), inputs.InputIds, $"{caseDir}: gen_{g}_input_ids");
            var options = new GenerationOptions { MaxNewTokens = newTokens, Greedy = true };
            var want = E($"gen_{g}_generated_ids");
            AssertEqual(want, vlm.Model.Generate(inputs.InputIds, inputs.Images, inputs.AttentionMask, options), $"{caseDir}: gen_{g}_generated_ids");
            AssertEqual(want, vlm.Model.Generate(inputs.InputIds, inputs.Images, inputs.AttentionMask, options with { UseKvCache = false }),
                $"{caseDir}: gen_{g}_generated_ids without KV cache");
        }
    }

    static void AssertLogitsAndLoss(string caseDir, VisionLanguageModel model, Tensor ids, Tensor images, Tensor mask, Tensor targets,
        Tensor expectedLogits, Tensor expectedLoss)
    {
        var (logits, loss) = model.forward(ids, images, mask, targets);
        AssertClose(expectedLogits, logits, 1e-4, $"{caseDir}: logits");
        var want = expectedLoss.item<float>();
        var lossError = Math.Abs(loss!.item<float>() - want) / Math.Abs(want);
        Assert.True(lossError <= 1e-5, $"{caseDir}: loss relative error {lossError}");
    }

    /// <summary>image_{s}_{i}.png through our image loader equals the reference's images tensor (PNG / 255).</summary>
    static void AssertImagesDecodeLikeTheReference(string caseDir, JsonElement settings, int size, Tensor expected)
    {
        var processor = new ImageProcessor(size);
        var files = settings.GetProperty("samples_images_prompt_answer").EnumerateArray()
            .SelectMany((sample, s) => Enumerable.Range(0, sample[0].GetInt32()).Select(i => Path.Combine(caseDir, $"image_{s}_{i}.png")))
            .ToList();
        Assert.Equal(expected.shape[0], files.Count);
        for (var i = 0; i < files.Count; i++) AssertClose(expected[i], processor.ProcessFile(files[i]), 1e-6, files[i]);
    }

    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void HuggingFaceBackbonesEqualCheckpoint(string caseDir)
    {
        var (siglip, llama) = (Path.Combine(caseDir, "hf-siglip"), Path.Combine(caseDir, "hf-smollm2"));
        if (!Directory.Exists(siglip) || !Directory.Exists(llama)) return;
        using var scope = NewDisposeScope();
        using var reference = Checkpoint.Load(caseDir);
        using var model = HfBackbones.Load(reference.Config, siglip, llama);
        var baseVocab = model.Config.LmBaseVocabSize;
        var expected = reference.state_dict();
        foreach (var (name, actual) in model.state_dict())
        {
            if (name.StartsWith("MP.", StringComparison.Ordinal)) continue; // the projector is freshly initialised
            var (want, got) = name is VisionLanguageModel.TiedHead or VisionLanguageModel.TiedEmbedding
                ? (expected[name][..baseVocab], actual[..baseVocab])
                : (expected[name], actual);
            AssertEqual(want, got, $"{caseDir}: backbone tensor {name}");
        }
        Assert.Equal(reference.Config with { MpImageTokenLength = 0 }, model.Config with { MpImageTokenLength = 0 },
            new ConfigComparer());
    }

    /// <summary>Records with dictionaries compare by reference; compare the JSON instead.</summary>
    sealed class ConfigComparer : IEqualityComparer<VlmConfig>
    {
        public bool Equals(VlmConfig? x, VlmConfig? y) => x?.ToJson() == y?.ToJson();
        public int GetHashCode(VlmConfig obj) => obj.ToJson().GetHashCode();
    }

    static void AssertClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        var error = (expected - actual.to(expected.dtype)).abs().max().item<float>();
        Assert.True(error <= tolerance, $"{what}: max abs error {error} (tolerance {tolerance})");
    }

    internal static void AssertEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        var differ = expected.ne(actual).nonzero();
        Assert.True(differ.shape[0] == 0,
            $"{what}: {differ.shape[0]} elements differ, first at [{string.Join(",", differ.shape[0] > 0 ? differ[0].data<long>().ToArray() : [])}]");
    }
}
