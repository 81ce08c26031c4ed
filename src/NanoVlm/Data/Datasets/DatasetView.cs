using NanoVlm.Runtime;
namespace NanoVlm.Data;

/// <summary>
/// A subset of a dataset's rows (a train or validation split) read in a deterministic order. Shuffled reading visits the groups in
/// a seeded random order, a window of a few groups at a time, and shuffles the rows within each window, so memory stays bounded
/// by the window while every selected row is read exactly once per epoch.
/// </summary>
public sealed class DatasetView(IVqaDataset dataset, int[] rows)
{
    public IVqaDataset Dataset { get; } = dataset;
    public IReadOnlyList<int> Rows { get; } = rows;
    public int Count => Rows.Count;

    public static DatasetView All(IVqaDataset dataset) => new(dataset, Enumerable.Range(0, dataset.Count).ToArray());

    /// <summary>nanoVLM's recipe: shuffle all rows with <paramref name="seed"/>, keep the first <paramref name="cutoff"/>, hold out
    /// the last <paramref name="valRatio"/> of those for validation.</summary>
    public static (DatasetView Train, DatasetView Val) Split(IVqaDataset dataset, int seed = 0, int? cutoff = null, double valRatio = 0.025)
    {
        if (!(valRatio is >= 0 and < 1)) throw NanoVlmException.For("ValRatio", $"must be in [0, 1), got {valRatio}");
        if (cutoff is < 1) throw NanoVlmException.For("Cutoff", $"must be > 0, got {cutoff}");
        var permutation = Enumerable.Range(0, dataset.Count).ToArray();
        new Random(seed).Shuffle(permutation);
        var total = Math.Min(dataset.Count, cutoff ?? int.MaxValue);
        var val = (int)(total * valRatio);
        return (new DatasetView(dataset, permutation[..(total - val)]), new DatasetView(dataset, permutation[(total - val)..total]));
    }

    /// <summary>The rows in ascending order (evaluation).</summary>
    public IEnumerable<VqaSample> ReadInOrder(CancellationToken cancel = default)
    {
        foreach (var (group, groupRows) in ByGroup().OrderBy(g => g.Key))
        {
            cancel.ThrowIfCancellationRequested();
            foreach (var (_, sample) in Dataset.ReadGroupRows(group, groupRows.Order().ToArray())) yield return sample;
        }
    }

    /// <summary>The rows shuffled for <paramref name="epoch"/>: the same seed and epoch always give the same order.</summary>
    public IEnumerable<VqaSample> ReadShuffled(int seed, int epoch, int windowGroups = 4, CancellationToken cancel = default)
    {
        var rng = new Random(Seeds.Combine(seed, epoch));
        var groups = ByGroup().OrderBy(g => g.Key).ToArray();
        rng.Shuffle(groups);
        for (var w = 0; w < groups.Length; w += windowGroups)
        {
            cancel.ThrowIfCancellationRequested();
            var window = groups[w..Math.Min(groups.Length, w + windowGroups)];
            var samples = new Dictionary<int, VqaSample>();
            foreach (var (group, groupRows) in window)
                foreach (var (row, sample) in Dataset.ReadGroupRows(group, groupRows.Order().ToArray()))
                    samples[row] = sample;
            var order = window.SelectMany(g => g.Value).Order().ToArray();
            rng.Shuffle(order);
            foreach (var row in order)
                if (samples.TryGetValue(row, out var sample)) yield return sample;
        }
    }

    Dictionary<int, List<int>> ByGroup()
    {
        var starts = Dataset.GroupStarts.ToArray();
        var byGroup = new Dictionary<int, List<int>>();
        foreach (var row in Rows)
        {
            var index = Array.BinarySearch(starts, row);
            var group = index >= 0 ? index : ~index - 1;
            (byGroup.TryGetValue(group, out var list) ? list : byGroup[group] = []).Add(row);
        }
        return byGroup;
    }
}
