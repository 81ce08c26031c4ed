using Parquet.Schema;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>MMStar (<c>Lin-Chen/MMStar</c>, split <c>val</c>): index, question, image{bytes, path}, answer (a letter), category,
/// l2_category, meta_info. Each row is one letter-choice question; the categories are kept for per-category scores.</summary>
public sealed class MmStarDataset : ParquetDataset
{
    MmStarDataset(string name, IReadOnlyList<string> files) : base(name, files, new Dictionary<string, SchemaType>
    {
        ["question"] = SchemaType.Data, ["image"] = SchemaType.Struct, ["answer"] = SchemaType.Data,
        ["category"] = SchemaType.Data, ["l2_category"] = SchemaType.Data,
    })
    {
    }

    /// <summary>A parquet file, or a folder whose <c>*.parquet</c> files (searched recursively, <c>val*</c> first) are read.</summary>
    public static MmStarDataset Open(string path)
    {
        if (File.Exists(path)) return new MmStarDataset(path, [path]);
        if (!Directory.Exists(path)) throw new NanoVlmException($"{path}: no such folder or parquet file");
        var files = Directory.GetFiles(path, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new NanoVlmException($"{path}: no .parquet files found");
        return new MmStarDataset(path, files);
    }

    private protected override VqaSample? ToSample(Dictionary<string, object> record, string source)
    {
        var answer = ParquetTable.Text(record, "answer")?.Trim() ?? "";
        var image = ParquetTable.Bytes(record.GetValueOrDefault("image") as Dictionary<string, object>, "bytes");
        if (answer.Length == 0) Skipped.Add("empty answer");
        else if (image is null) Skipped.Add("image without bytes");
        else
            return new VqaSample([VqaImage.FromBytes(image, $"{source} image")], [new VqaTurn(ParquetTable.Text(record, "question") ?? "", answer)], source)
            {
                Style = PromptStyle.LetterChoice,
                Category = ParquetTable.Text(record, "category"),
                L2Category = ParquetTable.Text(record, "l2_category"),
            };
        return null;
    }
}
