using System.Text.Encodings.Web;
using System.Text.Json;

namespace NanoVlm.Generation.Structured;

/// <summary>
/// The shape a structured answer must have: what <see cref="JsonSchemaReader"/> makes of a JSON schema, or any JSON object
/// (OpenAI's <c>json_object</c>). Answers are written compactly (no whitespace but one optional space after <c>:</c> and <c>,</c>),
/// an object's properties in the schema's order.
/// </summary>
public abstract class JsonSchema
{
    /// <summary>Any JSON value (the values of a <see cref="AnyObject"/>).</summary>
    public static JsonSchema Any { get; } = new JsonAnySchema();

    /// <summary>Any JSON object: OpenAI's <c>{"type": "json_object"}</c>.</summary>
    public static JsonSchema AnyObject { get; } = new JsonObjectSchema(null);

    /// <summary>The fewest bytes a value of this shape takes.</summary>
    public abstract int MinBytes { get; }

    /// <summary>Whether a value of this shape may begin with <paramref name="b"/>.</summary>
    public abstract bool Starts(byte b);

    /// <summary>A value as the answer writes it: compact JSON, UTF-8, non-ASCII characters as they are.</summary>
    internal static byte[] Compact(JsonElement value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) value.WriteTo(writer);
        return buffer.ToArray();
    }

    internal static byte[] Compact(string text) => Compact(JsonSerializer.SerializeToElement(text));

    internal static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
}

/// <summary>Any JSON value: an object (any keys), an array, a string, a number, true, false or null.</summary>
public sealed class JsonAnySchema : JsonSchema
{
    internal JsonAnySchema() { }
    internal static JsonArraySchema AnyArray { get; } = new(Any, 0, int.MaxValue);
    internal static JsonStringSchema AnyString { get; } = new(0, int.MaxValue);
    internal static JsonLiteralSchema Words { get; } = new(["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()]);
    public override int MinBytes => 1;
    public override bool Starts(byte b) => Concrete(b) is not null;

    /// <summary>The shape a value beginning with <paramref name="b"/> has.</summary>
    internal static JsonSchema? Concrete(byte b) => b switch
    {
        (byte)'{' => AnyObject,
        (byte)'[' => AnyArray,
        (byte)'"' => AnyString,
        (byte)'-' => JsonNumberSchema.Number,
        _ when IsDigit(b) => JsonNumberSchema.Number,
        _ when Words.Starts(b) => Words,
        _ => null,
    };
}

/// <summary>A property of an object: its key as written (quoted), its value's shape, whether it must be there.</summary>
public sealed record JsonPropertySchema(string Name, JsonSchema Value, bool Required)
{
    internal byte[] Key { get; } = JsonSchema.Compact(Name);
}

/// <summary>
/// An object with the given properties, written in this order (optional ones may be left out), no others; or, with
/// <paramref name="properties"/> null, an object with any keys and values.
/// </summary>
public sealed class JsonObjectSchema : JsonSchema
{
    readonly int[] _requiredBytes, _requiredCount;

    public JsonObjectSchema(IReadOnlyList<JsonPropertySchema>? properties)
    {
        Properties = properties;
        var count = properties?.Count ?? 0;
        (_requiredBytes, _requiredCount) = (new int[count + 1], new int[count + 1]);
        for (var i = count - 1; i >= 0; i--)
        {
            var p = properties![i];
            _requiredBytes[i] = _requiredBytes[i + 1] + (p.Required ? p.Key.Length + 1 + p.Value.MinBytes : 0);
            _requiredCount[i] = _requiredCount[i + 1] + (p.Required ? 1 : 0);
        }
    }

    /// <summary>Null: any keys.</summary>
    public IReadOnlyList<JsonPropertySchema>? Properties { get; }
    public override int MinBytes => 2 + Rest(0, false);
    public override bool Starts(byte b) => b == '{';

    /// <summary>Bytes the required properties from index <paramref name="from"/> on take (with their commas; one leads if a property came before).</summary>
    internal int Rest(int from, bool afterProperty) =>
        _requiredBytes[from] + (afterProperty ? _requiredCount[from] : Math.Max(0, _requiredCount[from] - 1));

    internal bool RequiresFrom(int from) => _requiredCount[from] > 0;

    /// <summary>The properties that may come next after those before <paramref name="from"/>: up to the first required one.</summary>
    internal IEnumerable<int> Candidates(int from)
    {
        for (var i = from; i < Properties!.Count; i++)
        {
            yield return i;
            if (Properties[i].Required) yield break;
        }
    }
}

/// <summary>An array of <paramref name="Items"/>, with <paramref name="MinItems"/> to <paramref name="MaxItems"/> of them.</summary>
public sealed class JsonArraySchema(JsonSchema items, int minItems, int maxItems) : JsonSchema
{
    public JsonSchema Items { get; } = items;
    public int MinItems { get; } = minItems;
    public int MaxItems { get; } = maxItems;
    public override int MinBytes => 2 + MinItems * Items.MinBytes + Math.Max(0, MinItems - 1);
    public override bool Starts(byte b) => b == '[';
}

/// <summary>A string of <paramref name="minLength"/> to <paramref name="maxLength"/> characters (code points, as JSON schema counts them).</summary>
public sealed class JsonStringSchema(int minLength, int maxLength) : JsonSchema
{
    public int MinLength { get; } = minLength;
    public int MaxLength { get; } = maxLength;
    public override int MinBytes => 2 + MinLength;
    public override bool Starts(byte b) => b == '"';
}

/// <summary>A number, or an integer (no fraction, no exponent).</summary>
public sealed class JsonNumberSchema(bool integer) : JsonSchema
{
    public static JsonNumberSchema Number { get; } = new(false);
    public static JsonNumberSchema Integer { get; } = new(true);
    public bool IsInteger { get; } = integer;
    public override int MinBytes => 1;
    public override bool Starts(byte b) => b == '-' || IsDigit(b);
}

/// <summary>One of fixed values, as compact JSON: true/false, null, an <c>enum</c> or a <c>const</c>.</summary>
public sealed class JsonLiteralSchema(IReadOnlyList<byte[]> values) : JsonSchema
{
    public IReadOnlyList<byte[]> Values { get; } = values;
    public override int MinBytes => Values.Min(v => v.Length);
    public override bool Starts(byte b) => Values.Any(v => v[0] == b);
}

/// <summary>One of several shapes that begin differently (a <c>type</c> list such as <c>["string", "null"]</c>).</summary>
public sealed class JsonUnionSchema(IReadOnlyList<JsonSchema> members) : JsonSchema
{
    public IReadOnlyList<JsonSchema> Members { get; } = members;
    public override int MinBytes => Members.Min(m => m.MinBytes);
    public override bool Starts(byte b) => Members.Any(m => m.Starts(b));
}
