using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.IO;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Tests;

/// <summary>Our model against the PyTorch reference on every golden case (spec §12).</summary>
public class GoldenConformanceTests
{
    [Fact]
    public void GoldenCasesExist() =>
        Assert.True(GoldenCases.All().Count > 0, $"no golden case (case.json) under {string.Join(", ", GoldenCases.Roots())}");

    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void MatchesReference(string caseDir)
    {
        using var scope = NewDisposeScope();
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, "case.json")));
        var settings = caseJson.RootElement;
        using var expected = SafetensorsFile.Open(Path.Combine(caseDir, "expected.safetensors"));
        Tensor E(string name) => expected.Load(name);

        using var model = VisionLanguageModel.FromPretrained(caseDir);
        model.eval();
        model.ImageTokenId = settings.GetProperty("image_token_id").GetInt32();
        Assert.Equal(settings.GetProperty("eos_token_id").GetInt32(), model.EosTokenId);

        var images = E("images");
        AssertImagesDecodeLikeTheReference(caseDir, settings, model.Config.VitImgSize, images);
        var (inputIds, mask, targets) = (E("input_ids"), E("attention_mask"), E("targets"));
        var (logits, loss) = model.forward(inputIds, images, mask, targets);
        var logitsError = (logits - E("logits")).abs().max().item<float>();
        Assert.True(logitsError <= 1e-4, $"{caseDir}: logits max abs error {logitsError}");
        var expectedLoss = E("loss").item<float>();
        var lossError = Math.Abs(loss!.item<float>() - expectedLoss) / Math.Abs(expectedLoss);
        Assert.True(lossError <= 1e-5, $"{caseDir}: loss relative error {lossError}");

        var newTokens = settings.GetProperty("greedy_new_tokens").GetInt32();
        var options = new GenerationOptions { MaxNewTokens = newTokens, Greedy = true };
        var generated = model.Generate(inputIds, images, mask, options);
        AssertEqual(E("generated_ids"), generated, $"{caseDir}: greedy generated_ids");
        var uncached = model.Generate(inputIds, images, mask, options with { UseKvCache = false });
        AssertEqual(E("generated_ids"), uncached, $"{caseDir}: greedy generated_ids without KV cache");

        var filtered = Sampling.TopKTopPFilter(E("filter_logits_in"),
            settings.GetProperty("filter_top_k").GetInt32(), settings.GetProperty("filter_top_p").GetDouble());
        AssertEqual(E("filter_kept_mask"), filtered.isfinite().to(int64), $"{caseDir}: top-k/top-p kept mask");
    }

    /// <summary>image_{s}_{i}.png through our image loader equals the reference's images tensor (PNG / 255).</summary>
    static void AssertImagesDecodeLikeTheReference(string caseDir, JsonElement settings, int size, Tensor expected)
    {
        var processor = new ImageProcessor(size);
        var files = settings.GetProperty("samples_images_prompt_answer").EnumerateArray()
            .SelectMany((sample, s) => Enumerable.Range(0, sample[0].GetInt32()).Select(i => Path.Combine(caseDir, $"image_{s}_{i}.png")))
            .ToList();
        Assert.Equal(expected.shape[0], files.Count);
        for (var i = 0; i < files.Count; i++)
        {
            using var decoded = processor.ProcessFile(files[i]);
            var error = (decoded - expected[i]).abs().max().item<float>();
            Assert.True(error <= 1e-6, $"{files[i]}: max abs error {error}");
        }
    }

    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void HuggingFaceBackbonesEqualCheckpoint(string caseDir)
    {
        var (siglip, llama) = (Path.Combine(caseDir, "hf-siglip"), Path.Combine(caseDir, "hf-smollm2"));
        if (!Directory.Exists(siglip) || !Directory.Exists(llama)) return;
        using var scope = NewDisposeScope();
        using var reference = VisionLanguageModel.FromPretrained(caseDir);
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

    internal static void AssertEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        var differ = expected.ne(actual).nonzero();
        Assert.True(differ.shape[0] == 0,
            $"{what}: {differ.shape[0]} elements differ, first at [{string.Join(",", differ.shape[0] > 0 ? differ[0].data<long>().ToArray() : [])}]");
    }
}
