using System.Diagnostics;
using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Generation.Structured;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

public sealed record JsonMaskBenchOptions
{
    /// <summary>A tokenizer folder or tokenizer.json (byte-level BPE).</summary>
    public required string Tokenizer { get; init; }
    /// <summary>A JSON schema file; null: any JSON object.</summary>
    public string? Schema { get; init; }
    /// <summary>Answers written, each token picked at random among the allowed ones.</summary>
    public int Answers { get; init; } = 4;
    /// <summary>Tokens per answer at most.</summary>
    public int MaxTokens { get; init; } = 200;
}

public sealed record JsonMaskBenchRow(string Where, int Steps, double MeanAllowed, double MedianMs, double P99Ms, int Vocabulary);

/// <summary>
/// The cost of structured output's token mask per decoding step: answers to the schema written token by token, each picked at
/// random (seeded) among the allowed tokens, the time of each step's <see cref="JsonConstraint.Cursor.Allowed"/> split by where the
/// answer stood (inside a string or elsewhere), plus the one-time vocabulary trie (the first row).
/// </summary>
public static class JsonMaskBench
{
    public static IEnumerable<JsonMaskBenchRow> Run(JsonMaskBenchOptions o)
    {
        if (o.Answers < 1) throw NanoVlmException.For("Answers", $"must be >= 1, got {o.Answers}");
        if (o.MaxTokens < 1) throw NanoVlmException.For("MaxTokens", $"must be >= 1, got {o.MaxTokens}");
        using var tokenizer = Tokenizer.Load(o.Tokenizer);
        if (!tokenizer.IsByteLevel) throw NanoVlmException.For("Tokenizer", $"{o.Tokenizer}: not a byte-level BPE tokenizer, which structured output needs");
        var schema = o.Schema is null ? JsonSchema.AnyObject : JsonSchemaReader.Read(ReadSchema(o.Schema));
        var built = Stopwatch.StartNew();
        var constraint = JsonConstraint.For(schema, tokenizer);
        constraint.Start().Allowed(o.MaxTokens);
        yield return new JsonMaskBenchRow("building the vocabulary trie", 1, 0, built.Elapsed.TotalMilliseconds, built.Elapsed.TotalMilliseconds, tokenizer.VocabSize);

        var times = new Dictionary<string, List<(double Ms, int Allowed)>> { ["inside a string"] = [], ["elsewhere"] = [] };
        var random = new Random(0);
        for (var answer = 0; answer < o.Answers; answer++)
        {
            var cursor = constraint.Start();
            for (var left = o.MaxTokens; left > 0; left--)
            {
                var where = cursor.InString ? "inside a string" : "elsewhere";
                var step = Stopwatch.StartNew();
                var allowed = cursor.Allowed(left);
                times[where].Add((step.Elapsed.TotalMilliseconds, allowed.Count));
                var token = allowed[random.Next(allowed.Count)];
                if (token == tokenizer.EosTokenId) break;
                cursor.Accept(token);
            }
        }
        foreach (var (where, steps) in times.Where(t => t.Value.Count > 0))
        {
            var sorted = steps.Select(s => s.Ms).Order().ToList();
            yield return new JsonMaskBenchRow(where, steps.Count, steps.Average(s => s.Allowed), ServeBench.Percentile(sorted, 0.5),
                ServeBench.Percentile(sorted, 0.99), tokenizer.VocabSize);
        }
    }

    static JsonElement ReadSchema(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(RegularFile.ReadAllText(path, RegularFile.MaxConfigBytes, "schema"));
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new NanoVlmException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})");
        }
    }
}
