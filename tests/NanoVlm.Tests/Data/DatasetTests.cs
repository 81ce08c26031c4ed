using System.IO.Compression;
using NanoVlm.Data;
using SkiaSharp;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Data;

public class DatasetTests
{
    static readonly byte[] Png = ImageBytes.Encode(ImageBytes.Pattern(8, 8), 8, 8, SKEncodedImageFormat.Png);

    static string CauldronFolder()
    {
        var root = Fixture.TempDir();
        foreach (var (subset, rows) in new[] { ("vqav2", 7), ("ocrvqa", 5) })
        {
            Directory.CreateDirectory(Path.Combine(root, subset));
            var data = Enumerable.Range(0, rows).Select(i => (IDictionary<string, object?>)(i switch
            {
                3 => ParquetFixtures.CauldronRow([Png], ($"{subset} q{i}", "")),
                4 => ParquetFixtures.CauldronRow([[1, 2, 3]], ($"{subset} q{i}", $"{subset} a{i}")),
                _ => ParquetFixtures.CauldronRow(Enumerable.Repeat(Png, 1 + i % 2), ($"{subset} q{i}", $"{subset} a{i}"), ($"{subset} q{i}b", $"{subset} a{i}b")),
            })).ToList();
            ParquetFixtures.Write(Path.Combine(root, subset, "train-00000-of-00001.parquet"), ParquetFixtures.Cauldron, data, rowGroupSize: 3);
        }
        return root;
    }

    [Fact]
    public void CauldronReadsEverySubsetImageAndTurn()
    {
        var cauldron = CauldronDataset.Open(CauldronFolder());
        Assert.Equal(12, cauldron.Count);
        Assert.Equal([0, 3, 5, 8, 11], cauldron.GroupStarts);
        var samples = DatasetView.All(cauldron).ReadInOrder().ToList();
        Assert.Equal(10, samples.Count);
        Assert.Equal(2, cauldron.Skipped.ByReason["empty answer"]);
        Assert.Equal(new[] { "ocrvqa q0", "ocrvqa q0b" }, samples[0].Turns.Select(t => t.User));
        Assert.Equal(2, samples.Single(s => s.Turns[0].User == "vqav2 q1").Images.Count);
        Assert.Equal(8, samples[0].Images[0].Decode(new ImageProcessor(8)).Width);
        var subset = CauldronDataset.Open(CauldronFolder(), ["vqav2"]);
        Assert.Equal(7, subset.Count);
    }

    internal static string FineVisionFile()
    {
        (string, string)[] Turns(int row, int n) => Enumerable.Range(0, n).Select(t => ($"q{row}{(char)('a' + t)}", $"a{row}{(char)('a' + t)}")).ToArray();
        var rows = new List<IDictionary<string, object?>>
        {
            ParquetFixtures.FineVisionRow([Png], Turns(0, 2), new Dictionary<string, long?[]>
                { ["relevance_ratings"] = [5, 2], ["image_correspondence_ratings"] = [5, 5] }),
            ParquetFixtures.FineVisionRow([Png], Turns(1, 1), new Dictionary<string, long?[]> { ["relevance_ratings"] = [1] }),
            ParquetFixtures.FineVisionRow([Png, Png], Turns(2, 2), new Dictionary<string, long?[]>
                { ["relevance_ratings"] = [null, 4], ["visual_dependency_ratings"] = [2, 1], ["formatting_ratings"] = [5] }),
            ParquetFixtures.FineVisionRow([Png], Turns(3, 2), new Dictionary<string, long?[]>()),
        };
        var file = Path.Combine(Fixture.TempDir(), "train-00000.parquet");
        ParquetFixtures.Write(file, ParquetFixtures.FineVision, rows, rowGroupSize: 2);
        return file;
    }

    [Fact]
    public void FineVisionTurnsRatedBelowTheMinimumAreDropped()
    {
        var file = FineVisionFile();
        var strict = DataSource.Parse($"finevision:{file}").Open(minRatings: new MinRatings(Relevance: 3, VisualDependency: 2));
        var turns = DatasetView.All(strict).ReadInOrder().Select(s => string.Join(" ", s.Turns.Select(t => t.User + "/" + t.Assistant))).ToList();
        // Row 0 loses its relevance-2 turn, row 1 all its turns (skipped), row 2 its visual-dependency-1 turn
        // (a null rating or a list too short to rate a turn keeps it); row 3 has no ratings.
        Assert.Equal(["q0a/a0a", "q2a/a2a", "q3a/a3a q3b/a3b"], turns);
        Assert.Equal("1 every turn rated below the minimum", strict.Skipped.ToString());

        var lenient = CauldronDataset.Open(file);
        Assert.Equal([2, 1, 2, 2], DatasetView.All(lenient).ReadInOrder().Select(s => s.Turns.Count));
        Assert.Equal(0, lenient.Skipped.Total);
    }

    [Fact]
    public void SplitAndShuffleAreDeterministicAndComplete()
    {
        var cauldron = CauldronDataset.Open(CauldronFolder());
        var (train, val) = DatasetView.Split(cauldron, seed: 0, cutoff: 10, valRatio: 0.2);
        Assert.Equal(8, train.Count);
        Assert.Equal(2, val.Count);
        Assert.Empty(train.Rows.Intersect(val.Rows));
        string Order(int epoch) => string.Join("|", train.ReadShuffled(0, epoch, windowGroups: 2).Select(s => s.Source));
        Assert.Equal(Order(0), Order(0));
        Assert.NotEqual(Order(0), Order(1));
        var again = DatasetView.Split(CauldronDataset.Open(CauldronFolder()), seed: 0, cutoff: 10, valRatio: 0.2);
        Assert.Equal(train.Rows, again.Train.Rows);
        Assert.Equal(train.ReadShuffled(0, 3).Count(), train.ReadInOrder().Count());
    }

