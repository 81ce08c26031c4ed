namespace NanoVlm.Data;

/// <summary>
/// nanoVLM's balanced greedy knapsack: samples, longest first, each go into the least loaded pack that still has room for its
/// tokens and images; it starts with the fewest packs the tokens need plus <see cref="SpareBins"/>, and opens a new pack when none
/// has room. Packs come out in a seeded random order (the fill leaves them roughly sorted by load).
/// </summary>
public static class SamplePacker
{
    const int SpareBins = 5, BufferBatches = 4;

    /// <summary>Groups of sample indices, and the samples left out with why.</summary>
    public sealed record Plan(IReadOnlyList<int[]> Packs, IReadOnlyList<(int Sample, string Reason)> Dropped);

    /// <param name="samples">Tokens and images of each sample.</param>
    /// <param name="capacity">Tokens per pack (lm_max_length).</param>
    public static Plan Pack(IReadOnlyList<(int Tokens, int Images)> samples, int capacity, PackingOptions options, Random rng)
    {
        var dropped = new List<(int, string)>();
        var kept = new List<int>();
        for (var i = 0; i < samples.Count; i++)
        {
            var (tokens, images) = samples[i];
            if (tokens >= options.MaxSampleLength) dropped.Add((i, $"max_sample_length {options.MaxSampleLength} tokens or more"));
            else if (tokens > capacity) dropped.Add((i, $"longer than a pack of {capacity} tokens"));
            else if (images > options.MaxImagesPerSample) dropped.Add((i, $"more than {options.MaxImagesPerSample} images"));
            else kept.Add(i);
        }

        var bins = (int)((kept.Sum(i => (long)samples[i].Tokens) + capacity - 1) / capacity) + SpareBins;
        var load = new List<int>(new int[bins]);
        var imageLoad = new List<int>(new int[bins]);
        var packs = Enumerable.Range(0, bins).Select(_ => new List<int>()).ToList();
        foreach (var i in kept.OrderByDescending(i => samples[i].Tokens))
        {
            var (tokens, images) = samples[i];
            var bin = Enumerable.Range(0, load.Count).OrderBy(b => load[b])
                .FirstOrDefault(b => load[b] + tokens <= capacity && imageLoad[b] + images <= options.MaxImagesPerPack, -1);
            if (bin < 0)
            {
                bin = load.Count;
                load.Add(0);
                imageLoad.Add(0);
                packs.Add([]);
            }
            packs[bin].Add(i);
            load[bin] += tokens;
            imageLoad[bin] += images;
        }
        var result = packs.Where(p => p.Count > 0).Select(p => p.ToArray()).ToArray();
        rng.Shuffle(result);
        return new Plan(result, dropped);
    }

    /// <summary>
    /// Packs a stream buffer by buffer (about four batches of full rows at a time, as nanoVLM does) and yields batches of
    /// <paramref name="batchSize"/> rows, the last one possibly smaller. Dropped samples are counted in <paramref name="skipped"/>
    /// and their images disposed; <paramref name="stats"/> compares the padding with that of unpacked batches of the same samples.
    /// </summary>
    public static IEnumerable<IReadOnlyList<EncodedSample[]>> Batches(IEnumerable<EncodedSample> samples, int capacity, PackingOptions options,
        int batchSize, int seed, SkipCounter skipped, PackingStats stats)
    {
        var rng = new Random(seed);
        var bufferTokens = (long)capacity * batchSize * BufferBatches;
        var rows = new List<EncodedSample[]>();
        var unpacked = new List<int>();
        foreach (var buffer in Buffers(samples, bufferTokens))
        {
            var plan = Pack(buffer.Select(s => (s.InputIds.Length, s.Images.Length)).ToList(), capacity, options, rng);
            foreach (var (i, reason) in plan.Dropped)
            {
                skipped.Add(reason);
                foreach (var image in buffer[i].Images) image.Dispose();
            }
            var droppedSet = plan.Dropped.Select(d => d.Sample).ToHashSet();
            foreach (var s in buffer.Where((_, i) => !droppedSet.Contains(i)))
            {
                unpacked.Add(s.InputIds.Length);
                if (unpacked.Count < batchSize) continue;
                stats.AddUnpackedBatch(unpacked);
                unpacked.Clear();
            }
            foreach (var pack in plan.Packs)
            {
                rows.Add(pack.Select(i => buffer[i]).ToArray());
                if (rows.Count < batchSize) continue;
                stats.AddPackedBatch(rows);
                yield return rows;
                rows = [];
            }
        }
        if (unpacked.Count > 0) stats.AddUnpackedBatch(unpacked);
        if (rows.Count == 0) yield break;
        stats.AddPackedBatch(rows);
        yield return rows;
    }

    /// <summary>
    /// About how many rows <see cref="Batches"/> makes of <paramref name="samples"/> samples of <paramref name="meanTokens"/> tokens:
    /// the rows the tokens fill, plus the spare packs of each buffer (which the balanced fill uses), one sample per row at most.
    /// </summary>
    public static long EstimateRows(long samples, double meanTokens, int capacity, int batchSize)
    {
        var tokens = samples * meanTokens;
        var buffers = Math.Ceiling(tokens / ((double)capacity * batchSize * BufferBatches));
        return Math.Min(samples, (long)Math.Ceiling(tokens / capacity + SpareBins * buffers));
    }

    static IEnumerable<List<EncodedSample>> Buffers(IEnumerable<EncodedSample> samples, long tokens)
    {
        var buffer = new List<EncodedSample>();
        var length = 0L;
        foreach (var s in samples)
        {
            buffer.Add(s);
            length += s.InputIds.Length;
            if (length < tokens) continue;
            yield return buffer;
            (buffer, length) = ([], 0);
        }
        if (buffer.Count > 0) yield return buffer;
    }
}
