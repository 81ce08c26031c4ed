using System.Text.Json;
using NanoVlm.Runtime;

namespace NanoVlm.Generation.Structured;

/// <summary>
/// Reads the JSON schemas structured output can enforce: <c>type</c> (object, array, string, number, integer, boolean, null, or a
/// list of them), <c>properties</c>, <c>required</c>, <c>additionalProperties</c> (no other property is ever written), <c>items</c>,
/// <c>minItems</c>, <c>maxItems</c>, <c>minLength</c>, <c>maxLength</c>, <c>enum</c>, <c>const</c>, nested to any depth up to
/// <see cref="MaxDepth"/>; annotations (<c>title</c>, <c>description</c>, ...) are ignored. Any other keyword is refused by name.
/// </summary>
public static class JsonSchemaReader
{
    public const int MaxDepth = 32;
    const int MaxCount = 1 << 16;
    /// <summary>The longest shortest answer a schema may ask for (it also keeps the byte counts far from overflowing).</summary>
    public const int MaxMinBytes = 1 << 20;
    const string Parameter = "ResponseFormat";

    static readonly HashSet<string> Annotations = ["title", "description", "$schema", "$id", "$comment", "default", "examples"];
    static readonly HashSet<string> Keywords =
        ["type", "enum", "const", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength"];
    static readonly string[] Types = ["object", "array", "string", "number", "integer", "boolean", "null"];

    /// <summary>The shape <paramref name="schema"/> describes; a schema it cannot enforce is an error naming the keyword and where it is.</summary>
    public static JsonSchema Read(JsonElement schema) => Read(schema, "schema", 0);

    static JsonSchema Read(JsonElement schema, string at, int depth)
    {
        if (depth > MaxDepth) throw Error($"nests deeper than {MaxDepth} levels (at {at})");
        if (schema.ValueKind == JsonValueKind.True) return JsonSchema.Any;
        if (schema.ValueKind != JsonValueKind.Object) throw Error($"must be a JSON schema object (at {at})");
        foreach (var keyword in schema.EnumerateObject().Select(p => p.Name))
            if (!Keywords.Contains(keyword) && !Annotations.Contains(keyword))
                throw Error($"uses the JSON schema keyword '{keyword}', which structured output does not support (at {at})");

        if (schema.TryGetProperty("const", out var constant)) return new JsonLiteralSchema([JsonSchema.Compact(constant)]);
        if (schema.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0) throw Error($"'enum' must be a non-empty array (at {at})");
            var literals = values.EnumerateArray().Select(JsonSchema.Compact).DistinctBy(Convert.ToBase64String).ToList();
            return new JsonLiteralSchema(literals);
        }

        var types = TypeNames(schema, at);
        if (types.Contains("number")) types.Remove("integer");
        var members = types.Select(type => Typed(type, schema, at, depth)).ToList();
        return members.Count == 1 ? members[0] : new JsonUnionSchema(members);
    }

    static List<string> TypeNames(JsonElement schema, string at)
    {
        if (!schema.TryGetProperty("type", out var type))
            return [schema.TryGetProperty("properties", out _) ? "object" : schema.TryGetProperty("items", out _) ? "array" : "any"];
        var names = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array when type.GetArrayLength() > 0 && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                type.EnumerateArray().Select(t => t.GetString()!).Distinct().ToList(),
            _ => throw Error($"'type' must be a type name or a non-empty list of them (at {at})"),
        };
        foreach (var name in names.Where(n => !Types.Contains(n)))
            throw Error($"has the unknown type '{name}' (at {at}; use {string.Join(", ", Types)})");
        return names;
    }

    static JsonSchema Typed(string type, JsonElement schema, string at, int depth) => type switch
    {
        "any" => JsonSchema.Any,
        "object" => Object(schema, at, depth),
        "array" => Array(schema, at, depth),
        "string" => new JsonStringSchema(Count(schema, "minLength", at) ?? 0, Count(schema, "maxLength", at) ?? int.MaxValue) is var text
            && text.MinLength > text.MaxLength ? throw Error($"has minLength {text.MinLength} > maxLength {text.MaxLength} (at {at})") : text,
        "number" => JsonNumberSchema.Number,
        "integer" => JsonNumberSchema.Integer,
        "boolean" => new JsonLiteralSchema(["true"u8.ToArray(), "false"u8.ToArray()]),
        _ => new JsonLiteralSchema(["null"u8.ToArray()]),
    };

    static JsonArraySchema Array(JsonElement schema, string at, int depth)
    {
        var items = schema.TryGetProperty("items", out var itemSchema) ? Read(itemSchema, $"{at}.items", depth + 1) : JsonSchema.Any;
        var (min, max) = (Count(schema, "minItems", at) ?? 0, Count(schema, "maxItems", at) ?? int.MaxValue);
        if (min > max) throw Error($"has minItems {min} > maxItems {max} (at {at})");
        Bounded((long)min * (items.MinBytes + 1), at);
        return new JsonArraySchema(items, min, max);
    }

    static void Bounded(long minBytes, string at)
    {
        if (minBytes > MaxMinBytes) throw Error($"asks for an answer of at least {minBytes} bytes, more than {MaxMinBytes} (at {at})");
    }

    static JsonObjectSchema Object(JsonElement schema, string at, int depth)
    {
        if (!schema.TryGetProperty("properties", out var properties)) return (JsonObjectSchema)JsonSchema.AnyObject;
        if (properties.ValueKind != JsonValueKind.Object) throw Error($"'properties' must be an object (at {at})");
        var required = new HashSet<string>();
        if (schema.TryGetProperty("required", out var names))
        {
            if (names.ValueKind != JsonValueKind.Array || names.EnumerateArray().Any(n => n.ValueKind != JsonValueKind.String))
                throw Error($"'required' must be an array of property names (at {at})");
            required = names.EnumerateArray().Select(n => n.GetString()!).ToHashSet();
            foreach (var name in required.Where(n => !properties.TryGetProperty(n, out _)))
                throw Error($"requires '{name}', which is not among its properties (at {at})");
        }
        var read = properties.EnumerateObject()
            .Select(p => new JsonPropertySchema(p.Name, Read(p.Value, $"{at}.properties.{p.Name}", depth + 1), required.Contains(p.Name))).ToList();
        Bounded(read.Where(p => p.Required).Sum(p => (long)p.Key.Length + 2 + p.Value.MinBytes), at);
        return new JsonObjectSchema(read);
    }

    static int? Count(JsonElement schema, string keyword, string at)
    {
        if (!schema.TryGetProperty(keyword, out var value)) return null;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n is >= 0 and <= MaxCount
            ? n
            : throw Error($"'{keyword}' must be an integer between 0 and {MaxCount} (at {at})");
    }

    static NanoVlmException Error(string problem) => NanoVlmException.For(Parameter, problem);
}
