using System.Text.Json;
using NanoVlm.Data;
using Xunit.Abstractions;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Data;

public class ImageSplitterTests(ITestOutputHelper output)
{
    const string PipelineFormat = GoldenCases.V02Format;

    static IReadOnlyList<string> PipelineCases() => GoldenCases.All().Where(c => GoldenCases.Format(c) == PipelineFormat).ToList();

    public static TheoryData<string, int> GoldenImages()
    {
        var data = new TheoryData<string, int>();
        foreach (var caseDir in PipelineCases())
        {
            using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, "case.json")));
            for (var k = 0; k < caseJson.RootElement.GetProperty("images").GetArrayLength(); k++) data.Add(caseDir, k);
        }
        return data;
    }

    [Fact]
    public void PipelineGoldenCasesExist() =>
        Assert.True(PipelineCases().Count > 0, $"no {PipelineFormat} golden case under ../shared/golden-v02 or $NANOVLM_GOLDEN_DIR");

    [Theory]
    [MemberData(nameof(GoldenImages))]
    public void TilesMatchTheReference(string caseDir, int k)
    {
        using var scope = NewDisposeScope();
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, "case.json")));
        using var configJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, "config.json")));
        var (entry, config) = (caseJson.RootElement.GetProperty("images")[k], configJson.RootElement);
        var tileSize = config.GetProperty("vit_img_size").GetInt32();
        var splitter = new ImageSplitter(tileSize, config.GetProperty("max_img_size").GetInt32(), config.GetProperty("resize_to_max_side_len").GetBoolean(),
            globalTile: config.GetProperty("vlm_extra_tokens").TryGetProperty("global_image_token", out _));
        var file = Path.Combine(caseDir, entry.GetProperty("file").GetString()!);

        using var split = splitter.Split(new ImageProcessor(tileSize).DecodeFile(file));
        using var expected = SafetensorsFile.Open(Path.Combine(caseDir, "expected.safetensors"));
        var tiles = expected.Load($"image_{k}_tiles");

        var grid = entry.GetProperty("grid");
        Assert.Equal((grid[0].GetInt32(), grid[1].GetInt32()), (split.Rows, split.Cols));
        Assert.Equal(entry.GetProperty("tiles").GetInt32(), (int)split.Tiles.shape[0]);
        Assert.Equal(tiles.shape, split.Tiles.shape);
        Assert.True(split.Tiles.is_contiguous());
        var error = (split.Tiles - tiles).abs();
        var (max, mean) = (error.max().item<float>(), error.mean().item<float>());
        var gridMax = error[((int)split.Tiles.shape[0] - split.Rows * split.Cols)..].max().item<float>();
        output.WriteLine($"{file}: grid {split.Rows}x{split.Cols}, {split.Tiles.shape[0]} tiles, max abs {max:E3} (grid tiles {gridMax:E3}), mean abs {mean:E3}");
        Assert.True(max <= 1 / 255.0 + 1e-6, $"{file}: tiles max abs error {max}");
        Assert.True(mean <= 1e-3, $"{file}: tiles mean abs error {mean}");
    }

    [Theory]
    [InlineData(120, 200, 64, 96)]   // landscape: long side to 96, 120 x 0.48 = 57.6 up to 64
    [InlineData(130, 90, 96, 96)]    // portrait: 90 x 96 / 130 = 66.5 up to 96
    [InlineData(41, 23, 96, 64)]
    [InlineData(32, 32, 96, 96)]     // square counts as landscape
    [InlineData(187, 187, 128, 96)]  // square whose 187 x (96 / 187) is just above 96 in doubles: nanoVLM rounds the short side up to 128
    [InlineData(150, 17, 96, 32)]    // the short side is never below one tile
    [InlineData(1, 1000, 32, 96)]
    public void ResizedSizeToTheMaximumSide(int height, int width, int newHeight, int newWidth) =>
        Assert.Equal((newHeight, newWidth), new ImageSplitter(32, 96, resizeToMaxSideLen: true, globalTile: true).ResizedSize(height, width));

    [Theory]
    [InlineData(20, 40, 32, 64)]     // long side rounded up to a tile multiple: 64, scale 1.6, short 32
    [InlineData(40, 10, 64, 32)]     // portrait: 40 up to 64, 10 x 1.6 = 16 up to one tile
    [InlineData(300, 500, 64, 96)]   // capped at the maximum
    [InlineData(10, 10, 32, 32)]
    [InlineData(5, 90, 32, 96)]
    public void ResizedSizeWithoutResizingToTheMaximum(int height, int width, int newHeight, int newWidth) =>
        Assert.Equal((newHeight, newWidth), new ImageSplitter(32, 96, resizeToMaxSideLen: false, globalTile: true).ResizedSize(height, width));

    [Fact]
    public void GlobalTileOnlyWhenAskedAndTheGridIsLargerThanOneTile()
    {
        var image = new RgbImage(40, 20, ImageBytes.Pattern(40, 20));
        using (var withGlobal = new ImageSplitter(16, 64, resizeToMaxSideLen: true, globalTile: true).Split(image))
        using (var without = new ImageSplitter(16, 64, resizeToMaxSideLen: true, globalTile: false).Split(image))
        {
            Assert.Equal((2, 4), (withGlobal.Rows, withGlobal.Cols));
            Assert.Equal(new long[] { 9, 3, 16, 16 }, withGlobal.Tiles.shape);
            Assert.Equal(new long[] { 8, 3, 16, 16 }, without.Tiles.shape);
            Assert.True(withGlobal.Tiles[1..].equal(without.Tiles).all().item<bool>());
        }
        using var single = new ImageSplitter(16, 64, resizeToMaxSideLen: false, globalTile: true).Split(new RgbImage(10, 12, ImageBytes.Pattern(10, 12)));
        Assert.Equal((1, 1, 1L), (single.Rows, single.Cols, single.Tiles.shape[0]));
    }

    /// <summary>Without a global image token a one-tile image is its <c>&lt;row_1_col_1&gt;</c> tile alone, as nanoVLM's get_image_string writes it.</summary>
    [Fact]
    public void WithoutAGlobalImageTokenAOneTileImageIsItsOnlyTile()
    {
        var caseDir = PipelineCases().First(c => !File.ReadAllText(Path.Combine(c, "config.json")).Contains("global_image_token"));
        using var vlm = PretrainedVlm.Load(caseDir);
        var processor = new VlmProcessor(vlm.Config with { ResizeToMaxSideLen = false }, vlm.Tokenizer);
        using var single = processor.ProcessImage(new RgbImage(10, 12, ImageBytes.Pattern(10, 12)));
        Assert.Equal((1, 1, 1L), (single.Rows, single.Cols, single.Tiles.shape[0]));
        var block = string.Concat(Enumerable.Repeat("<|image|>", vlm.Config.MpImageTokenLength));
        Assert.Equal($"<|im_start|>user\n<row_1_col_1>{block}hi<|im_end|>\n<|im_start|>assistant\n",
            processor.ChatText([new PromptMessage("user", "hi")], [single]));
    }

    [Fact]
    public void TilesAreTheResizedImageRowMajor()
    {
        var image = new RgbImage(8, 4, ImageBytes.Pattern(8, 4));
        using var split = new ImageSplitter(4, 8, resizeToMaxSideLen: false, globalTile: false).Split(image);
        Assert.Equal((1, 2), (split.Rows, split.Cols));
        for (var t = 0; t < 2; t++)
            for (var c = 0; c < 3; c++)
                for (var y = 0; y < 4; y++)
                    for (var x = 0; x < 4; x++)
                        Assert.Equal(image.Pixels[(y * 8 + t * 4 + x) * 3 + c] / 255f, split.Tiles[t, c, y, x].item<float>());
    }

    [Fact]
    public void MaximumThatIsNotATileMultipleIsRefused()
    {
        var e = Assert.Throws<NanoVlmException>(() => new ImageSplitter(32, 100, resizeToMaxSideLen: true, globalTile: true));
        Assert.Contains("max_img_size 100", e.Message);
    }
}
