using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>
/// A load test of a running server: N concurrent clients send streaming greedy requests until M are answered; each request's latency
/// and time to its first token are timed, tokens counted from the usage chunk, and the mean batch read from /metrics.
/// </summary>
public static class ServeBench
{
    public static IEnumerable<ServeBenchRow> Run(Uri server, string model, ServeBenchOptions options)
    {
        if (options.Requests < 1) throw new NanoVlmException($"requests must be >= 1, got {options.Requests}");
        if (options.MaxTokens < 1) throw new NanoVlmException($"max tokens must be >= 1, got {options.MaxTokens}");
        if (options.Clients.Any(c => c < 1)) throw new NanoVlmException("client counts must be >= 1");
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(10) };
        var body = Body(model, options);
        for (var i = 0; i < 3; i++) Request(http, body).GetAwaiter().GetResult(); // warm-up: the JIT, libtorch's first allocations
        foreach (var clients in options.Clients) yield return Measure(http, body, clients, options.Requests);
    }

    static ServeBenchRow Measure(HttpClient http, string body, int clients, int requests)
    {
        var (steps, rows) = Decoded(http);
        var next = 0;
        var results = new List<StreamedAnswer>();
        var failed = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= requests)
            {
                try
                {
                    var result = await Request(http, body);
                    lock (results) results.Add(result);
                }
                catch (Exception e) when (e is HttpRequestException or NanoVlmException or IOException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })).ToArray();
        Task.WaitAll(workers);
        var seconds = clock.Elapsed.TotalSeconds;
        var (steps2, rows2) = Decoded(http);
        var latency = results.Select(r => r.Latency).Order().ToList();
        var firstToken = results.Select(r => r.FirstToken).Order().ToList();
        return new ServeBenchRow(clients, results.Count, failed, seconds, results.Count / seconds, results.Sum(r => r.Tokens) / seconds,
            Percentile(latency, 0.5), Percentile(latency, 0.95), Percentile(firstToken, 0.5), Percentile(firstToken, 0.95),
            steps2 > steps ? (double)(rows2 - rows) / (steps2 - steps) : 0);
    }

    /// <summary>
    /// One streamed chat request (its usage asked for): seconds to the end and to the first chunk with a token, the gaps between the
    /// chunks with a token, the completion tokens and the answer's text. A chunk has a token when it has text, or, where the body asks
    /// for log-probabilities, a token's log-probability (a token that shows no text, as a random model's special tokens, still counts).
    /// <paramref name="onChunk"/> hears the count of chunks with a token so far.
    /// </summary>
    internal static async Task<StreamedAnswer> Request(HttpClient http, string body, Action<int>? onChunk = null)
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
            throw new NanoVlmException($"the server answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var answer = new StringBuilder();
        var gaps = new List<double>();
        double? firstToken = null, last = null;
        var tokens = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            var chunk = JsonNode.Parse(line[6..])!;
            if (chunk["usage"] is JsonObject usage) tokens = usage["completion_tokens"]!.GetValue<int>();
            else if (chunk["choices"]?[0] is { } choice && choice["delta"]?["content"]?.GetValue<string>() is var text
                && (text is { Length: > 0 } || choice["logprobs"]?["content"] is JsonArray { Count: > 0 }))
            {
                var now = clock.Elapsed.TotalSeconds;
                firstToken ??= now;
                if (last is { } previous) gaps.Add(now - previous);
                last = now;
                answer.Append(text);
                onChunk?.Invoke(gaps.Count + 1);
            }
        }
        return new StreamedAnswer(clock.Elapsed.TotalSeconds, firstToken ?? clock.Elapsed.TotalSeconds, gaps, tokens, answer.ToString());
    }

    static string Body(string model, ServeBenchOptions o)
    {
        var content = new JsonArray();
        if (o.Image is not null)
            content.Add(new JsonObject
            {
                ["type"] = "image_url",
                ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64," + Convert.ToBase64String(o.Image) },
            });
        content.Add(new JsonObject { ["type"] = "text", ["text"] = o.Prompt });
        return new JsonObject
        {
            ["model"] = model, ["max_tokens"] = o.MaxTokens, ["temperature"] = 0, ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        }.ToJsonString();
    }

    /// <summary>The decode step and row counters from /metrics.</summary>
    static (long Steps, long Rows) Decoded(HttpClient http)
    {
        var counters = Counters(http);
        return ((long)counters.GetValueOrDefault("nanovlm_decode_steps_total"), (long)counters.GetValueOrDefault("nanovlm_decode_rows_total"));
    }

    /// <summary>The server's unlabelled /metrics values by name.</summary>
    internal static Dictionary<string, double> Counters(HttpClient http) =>
        http.GetStringAsync("metrics").GetAwaiter().GetResult().Split('\n')
            .Where(l => l.StartsWith("nanovlm_", StringComparison.Ordinal) && !l.Contains('{')).Select(l => l.Split(' ')).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));

    internal static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

/// <summary>One streamed answer as a load test times it.</summary>
internal sealed record StreamedAnswer(double Latency, double FirstToken, IReadOnlyList<double> Gaps, int Tokens, string Text);
