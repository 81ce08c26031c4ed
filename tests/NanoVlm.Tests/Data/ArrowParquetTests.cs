using NanoVlm.Data;

namespace NanoVlm.Tests.Data;

/// <summary>
/// Parquet files written by arrow-rs (parquet-wasm, snappy) with the Hub's pyarrow schemas, not by Parquet.Net: see
/// Fixtures/tools/generate-arrow-parquet.mjs, which writes exactly the content asserted here.
/// </summary>
public class ArrowParquetTests
{
    static (int Width, int Height) Size(VqaImage image)
    {
        var decoded = image.Decode(new ImageProcessor(32));
        return (decoded.Width, decoded.Height);
    }

    [Fact]
    public void CauldronFromAnArrowWriterReadsEveryImageAndTurn()
    {
        var cauldron = CauldronDataset.Open(Fixture.Path("arrow", "cauldron"));
        Assert.Equal(3, cauldron.Count);
        Assert.Equal(new Dictionary<string, int> { ["ai2d"] = 3 }, cauldron.SubsetCounts());

        var samples = DatasetView.All(cauldron).ReadInOrder().ToList();
        Assert.Equal(2, samples.Count);
        Assert.Equal(1, cauldron.Skipped.Total);
        Assert.Equal(1, cauldron.Skipped.ByReason["empty answer"]);

        Assert.Equal(
            [new VqaTurn("What is shown in the first diagram?", "A food chain."), new VqaTurn("Which organism is the producer?", "The grass.")],
            samples[0].Turns);
        Assert.Equal([(4, 3), (5, 2)], samples[0].Images.Select(Size));

        Assert.Equal([new VqaTurn("How many stages does the life cycle have?", "Four.")], samples[1].Turns);
        Assert.Equal([(6, 6)], samples[1].Images.Select(Size));
        Assert.All(samples, s => Assert.Equal(PromptStyle.Question, s.Style));
    }

    [Fact]
    public void MmStarFromAnArrowWriterKeepsLettersCategoriesAndImages()
    {
        var mmstar = MmStarDataset.Open(Fixture.Path("arrow", "mmstar", "val.parquet"));
        Assert.Equal(3, mmstar.Count);

        var samples = DatasetView.All(mmstar).ReadInOrder().ToList();
        Assert.Equal(0, mmstar.Skipped.Total);
        Assert.Equal(3, samples.Count);
        Assert.Equal(
            [
                "Which option describes the object?\nOptions: A: a cup, B: a ball, C: a shoe",
                "What colour dominates the image?\nOptions: A: red, B: green, C: blue",
                "How many objects are there?\nOptions: A: one, B: two, C: three",
            ],
            samples.Select(s => s.Turns.Single().User));
        Assert.Equal(["A", "B", "C"], samples.Select(s => s.Turns.Single().Assistant));
        Assert.Equal(["coarse perception", "fine-grained perception", "instance reasoning"], samples.Select(s => s.Category));
        Assert.Equal(["image scene and topic", "attribute recognition", "single-instance reasoning"], samples.Select(s => s.L2Category));
        Assert.Equal([(3, 5), (8, 4), (2, 9)], samples.Select(s => Size(s.Images.Single())));
        Assert.All(samples, s => Assert.Equal(PromptStyle.LetterChoice, s.Style));
    }
}
