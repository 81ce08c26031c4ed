extern alias onnx;
using Microsoft.Extensions.AI;
using NanoVlm.Export;
using NanoVlm.Generation;
using static TorchSharp.torch;
using OnnxChatClient = onnx::NanoVlm.Onnx.OnnxChatClient;
using OnnxError = onnx::NanoVlm.Runtime.NanoVlmException;
using OnnxGenerationOptions = onnx::NanoVlm.Onnx.OnnxGenerationOptions;
using OnnxImageProcessor = onnx::NanoVlm.Onnx.OnnxImageProcessor;
using OnnxRgbImage = onnx::NanoVlm.Data.RgbImage;
using OnnxVlm = onnx::NanoVlm.Onnx.OnnxVlm;

namespace NanoVlm.Tests.Export;

/// <summary>
/// NanoVlm.Onnx on exported golden models: the same tiles as the TorchSharp processor, the same greedy answer as the TorchSharp
/// model, the chat client's answer, one-line errors for damaged exports, and no libtorch behind it.
/// </summary>
[Collection(nameof(RunsAlone))]
public class OnnxRuntimeTests
{
    const int NewTokens = 12;

    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void GreedyAnswerEqualsTheTorchSharpModels(string caseDir)
    {
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir);
        using var _ = vlm;
        using var onnxVlm = OnnxVlm.Load(export);
        var file = OnnxGoldenModels.ImageFiles(caseDir).First();
        const string question = "what is in the picture?";

        using var scope = NewDisposeScope();
        using var batch = vlm.Processor.EncodePrompt(question, [vlm.Processor.Images.DecodeFile(file)]);
        var ids = vlm.Model.Generate(batch.InputIds, batch.Images, batch.AttentionMask, new GenerationOptions { Greedy = true, MaxNewTokens = NewTokens });
        var expected = ids[0].data<long>().TakeWhile(id => id != vlm.Tokenizer.EosTokenId).Select(id => (int)id).ToList();

