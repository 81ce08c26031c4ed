using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Training;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests.Training;

/// <summary>A small in-memory VQA set (bright or dark squares, "what is this" -> light/dark) with a word-level tokenizer.</summary>
public sealed class TinyData : IVqaDataset, IDisposable
{
    readonly TempDir dir = new();

    public TinyData(int count = 48)
    {
        Count = count;
        WordLevelTokenizerBuilder.Write(TokenizerFolder, Enumerable.Range(0, 2).SelectMany(l => Turns(l).Select(t => $"Question: {t.User} Answer: {t.Assistant}")));
        Tokenizer = Tokenizer.Load(TokenizerFolder, Config.VlmExtraTokens);
        Config = Config with
        {
            LmBaseVocabSize = Tokenizer.VocabSize - 1, LmVocabSize = Tokenizer.VocabSize,
        };
    }

    public string TokenizerFolder => dir["tokenizer"];
    public Tokenizer Tokenizer { get; }
    public VlmConfig Config { get; } = TestModels.Tiny;
    public string Name => "tiny";
    public int Count { get; }
    public IReadOnlyList<int> GroupStarts { get; } = [0];
    public SkipCounter Skipped { get; } = new();

    static IReadOnlyList<VqaTurn> Turns(int label) => [new("What is this?", label == 0 ? "dark" : "light"), new("Is it bright?", label == 0 ? "no" : "yes")];

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows) =>
        rows.Select(r =>
        {
            var label = r % 2;
            var pixels = Enumerable.Range(0, 16 * 16 * 3).Select(i => (byte)(label * 180 + (i * 7 + r) % 60)).ToArray();
            return (r, new VqaSample([VqaImage.FromPixels(new RgbImage(16, 16, pixels), $"tiny {r}")], Turns(label), $"tiny {r}"));
        });

    public VlmProcessor Processor() => new(Config, Tokenizer);

    /// <summary>Deterministic training batches, as the CLI builds them; packed rows when <paramref name="packing"/> is given.</summary>
    public TrainingData TrainingData(TrainingOptions options, PackingOptions? packing = null)
    {
        var processor = Processor();
        var (train, val) = DatasetView.Split(this, options.Seed, valRatio: 0.25);
        IEnumerable<VlmBatch> Batches(IEnumerable<VqaSample> samples, int seed) => packing is null
            ? VqaDataLoader.Batches(samples, s => processor.EncodeForTraining(s), b => processor.Collate(b), options.BatchSize)
            : VqaDataLoader.PackedBatches(samples, s => processor.EncodeForTraining(s),
                rows => PackedCollation.Collate(rows, Tokenizer.PadTokenId, Config.VitImgSize),
                Config.LmMaxLength, packing, options.BatchSize, seed, processor.Skipped, new PackingStats());
        return new TrainingData(
            epoch => Batches(train.ReadShuffled(options.Seed, epoch), epoch),
            train.Count / options.BatchSize,
            () => Batches(val.ReadInOrder(), 0));
    }

    /// <summary>A fresh model bound to its own copy of the tokenizer (the front door owns both).</summary>
    public PretrainedVlm NewModel(int seed = 0)
    {
        var model = TestModels.Create(seed, Config);
        model.train();
        return PretrainedVlm.Create(model, Tokenizer.Load(TokenizerFolder, Config.VlmExtraTokens));
    }

    public void Dispose()
    {
        Tokenizer.Dispose();
        dir.Dispose();
    }
}
