using NanoVlm.Data;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Cli;

public sealed class DataCommandTests : IDisposable
{
    readonly TempDir dir = new();

    [Theory]
    [InlineData("fashion-mnist", "fashion-mnist", null, "", 1.0)]
    [InlineData("fashion-mnist:/data/fm@2.5", "fashion-mnist", "/data/fm", "", 2.5)]
    [InlineData("cauldron:/data/the_cauldron,ai2d,vqav2", "cauldron", "/data/the_cauldron", "ai2d|vqav2", 1.0)]
    [InlineData("cauldron:/a/x.parquet,/b/y.parquet", "cauldron", "/a/x.parquet,/b/y.parquet", "", 1.0)]
    [InlineData("finevision:/data/FineVision,ai2d_merged@2", "finevision", "/data/FineVision", "ai2d_merged", 2.0)]
    [InlineData("finevision:/data/fv/train-0.parquet", "finevision", "/data/fv/train-0.parquet", "", 1.0)]
    [InlineData("mmstar:/data/mmstar/val.parquet", "mmstar", "/data/mmstar/val.parquet", "", 1.0)]
    [InlineData("jsonl:mine/data.jsonl@0.3", "jsonl", "mine/data.jsonl", "", 0.3)]
    [InlineData("hf:HuggingFaceM4/the_cauldron:ai2d,chartqa", "hf", "HuggingFaceM4/the_cauldron", "ai2d|chartqa", 1.0)]
    [InlineData("hf:Lin-Chen/MMStar", "hf", "Lin-Chen/MMStar", "", 1.0)]
    public void ParsesSourceNames(string spec, string kind, string? location, string subsets, double weight)
    {
        var s = DataSource.Parse(spec);
        Assert.Equal((kind, location, subsets, weight), (s.Kind, s.Location, string.Join('|', s.Subsets), s.Weight));
    }

    [Theory]
    [InlineData("parquet:/x", "unknown kind 'parquet'")]
    [InlineData("jsonl", "jsonl needs a location")]
    [InlineData("jsonl:a.jsonl@-1", "weight '-1' must be a positive number")]
    public void RejectsBadSourceNames(string spec, string expected) =>
        Assert.Contains(expected, Assert.Throws<NanoVlmException>(() => DataSource.Parse(spec)).Message);

    [Fact]
    public void PreviewAndStatsDescribeAJsonlSource()
    {
        var data = TestJsonl.Write(dir["data"], 10);
        var (code, output, err) = CliProcess.Run("data", "preview", $"jsonl:{data}", "--tokenizer", "wordlevel", "--n", "2");
        Assert.True(code == 0, err);
        Assert.Contains("rows: 10", output);
        Assert.Contains("images: 1 (20x20)", output);
        Assert.Contains("assistant: stripes", output);
        Assert.Contains("(49 image tokens)", output);
        Assert.Contains("token counts as the 222m preset sees them (49 tokens per image;", output);

        // The counts of the model that will train on it: a checkpoint's own config and tokenizer.
        (code, output, err) = CliProcess.Run("train", "--preset", "tiny", "--tokenizer", "wordlevel", "--data", $"jsonl:{data}", "--output", dir.Path,
            "--run-name", "tiny", "--max-steps", "1", "--eval-samples", "0", "--val-ratio", "0");
        Assert.True(code == 0, err + output);
        var checkpoint = Path.Combine(dir["tiny"], "checkpoints", "step-0000001");
        (code, output, err) = CliProcess.Run("data", "preview", $"jsonl:{data}", "--model", checkpoint, "--n", "1");
        Assert.True(code == 0, err);
        Assert.Contains($"token counts as {checkpoint} sees them (1 tokens per image;", output);
        Assert.Contains("(1 image tokens)", output);

        (code, output, err) = CliProcess.Run("data", "stats", $"jsonl:{data}", "--tokenizer", "wordlevel", "--preset", "tiny");
        Assert.True(code == 0, err);
        Assert.Contains("tokens per sample", output);
        Assert.Contains("longer than lm_max_length 128: 0", output);
        Assert.Matches(@"\s1 \| #+ 10", output);
    }

    [Fact]
    public void PreviewShowsSamplesOfflineWithoutATokenizer()
    {
        var data = TestJsonl.Write(dir["data"], 3);
        var (code, output, err) = CliProcess.Run("data", "preview", $"jsonl:{data}", "--n", "2");
        Assert.True(code == 0, err);
        Assert.Contains("assistant: stripes", output);
        Assert.DoesNotContain("tokens:", output);
        Assert.Contains("token counts need a tokenizer: HuggingFaceTB/cosmo2-tokenizer could not be loaded", output);
    }

    [Fact]
    public void PreviewCountsTilesOfTheCurrentPipeline()
    {
        var golden = GoldenCases.First(GoldenCases.V02Format);
        var data = TestJsonl.Write(dir["data"], 2);
        var (code, output, err) = CliProcess.Run("data", "preview", $"jsonl:{data}", "--config", Path.Combine(golden, "config.json"),
            "--tokenizer", Path.Combine(golden, "tokenizer"), "--n", "1");
        Assert.True(code == 0, err);
        // max_img_size 96 with resize_to_max_side_len: a 20x20 image is upscaled to 96x96, a 3x3 grid of 32px tiles after a global
        // tile, 4 tokens each.
        Assert.Contains("(40 image tokens)", output);
    }

    [Fact]
    public void MissingSourceIsAOneLineError()
    {
        var (code, _, err) = CliProcess.Run("data", "preview", "jsonl:/nonexistent/data.jsonl");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("/nonexistent/data.jsonl", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    public void Dispose() => dir.Dispose();
}
