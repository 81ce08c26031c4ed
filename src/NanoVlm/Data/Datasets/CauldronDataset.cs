using Parquet.Schema;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// The Cauldron (<c>HuggingFaceM4/the_cauldron</c>) and FineVision (<c>HuggingFaceM4/FineVision</c>) from local parquet files:
/// <c>images</c> = list&lt;struct{bytes, path}&gt;, <c>texts</c> = list&lt;struct{user, assistant}&gt;, and in FineVision per-turn
/// rating lists that <see cref="MinRatings"/> filters on. Every image and every remaining turn of a row is used; turns with an empty
/// answer are dropped and a row left without turns (or without image bytes) is skipped and counted.
/// </summary>
public sealed class CauldronDataset : ParquetDataset
{
    readonly MinRatings minRatings;

    CauldronDataset(string name, IReadOnlyList<string> files, MinRatings? minRatings)
        : base(name, files, new Dictionary<string, SchemaType> { ["images"] = SchemaType.List, ["texts"] = SchemaType.List }) =>
        this.minRatings = minRatings ?? MinRatings.Default;

    /// <summary>A folder laid out as on the Hub (<c>&lt;root&gt;/&lt;subset&gt;/*.parquet</c>), all subsets or the named ones, or a
    /// folder of parquet files, or a single parquet file.</summary>
    public static CauldronDataset Open(string path, IReadOnlyList<string>? subsets = null, MinRatings? minRatings = null)
    {
        if (File.Exists(path)) return FromFiles([path], minRatings);
        if (!Directory.Exists(path)) throw new NanoVlmException($"{path}: no such folder or parquet file");
        var folders = subsets is { Count: > 0 }
            ? subsets.Select(s => Directory.Exists(Path.Combine(path, s)) ? Path.Combine(path, s) : throw new NanoVlmException($"{path}: no subset folder '{s}'"))
            : Directory.GetDirectories(path).Order(StringComparer.Ordinal).Prepend(path);
        var files = folders.SelectMany(f => Directory.GetFiles(f, "*.parquet").Order(StringComparer.Ordinal)).ToList();
        if (files.Count == 0) throw new NanoVlmException($"{path}: no .parquet files found");
        return new CauldronDataset(path, files, minRatings);
    }

    public static CauldronDataset FromFiles(IReadOnlyList<string> files, MinRatings? minRatings = null) => new(string.Join(",", files), files, minRatings);

    /// <summary>Rows per subset (the folder a parquet file sits in).</summary>
    public IReadOnlyDictionary<string, int> SubsetCounts() =>
        Enumerable.Range(0, GroupStarts.Count)
            .GroupBy(g => Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(FileOf(g))))!)
            .ToDictionary(g => g.Key, g => g.Sum(i => (i + 1 < GroupStarts.Count ? GroupStarts[i + 1] : Count) - GroupStarts[i]));

    private protected override VqaSample? ToSample(Dictionary<string, object> record, string source)
    {
        var texts = ParquetTable.Structs(record, "texts").ToList();
        var rated = texts.Where((_, i) => minRatings.Keeps(record, i)).ToList();
        var turns = rated.Select(t => new VqaTurn(ParquetTable.Text(t, "user") ?? "", ParquetTable.Text(t, "assistant") ?? ""))
            .Where(t => !string.IsNullOrWhiteSpace(t.Assistant)).ToArray();
        var images = ParquetTable.Structs(record, "images").Select(i => ParquetTable.Bytes(i, "bytes")).ToArray();
        if (texts.Count > 0 && rated.Count == 0) Skipped.Add("every turn rated below the minimum");
        else if (turns.Length == 0) Skipped.Add("empty answer");
        else if (images.Any(b => b is null)) Skipped.Add("image without bytes");
        else return new VqaSample(images.Select((b, i) => VqaImage.FromBytes(b!, $"{source} image {i}")).ToArray(), turns, source);
        return null;
    }
}
