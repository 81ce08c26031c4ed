namespace NanoVlm.Data;

/// <summary>
/// A dataset of <see cref="VqaSample"/>s with random access by row in groups (a parquet row group, or everything for in-memory
/// sources), so that shuffling and splitting never need the whole dataset in memory.
/// </summary>
public interface IVqaDataset
{
    string Name { get; }
    int Count { get; }
    /// <summary>First row of each group, ascending, starting with 0; reading rows of one group costs one group read.</summary>
    IReadOnlyList<int> GroupStarts { get; }
    /// <summary>Rows left out while reading (empty answers...).</summary>
    SkipCounter Skipped { get; }
    /// <summary>The samples of <paramref name="rows"/> (ascending, all in <paramref name="group"/>) with their row numbers; skipped rows yield nothing.</summary>
    IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows);
}
