using Parquet.Schema;

namespace NanoVlm.Data;

/// <summary>MMStar (<c>Lin-Chen/MMStar</c>, split <c>val</c>): index, question, image{bytes, path}, answer (a letter), category,
/// l2_category, meta_info. Each row is one letter-choice question; the categories are kept for per-category scores.</summary>
public sealed class MmStarDataset : IVqaDataset
{
    readonly ParquetTable _table;

    MmStarDataset(string name, IReadOnlyList<string> files)
    {
        Name = name;
        _table = new ParquetTable(files, new Dictionary<string, SchemaType>
        {
            ["question"] = SchemaType.Data, ["image"] = SchemaType.Struct, ["answer"] = SchemaType.Data,
            ["category"] = SchemaType.Data, ["l2_category"] = SchemaType.Data,
        });
    }

    public string Name { get; }
    public int Count => _table.Count;
    public IReadOnlyList<int> GroupStarts => _table.GroupStarts;
    public SkipCounter Skipped { get; } = new();

    /// <summary>A parquet file, or a folder whose <c>*.parquet</c> files (searched recursively, <c>val*</c> first) are read.</summary>
    public static MmStarDataset Open(string path)
    {
        if (File.Exists(path)) return new MmStarDataset(path, [path]);
        if (!Directory.Exists(path)) throw new NanoVlmException($"{path}: no such folder or parquet file");
        var files = Directory.GetFiles(path, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new NanoVlmException($"{path}: no .parquet files found");
        return new MmStarDataset(path, files);
    }

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows)
    {
        var data = _table.ReadGroup(group);
        var file = _table.FileOf(group);
        var start = GroupStarts[group];
        foreach (var row in rows)
        {
            var record = data[row - start];
            var source = $"{file} row {row - start} of row group {group}";
            var answer = ParquetTable.Text(record, "answer")?.Trim() ?? "";
            var image = ParquetTable.Bytes(record.GetValueOrDefault("image") as Dictionary<string, object>, "bytes");
            if (answer.Length == 0) Skipped.Add("empty answer");
            else if (image is null) Skipped.Add("image without bytes");
            else
                yield return (row, new VqaSample([VqaImage.FromBytes(image, $"{source} image")], [new VqaTurn(ParquetTable.Text(record, "question") ?? "", answer)], source)
                {
                    Style = PromptStyle.LetterChoice,
                    Category = ParquetTable.Text(record, "category"),
                    L2Category = ParquetTable.Text(record, "l2_category"),
                });
        }
    }
}
