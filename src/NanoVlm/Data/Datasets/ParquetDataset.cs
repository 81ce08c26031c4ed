using Parquet.Schema;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>A dataset read from parquet files one row group at a time; subclasses turn one row into a sample.</summary>
public abstract class ParquetDataset : IVqaDataset
{
    readonly ParquetTable table;

    private protected ParquetDataset(string name, IReadOnlyList<string> files, IReadOnlyDictionary<string, SchemaType> columns)
    {
        if (files.Count == 0) throw new NanoVlmException($"{name}: no parquet files");
        Name = name;
        table = new ParquetTable(files, columns);
    }

    public string Name { get; }
    public int Count => table.Count;
    public IReadOnlyList<int> GroupStarts => table.GroupStarts;
    public SkipCounter Skipped { get; } = new();

    private protected string FileOf(int group) => table.FileOf(group);

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows)
    {
        var data = table.ReadGroup(group);
        var (file, start) = (table.FileOf(group), GroupStarts[group]);
        foreach (var row in rows)
            if (ToSample(data[row - start], $"{file} row {row - start} of row group {group}") is { } sample)
                yield return (row, sample);
    }

    /// <summary>The sample of one row, or null when the row is skipped (counted in <see cref="Skipped"/>).</summary>
    private protected abstract VqaSample? ToSample(Dictionary<string, object> record, string source);
}
