using NanoVlm.Data;
using NanoVlm.Generation;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests.Cli;

/// <summary>The three checkpoint generations through the real executable: info checks the weights, generate answers as the reference.</summary>
public sealed class GenerationsTests : IDisposable
{
    readonly TempDir dir = new();

    [Fact]
    public void GeneratesFromACurrentGenerationCheckpointLikeTheReference()
    {
        var golden = GoldenCases.First(GoldenCases.V02Format);
        using var expected = SafetensorsFile.Open(Path.Combine(golden, "expected.safetensors"));
        using var vlm = PretrainedVlm.Load(golden);
        var want = vlm.Decode(expected.Load("gen_0_generated_ids")[0]);

        var (code, output, err) = CliProcess.Run("generate", "--model", golden, "--image", Path.Combine(golden, "image_2.png"),
            "--prompt", "what is this?", "--greedy", "--generations", "1", "--max-new-tokens", "8");
        Assert.True(code == 0, err);
        Assert.Contains($">> Generation 1: {want}\n", output.ReplaceLineEndings("\n"));

        (code, output, err) = CliProcess.Run("info", golden);
        Assert.True(code == 0, err);
        Assert.Contains("weights: ok", output);
        Assert.Contains("generation: Current", output);
    }

    [Fact]
    public void RunsAV01CheckpointWithItsPrependedImages()
    {
        var folder = GoldenCases.CopyTo(GoldenCases.First(GoldenCases.V01Format), dir["v01"]);
        TestModels.WordLevelTokenizer(folder, 300);
        using var vlm = PretrainedVlm.Load(folder);
        Assert.Equal(NanoVlm.Models.CheckpointGeneration.V01, vlm.Generation);
        var image = vlm.Processor.Images.DecodeFile(Path.Combine(folder, "image_1.png"));
        var options = new GenerationOptions { Greedy = true, MaxNewTokens = 6 };
        var want = vlm.Generate("w5 w7 w9", [image], options);

        // The prompt is v0.1's: no image token, the image embeddings go in front of "Question: ... Answer:".
        using var batch = vlm.Processor.EncodePrompt("w5 w7 w9", [image]);
        Assert.Equal(vlm.Tokenizer.Encode("Question: w5 w7 w9 Answer:"), batch.InputIds[0].data<long>().Select(i => (int)i));
        using var ids = vlm.Model.Generate(batch.InputIds, batch.Images, batch.AttentionMask, options);
        Assert.Equal(want, vlm.Decode(ids[0]));

        var (code, output, err) = CliProcess.Run("generate", "--model", folder, "--image", Path.Combine(folder, "image_1.png"),
            "--prompt", "w5 w7 w9", "--greedy", "--generations", "1", "--max-new-tokens", "6");
        Assert.True(code == 0, err);
        Assert.Contains($">> Generation 1: {want}\n", output.ReplaceLineEndings("\n"));
        (code, output, err) = CliProcess.Run("info", folder);
        Assert.True(code == 0, err);
        Assert.Contains("generation: V01", output);

        // Saved back, it stays a v0.1 checkpoint (v0.1's keys) that loads the same.
        vlm.Save(dir["v01-saved"]);
        using var again = PretrainedVlm.Load(dir["v01-saved"]);
        Assert.Equal(want, again.Generate("w5 w7 w9", [image], options));
        Assert.Contains("\"lm_eos_token_id\"", File.ReadAllText(Path.Combine(dir["v01-saved"], "config.json")));
    }

    [Theory]
    [InlineData("truncated", "truncated")]
    [InlineData("garbled", "header")]
    [InlineData("missing", "missing model.safetensors")]
    [InlineData("misshaped", "has shape")]
    public void InfoChecksTheWeights(string damage, string expected)
    {
        var folder = GoldenCases.CopyTo(GoldenCases.First(GoldenCases.V02Format), dir[damage]);
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        switch (damage)
        {
            case "truncated": File.WriteAllBytes(weights, bytes[..(bytes.Length - 100)]); break;
            case "garbled": File.WriteAllBytes(weights, [.. bytes[..8], .. "{garbage"u8.ToArray(), .. bytes[16..]]); break;
            case "missing": File.Delete(weights); break;
            case "misshaped":
                var config = Path.Combine(folder, "config.json");
                File.WriteAllText(config, File.ReadAllText(config).Replace("\"lm_inter_dim\": 192", "\"lm_inter_dim\": 128"));
                break;
        }
        var (code, _, err) = CliProcess.Run("info", folder);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    public void Dispose() => dir.Dispose();
}