        var streamed = "";
        var result = onnxVlm.Generate(question, [onnxVlm.Processor.Images.DecodeFile(file)],
            new OnnxGenerationOptions { Greedy = true, MaxNewTokens = NewTokens }, text => streamed += text);
        Assert.Equal(expected, result.TokenIds);
        Assert.Equal(vlm.Decode(ids[0]), result.Text);
        Assert.Equal(result.Text, streamed);
        Assert.Equal(batch.InputIds.shape[1], result.PromptTokens - (vlm.Config.PrependsImages ? vlm.Config.MpImageTokenLength : 0));
    }

    /// <summary>Every golden image gives the TorchSharp processor's tiles (and grid), the global tile's float resize included.</summary>
    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void TilesEqualTheTorchSharpProcessors(string caseDir)
    {
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir);
        using var _ = vlm;
        using var onnxVlm = OnnxVlm.Load(export);
        foreach (var file in OnnxGoldenModels.ImageFiles(caseDir))
        {
            var image = vlm.Processor.Images.DecodeFile(file);
            using var expected = vlm.Processor.ProcessImage(image);
            var actual = onnxVlm.Processor.Process(new OnnxRgbImage(image.Width, image.Height, image.Pixels));
            Assert.Equal((expected.Rows, expected.Cols, (int)expected.Tiles.shape[0]), (actual.Rows, actual.Cols, actual.Tiles));
            var e = expected.Tiles.data<float>().ToArray();
            var worst = e.Select((v, i) => Math.Abs(v - actual.Pixels[i])).Max();
            Assert.True(worst < 1e-5, $"{file}: tiles differ by up to {worst:g3}");
        }
    }

    /// <summary>An fp16 export (the <c>_fp16</c> files, about half the size) loads and answers as the fp32 one on this case.</summary>
    [Fact]
    public void HalfWeightExportLoadsAndAnswers()
    {
        var caseDir = GoldenCases.First(GoldenCases.V02Format);
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir);
        var half = dir["half"];
        OnnxExport.Export(vlm, half, new OnnxExportOptions { Dtype = "fp16" });
        vlm.Dispose();
        foreach (var graph in new[] { "vision_encoder", "embed_tokens", "decoder_model_merged" })
        {
            Assert.False(File.Exists(Path.Combine(half, "onnx", graph + ".onnx")));
            var ratio = (double)new FileInfo(Path.Combine(half, "onnx", graph + "_fp16.onnx")).Length / new FileInfo(Path.Combine(export, "onnx", graph + ".onnx")).Length;
            Assert.InRange(ratio, 0.45, 0.6);
        }
        var file = OnnxGoldenModels.ImageFiles(caseDir).First();
        var options = new OnnxGenerationOptions { Greedy = true, MaxNewTokens = NewTokens, StopAtEos = false };
        using var full = OnnxVlm.Load(export);
        using var halved = OnnxVlm.Load(half);
        var expected = full.Generate("what is in the picture?", [full.Processor.Images.DecodeFile(file)], options);
        var actual = halved.Generate("what is in the picture?", [halved.Processor.Images.DecodeFile(file)], options);
        Assert.Equal(NewTokens, actual.TokenIds.Count);
        Assert.Equal(expected.TokenIds, actual.TokenIds);
    }

    [Fact]
    public async Task ChatClientAnswersAndStreams()
    {
        var caseDir = GoldenCases.First(GoldenCases.V02Format);
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir);
        vlm.Dispose();
        using var onnxVlm = OnnxVlm.Load(export);
        using IChatClient client = new OnnxChatClient(onnxVlm);
        var file = OnnxGoldenModels.ImageFiles(caseDir).First();
        var message = new Microsoft.Extensions.AI.ChatMessage(ChatRole.User,
            [new DataContent(File.ReadAllBytes(file), "image/png"), new TextContent("what is in the picture?")]);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = NewTokens };
        var response = await client.GetResponseAsync([message], options);
        var direct = onnxVlm.Generate("what is in the picture?", [onnxVlm.Processor.Images.DecodeFile(file)],
            new OnnxGenerationOptions { Greedy = true, MaxNewTokens = NewTokens });
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(direct.TokenIds.Count, response.Usage!.OutputTokenCount);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync([message], options)) updates.Add(update);
        Assert.Equal(direct.Text, string.Concat(updates.Select(u => u.Text)));
        // Sampling with a seed repeats itself.
        var sampled = new ChatOptions { Temperature = 1, TopK = 0, TopP = 1, Seed = 7, MaxOutputTokens = NewTokens };
        Assert.Equal((await client.GetResponseAsync([message], sampled)).Text, (await client.GetResponseAsync([message], sampled)).Text);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("missing")]
    public void ADamagedExportIsAOneLineError(string damage)
    {
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(GoldenCases.First(GoldenCases.V02Format), dir);
        vlm.Dispose();
        var decoder = Path.Combine(export, "onnx", "decoder_model_merged.onnx");
        var bytes = File.ReadAllBytes(decoder);
        switch (damage)
        {
            case "truncated": File.WriteAllBytes(decoder, bytes[..(bytes.Length / 2)]); break;
            case "garbage": File.WriteAllBytes(decoder, bytes.Select((b, i) => i < 64 ? (byte)0xFF : b).ToArray()); break;
            default: File.Delete(decoder); break;
        }
        var e = Assert.Throws<OnnxError>(() => OnnxVlm.Load(export));
        Assert.StartsWith(decoder, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("\"tile_size\": 32", "\"tile_size\": \"big\"", "preprocessor_config.json: 'tile_size' is not a Int32: \"big\"")]
    [InlineData("\"nanovlm_generation\": \"Current\"", "\"nanovlm_generation\": \"v9\"", "preprocessor_config.json: unknown nanovlm_generation 'v9'")]
    [InlineData("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 0", "preprocessor_config.json: 'num_hidden_layers' must be positive, got 0")]
    public void BadSettingsAreOneLineErrors(string field, string replacement, string expected)
    {
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(GoldenCases.First(GoldenCases.V02Format), dir);
        vlm.Dispose();
        var settings = Path.Combine(export, "preprocessor_config.json");
        var text = File.ReadAllText(settings);
        Assert.Contains(field, text);
        File.WriteAllText(settings, text.Replace(field, replacement));
        var e = Assert.Throws<OnnxError>(() => OnnxVlm.Load(export));
        Assert.Equal($"{settings}: {expected["preprocessor_config.json: ".Length..]}", e.Message);
    }

    [Fact]
    public void TheOnnxLibraryDoesNotReferenceTorch()
    {
        var references = typeof(OnnxVlm).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("Microsoft.ML.OnnxRuntime", references);
        Assert.DoesNotContain(references, r => r is "TorchSharp" or "NanoVlm");
    }
}
