using NanoVlm.Data;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Data;

public class PackingTests
{
    static readonly PackingOptions Options = new() { MaxSampleLength = 40, MaxImagesPerPack = 4, MaxImagesPerSample = 2 };

    static EncodedSample Encoded(int[] ids, bool[] isTarget, params float[] imageValues) =>
        new(new VqaSample([], [], "test"), ids, isTarget, imageValues.Select(v => full(3, 2, 2, v)).ToArray());

    static EncodedSample OfLength(int tokens, int images = 0) => Encoded(Enumerable.Range(1, tokens).ToArray(), new bool[tokens], new float[images]);

    [Fact]
    public void EverySampleIsPackedOnceWithinTheLimits()
    {
        var rng = new Random(3);
        var samples = Enumerable.Range(0, 200).Select(_ => (Tokens: rng.Next(1, 30), Images: rng.Next(0, 3))).ToList();
        var plan = SamplePacker.Pack(samples, capacity: 32, Options, new Random(0));
        Assert.Empty(plan.Dropped);
        Assert.Equal(Enumerable.Range(0, 200), plan.Packs.SelectMany(p => p).Order());
        Assert.All(plan.Packs, p => Assert.InRange(p.Sum(i => samples[i].Tokens), 1, 32));
        Assert.All(plan.Packs, p => Assert.InRange(p.Sum(i => samples[i].Images), 0, 4));
        var minimum = (samples.Sum(s => s.Tokens) + 31) / 32;
        Assert.InRange(plan.Packs.Count, minimum, minimum + 10);
    }

    [Fact]
    public void TheImageLimitOpensMorePacks()
    {
        var samples = Enumerable.Repeat((Tokens: 1, Images: 2), 20).ToList();
        var plan = SamplePacker.Pack(samples, capacity: 100, Options, new Random(0));
        Assert.Equal(10, plan.Packs.Count);
        Assert.All(plan.Packs, p => Assert.Equal(2, p.Length));
    }

    [Fact]
    public void LongestFirstIntoTheLeastLoadedPack()
    {
        // 30 tokens fit one pack of 100; with 5 spare, the six longest each take an empty pack, the rest go to the emptiest.
        var samples = new[] { 9, 8, 1, 7, 1, 2, 1, 1 }.Select(t => (Tokens: t, Images: 0)).ToList();
        var plan = SamplePacker.Pack(samples, capacity: 100, Options, new Random(0));
        var loads = plan.Packs.Select(p => p.Select(i => samples[i].Tokens).ToArray()).OrderByDescending(p => p[0]).ThenBy(p => p.Length).ToList();
        Assert.Equal([[9], [8], [7], [2], [1, 1], [1, 1]], loads);
    }

    [Fact]
    public void OversizeSamplesAreDroppedWithTheirReason()
    {
        var samples = new[] { (10, 0), (40, 0), (33, 0), (5, 3), (39, 2) }.Select(s => (Tokens: s.Item1, Images: s.Item2)).ToList();
        var plan = SamplePacker.Pack(samples, capacity: 64, Options with { MaxSampleLength = 40 }, new Random(0));
        Assert.Equal([(1, "max_sample_length 40 tokens or more"), (3, "more than 2 images")], plan.Dropped);
        plan = SamplePacker.Pack(samples, capacity: 32, Options with { MaxSampleLength = 100 }, new Random(0));
        Assert.Equal([1, 2, 3, 4], plan.Dropped.Select(d => d.Sample));
        Assert.Contains("longer than a pack of 32 tokens", plan.Dropped.Select(d => d.Reason));
        Assert.Equal([0], plan.Packs.SelectMany(p => p));
    }

    [Fact]
    public void PackedRowsKeepLabelsInsideEachSample()
    {
        var a = Encoded([1, 2, 3], [false, false, true], 1f);
        var b = Encoded([4, 5], [true, true], 2f, 3f);
        var c = Encoded([6, 7], [false, true]);
        using var batch = PackedCollation.Collate([[a, b], [c]], padId: 0, imageSize: 2);
        Assert.Equal(new long[,] { { 1, 2, 3, 4, 5 }, { 0, 0, 0, 6, 7 } }, Matrix(batch.InputIds));
        // a's last token is not trained to predict b's first, although that one is a target.
        Assert.Equal(new long[,] { { -100, 3, -100, 5, -100 }, { -100, -100, -100, 7, -100 } }, Matrix(batch.Labels));
        Assert.Equal(new long[,] { { 1, 1, 1, 2, 2 }, { 0, 0, 0, 1, 1 } }, Matrix(batch.SequenceIds!));
        Assert.Equal(new long[,] { { 1, 1, 1, 1, 1 }, { 0, 0, 0, 1, 1 } }, Matrix(batch.AttentionMask));
        Assert.Equal([1f, 2f, 3f], batch.Images[.., 0, 0, 0].data<float>().ToArray());
    }

    [Fact]
    public void StreamedPackingCountsDropsAndThePaddingSaved()
    {
        var lengths = new[] { 30, 5, 6, 25, 50, 4, 12, 20, 3, 28, 7, 9 };
        var skipped = new SkipCounter();
        var stats = new PackingStats();
        var batches = SamplePacker.Batches(lengths.Select(n => OfLength(n)), capacity: 32, Options, batchSize: 2, seed: 1, skipped, stats).ToList();
        Assert.Equal("1 max_sample_length 40 tokens or more", skipped.ToString());
        var rows = batches.SelectMany(b => b).ToList();
        Assert.Equal(lengths.Where(n => n < 40).Order(), rows.SelectMany(r => r).Select(s => s.InputIds.Length).Order());
        Assert.All(rows, r => Assert.InRange(r.Sum(s => s.InputIds.Length), 1, 32));
        Assert.Equal(11, stats.Samples);
        Assert.Equal(rows.Count, stats.Rows);
        Assert.Equal(lengths.Where(n => n < 40).Sum(), stats.Tokens);
        // Unpacked, the kept samples in stream order would be batched (30, 5) (6, 25) (4, 12) (20, 3) (28, 7) (9).
        Assert.Equal(25 + 19 + 8 + 17 + 21, stats.UnpackedPadding);
        Assert.Equal(batches.Sum(b => b.Max(r => r.Sum(s => s.InputIds.Length)) * b.Count - b.Sum(r => r.Sum(s => s.InputIds.Length))), stats.PackedPadding);
        Assert.StartsWith("11 samples in ", stats.ToString());
        var again = SamplePacker.Batches(lengths.Select(n => OfLength(n)), 32, Options, 2, 1, new SkipCounter(), new PackingStats()).ToList();
        Assert.Equal(Shape(batches), Shape(again));
    }

    static long[,] Matrix(Tensor t)
    {
        var (rows, cols) = ((int)t.shape[0], (int)t.shape[1]);
        var data = t.data<long>().ToArray();
        var m = new long[rows, cols];
        for (var i = 0; i < data.Length; i++) m[i / cols, i % cols] = data[i];
        return m;
    }

    static string Shape(IEnumerable<IReadOnlyList<EncodedSample[]>> batches) =>
        string.Join(" | ", batches.Select(b => string.Join(" ", b.Select(r => string.Join("+", r.Select(s => s.InputIds.Length))))));
}