    [Fact]
    public void MissingColumnAndCorruptParquetAreNamed()
    {
        var dir = Fixture.TempDir();
        var file = Path.Combine(dir, "bad.parquet");
        ParquetFixtures.Write(file, new Parquet.Schema.ParquetSchema(new Parquet.Schema.DataField<string>("texts")),
            [new Dictionary<string, object?> { ["texts"] = "x" }], 10);
        var e = Assert.Throws<NanoVlmException>(() => CauldronDataset.Open(file));
        Assert.Contains(file, e.Message);
        Assert.Contains("missing column 'images'", e.Message);
        var good = Path.Combine(CauldronFolder(), "vqav2", "train-00000-of-00001.parquet");
        var truncated = Path.Combine(dir, "truncated.parquet");
        File.WriteAllBytes(truncated, File.ReadAllBytes(good)[..200]);
        Assert.Contains(truncated, Assert.Throws<NanoVlmException>(() => CauldronDataset.Open(truncated)).Message);
    }

    [Fact]
    public void MmStarKeepsCategoriesAndUsesTheLetterPrompt()
    {
        var file = Path.Combine(Fixture.TempDir(), "val-00000-of-00001.parquet");
        var rows = Enumerable.Range(0, 4).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["index"] = (long)i, ["question"] = $"Which? Options: A: x, B: y", ["image"] = ParquetFixtures.Image(Png),
            ["answer"] = i == 2 ? "" : "B", ["category"] = "coarse perception", ["l2_category"] = "image style",
            ["meta_info"] = new Dictionary<string, object?> { ["source"] = "s", ["split"] = "val" },
        }).ToList();
        ParquetFixtures.Write(file, ParquetFixtures.MmStar, rows, 10);
        var mmstar = MmStarDataset.Open(Path.GetDirectoryName(file)!);
        var samples = DatasetView.All(mmstar).ReadInOrder().ToList();
        Assert.Equal(3, samples.Count);
        Assert.Equal(1, mmstar.Skipped.Total);
        Assert.All(samples, s => Assert.Equal(("coarse perception", "image style", PromptStyle.LetterChoice, "B"), (s.Category, s.L2Category, s.Style, s.Turns[0].Assistant)));
    }

    static void WriteIdx(string path, byte[] header, byte[] data)
    {
        using var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        gz.Write(header);
        gz.Write(data);
    }

    [Fact]
    public void FashionMnistIdxBecomesThreeTurnSamples()
    {
        var dir = Fixture.TempDir();
        var pixels = Enumerable.Range(0, 3 * 784).Select(i => (byte)i).ToArray();
        WriteIdx(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28], pixels);
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 0]);
        var ds = FashionMnistDataset.Load(dir, train: false);
        var samples = DatasetView.All(ds).ReadInOrder().ToList();
        Assert.Equal(new[] { "sneaker", "yes", "footwear" }, samples[0].Turns.Select(t => t.Assistant));
        Assert.Equal(new[] { "no", "bag", "bag" }, samples[1].Turns.Select(t => t.Assistant));        // rotated: each question also comes first
        Assert.Equal(new[] { "clothing", "tshirt", "no" }, samples[2].Turns.Select(t => t.Assistant));
        var image = samples[1].Images[0].Decode(new ImageProcessor(32));
        Assert.Equal((28, 28), (image.Width, image.Height));
        Assert.Equal([(byte)(784 % 256), (byte)(784 % 256), (byte)(784 % 256)], image.Pixels[..3]);
        using var tensor = new ImageProcessor(32).ToTensor(samples[1].Images[0].Decode(new ImageProcessor(32)));
        Assert.Equal(new long[] { 3, 32, 32 }, tensor.shape);
        Assert.Contains("missing Fashion-MNIST file", Assert.Throws<NanoVlmException>(() => FashionMnistDataset.Load(dir, train: true)).Message);
    }

    [Fact]
    public void RealFashionMnistHasItsSplits()
    {
        // ./run test installs the Debian package dataset-fashion-mnist (or set NANOVLM_FASHION_MNIST).
        var folder = Environment.GetEnvironmentVariable("NANOVLM_FASHION_MNIST") ?? FashionMnistDataset.DefaultFolder;
        var train = FashionMnistDataset.Load(folder, train: true);
        Assert.Equal(60_000, train.Count);
        Assert.Equal(60_000, DatasetView.All(train).ReadInOrder().Count());
        Assert.Equal(10_000, FashionMnistDataset.Load(folder, train: false).Count);
    }

    [Fact]
    public void JsonlReadsImagesRelativeToTheFile()
    {
        var dir = Fixture.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "img"));
        File.WriteAllBytes(Path.Combine(dir, "img", "a.png"), Png);
        var file = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(file,
        [
            """{"images": ["img/a.png"], "conversations": [{"user": "What?", "assistant": "A thing"}, {"user": "Sure?", "assistant": "Yes"}]}""",
            "",
            """{"images": [], "conversations": [{"user": "Empty?", "assistant": ""}]}""",
        ]);
        var ds = new JsonlDataset(file);
        Assert.Equal(1, ds.Count);
        Assert.Equal(1, ds.Skipped.Total);
        var sample = DatasetView.All(ds).ReadInOrder().Single();
        Assert.Equal(8, sample.Images[0].Decode(new ImageProcessor(8)).Height);
        File.AppendAllText(file, "{\"images\": []}\n");
        var e = Assert.Throws<NanoVlmException>(() => new JsonlDataset(file));
        Assert.Contains("line 4", e.Message);
        Assert.Contains("conversations", e.Message);
    }
}
