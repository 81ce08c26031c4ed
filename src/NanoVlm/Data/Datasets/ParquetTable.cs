using Parquet;
using Parquet.Schema;
using Parquet.Serialization;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// Parquet files read one row group at a time (bounded memory): the row groups of all files form the dataset's groups, and each
/// file must hold the required top-level columns, each of the expected kind (a plain value, a struct or a list).
/// </summary>
internal sealed class ParquetTable
{
    readonly List<(string File, int RowGroup)> _groups = [];
    readonly List<int> _starts = [];

    public IReadOnlyList<int> GroupStarts => _starts;
    public int Count { get; }

    public ParquetTable(IEnumerable<string> files, IReadOnlyDictionary<string, SchemaType> requiredColumns)
    {
        var count = 0L;
        foreach (var file in files)
        {
            try
            {
                var (columns, rowCounts) = ReadMetadata(file).GetAwaiter().GetResult();
                foreach (var (column, kind) in requiredColumns)
                {
                    if (!columns.TryGetValue(column, out var actual))
                        throw new NanoVlmException($"{file}: missing column '{column}' (has {string.Join(", ", columns.Keys)})");
                    if (actual != kind)
                        throw new NanoVlmException($"{file}: column '{column}' is a {actual} column, expected a {kind} column (wrong schema)");
                }
                for (var g = 0; g < rowCounts.Length; g++)
                {
                    _groups.Add((file, g));
                    _starts.Add((int)count);
                    count += rowCounts[g];
                }
            }
            catch (Exception e) when (e is not NanoVlmException and not FileNotFoundException and not DirectoryNotFoundException and not OperationCanceledException)
            {
                throw new NanoVlmException($"{file}: not a readable parquet file ({e.Message.ReplaceLineEndings(" ")})", e);
            }
        }
        if (count > int.MaxValue) throw new NanoVlmException($"{count} rows: datasets over {int.MaxValue} rows are not supported");
        Count = (int)count;
    }

    /// <summary>Whether the file's schema has all these top-level columns.</summary>
    public static bool HasColumns(string file, IEnumerable<string> columns)
    {
        try { return columns.All(ReadMetadata(file).GetAwaiter().GetResult().Columns.ContainsKey); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new NanoVlmException($"{file}: not a readable parquet file ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    static async Task<(Dictionary<string, SchemaType> Columns, long[] RowCounts)> ReadMetadata(string file)
    {
        await using var stream = RegularFile.OpenRead(file, long.MaxValue, "parquet file");
        await using var reader = await ParquetReader.CreateAsync(stream);
        var columns = new Dictionary<string, SchemaType>();
        foreach (var f in reader.Schema.Fields) columns.TryAdd(f.Name, f.SchemaType);
        return (columns, reader.RowGroups.Select(g => g.RowCount).ToArray());
    }

    public string FileOf(int group) => _groups[group].File;

    /// <summary>The rows of one row group as column-name -> value dictionaries (lists of structs become lists of dictionaries).</summary>
    public IList<Dictionary<string, object>> ReadGroup(int group)
    {
        var (file, rowGroup) = _groups[group];
        using var stream = RegularFile.OpenRead(file, long.MaxValue, "parquet file");
        try
        {
            return ParquetSerializer.DeserializeUntypedAsync(stream, null, rowGroup).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not OperationCanceledException and not IOException)
        {
            throw new NanoVlmException($"{file}: row group {rowGroup} is unreadable ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    public static string? Text(Dictionary<string, object>? row, string key) => row?.GetValueOrDefault(key) as string;

    public static byte[]? Bytes(Dictionary<string, object>? row, string key) => row?.GetValueOrDefault(key) switch
    {
        byte[] b => b,
        ReadOnlyMemory<byte> m => m.ToArray(),
        _ => null,
    };

    public static IEnumerable<Dictionary<string, object>?> Structs(Dictionary<string, object> row, string key) =>
        row.GetValueOrDefault(key) is System.Collections.IEnumerable list and not string
            ? list.Cast<object?>().Select(o => o as Dictionary<string, object>)
            : [];
}
