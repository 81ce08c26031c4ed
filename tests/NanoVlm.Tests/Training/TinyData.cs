using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.IO;
using NanoVlm.Training;

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

    /// <summary>Deterministic training batches, as the CLI builds them.</summary>
    public TrainingData TrainingData(TrainingOptions options)
    {
        var collator = new VlmProcessor(Config, Tokenizer);
        var (train, val) = DatasetView.Split(this, options.Seed, valRatio: 0.25);
        return new TrainingData(
            epoch => VqaDataLoader.Batches(train.ReadShuffled(options.Seed, epoch), s => collator.EncodeForTraining(s), b => collator.Collate(b), options.BatchSize),
            train.Count / options.BatchSize,
            () => VqaDataLoader.Batches(val.ReadInOrder(), s => collator.EncodeForTraining(s), b => collator.Collate(b), options.BatchSize));
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
