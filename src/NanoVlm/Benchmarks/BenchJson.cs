using System.Text.Json;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>Benchmark rows as JSON Lines with snake_case field names (<c>batch_size</c>, <c>step_s</c>, ...).</summary>
public static class BenchJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Line<T>(T row) => JsonSerializer.Serialize(row, Options);

    public static T Parse<T>(string line) =>
        JsonSerializer.Deserialize<T>(line, Options) ?? throw new NanoVlmException($"not a benchmark row: {line}");
}
