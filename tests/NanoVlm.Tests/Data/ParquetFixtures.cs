using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace NanoVlm.Tests.Data;

/// <summary>Writes parquet files with the Hub's exact schemas (pyarrow's list/element layout).</summary>
static class ParquetFixtures
{
    public static readonly ParquetSchema Cauldron = new(
        new ListField("images", new StructField("element", new DataField<byte[]>("bytes"), new DataField<string>("path"))),
        new ListField("texts", new StructField("element", new DataField<string>("user"), new DataField<string>("assistant"), new DataField<string>("source"))));

    public static readonly string[] RatingColumns = ["relevance_ratings", "image_correspondence_ratings", "visual_dependency_ratings", "formatting_ratings"];

    /// <summary>FineVision: the Cauldron's columns (texts without source) plus a list of ratings per turn for each quality.</summary>
    public static readonly ParquetSchema FineVision = new(new Field[]
    {
        new ListField("images", new StructField("element", new DataField<byte[]>("bytes"), new DataField<string>("path"))),
        new ListField("texts", new StructField("element", new DataField<string>("user"), new DataField<string>("assistant"))),
        new DataField<string>("source"),
    }.Concat(RatingColumns.Select(c => new ListField(c, new DataField<long?>("element")))).ToArray());

    public static readonly ParquetSchema MmStar = new(
        new DataField<long>("index"), new DataField<string>("question"),
        new StructField("image", new DataField<byte[]>("bytes"), new DataField<string>("path")),
        new DataField<string>("answer"), new DataField<string>("category"), new DataField<string>("l2_category"),
        new StructField("meta_info", new DataField<string>("source"), new DataField<string>("split")));

    public static Dictionary<string, object?> Image(byte[] bytes) => new() { ["bytes"] = (ReadOnlyMemory<byte>?)bytes, ["path"] = null };

    public static Dictionary<string, object?> CauldronRow(IEnumerable<byte[]> images, params (string User, string Assistant)[] turns) => new()
    {
        ["images"] = images.Select(Image).ToList(),
        ["texts"] = turns.Select(t => new Dictionary<string, object?> { ["user"] = t.User, ["assistant"] = t.Assistant, ["source"] = "test" }).ToList(),
    };

    /// <summary>A FineVision row; <paramref name="ratings"/> maps a rating column to its per-turn list (absent: null).</summary>
    public static Dictionary<string, object?> FineVisionRow(IEnumerable<byte[]> images, (string User, string Assistant)[] turns,
        IReadOnlyDictionary<string, long?[]> ratings)
    {
        var row = new Dictionary<string, object?>
        {
            ["images"] = images.Select(Image).ToList(),
            ["texts"] = turns.Select(t => new Dictionary<string, object?> { ["user"] = t.User, ["assistant"] = t.Assistant }).ToList(),
            ["source"] = "test",
        };
        foreach (var column in RatingColumns) row[column] = ratings.GetValueOrDefault(column)?.ToList();
        return row;
    }

    public static void Write(string path, ParquetSchema schema, IReadOnlyCollection<IDictionary<string, object?>> rows, int rowGroupSize)
    {
        using var file = File.Create(path);
        ParquetSerializer.SerializeUntypedAsync(rows, schema, file, new ParquetOptions { RowGroupSize = rowGroupSize }).GetAwaiter().GetResult();
    }
}
