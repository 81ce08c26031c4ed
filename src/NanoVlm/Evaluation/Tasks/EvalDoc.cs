using System.Collections;
using System.Text.Json.Nodes;
using NanoVlm.Data;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>One document of a benchmark: its row of the task's dataset (column -> value) and its <c>doc_id</c>, the row's index.</summary>
public sealed record EvalDoc(int Id, IReadOnlyDictionary<string, object?> Row, string Source)
{
    public string Text(string column) => Row.GetValueOrDefault(column) switch
    {
        string s => s,
        ReadOnlyMemory<char> m => m.ToString(),
        null => throw Bad(column, "is empty"),
        var other => Convert.ToString(other, System.Globalization.CultureInfo.InvariantCulture)!,
    };

    public string? TextOrNull(string column) => Row.GetValueOrDefault(column) is null ? null : Text(column);

    public long Integer(string column) => Row.GetValueOrDefault(column) switch
    {
        long l => l,
        int i => i,
        string s when long.TryParse(s, out var v) => v,
        var other => throw Bad(column, $"is not an integer ({other ?? "null"})"),
    };

    public IReadOnlyList<string> Texts(string column) => Row.GetValueOrDefault(column) switch
    {
        string s => [s],
        IEnumerable list => list.Cast<object?>().Select(o => o switch
        {
            string s => s,
            ReadOnlyMemory<char> m => m.ToString(),
            _ => throw Bad(column, "holds a non-text item"),
        }).ToList(),
        var other => throw Bad(column, $"is not a list of texts ({other ?? "null"})"),
    };

    /// <summary>The encoded bytes of an image column (a Hugging Face Image: {bytes, path}); null when the row has no image there.</summary>
    public byte[]? ImageBytes(string column) => Row.GetValueOrDefault(column) switch
    {
        null => null,
        IDictionary<string, object> image => image.TryGetValue("bytes", out var b) ? b switch
        {
            byte[] bytes => bytes,
            ReadOnlyMemory<byte> m => m.ToArray(),
            _ => null,
        } : null,
        byte[] bytes => bytes,
        _ => throw Bad(column, "is not an image"),
    };

    public VqaImage Image(string column) =>
        VqaImage.FromBytes(ImageBytes(column) ?? throw Bad(column, "has no image bytes"), $"{Source} column '{column}'");

    /// <summary>A column's value as JSON (texts, numbers, booleans and lists of them); null for images and other binary values.</summary>
    public JsonNode? Json(string column) => ToJson(Row.GetValueOrDefault(column));

    static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        ReadOnlyMemory<char> m => JsonValue.Create(m.ToString()),
        bool b => JsonValue.Create(b),
        long or int or short or sbyte or byte or ulong or uint or ushort => JsonValue.Create(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
        double or float or decimal => JsonValue.Create(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
        byte[] or ReadOnlyMemory<byte> => null,
        IDictionary<string, object> d when d.ContainsKey("bytes") => null,
        IDictionary<string, object> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value)))),
        IEnumerable list => new JsonArray([.. list.Cast<object?>().Select(ToJson)]),
        _ => JsonValue.Create(value.ToString()),
    };

    /// <summary>The row without its images, as the samples log keeps a document.</summary>
    public JsonObject ToJson() => new(Row.Where(kv => ToJson(kv.Value) is not null || kv.Value is null)
        .Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value))));

    NanoVlmException Bad(string column, string what) => new($"{Source}: column '{column}' {what}");
}
