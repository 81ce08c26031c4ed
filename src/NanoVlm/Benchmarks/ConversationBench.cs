using System.Diagnostics;
using System.Text.Json.Nodes;
using NanoVlm.Runtime;
using SkiaSharp;

namespace NanoVlm.Benchmarks;

/// <summary>
/// One client count of the multi-turn load: conversations of <see cref="Turns"/> turns about one image (each conversation its own
/// image: a lattice of pixels changed, so a first turn never finds its image cached), several at once. Time to first token of first turns and of later turns,
/// inter-token latency (the gaps between a stream's chunks), tokens/s, and the prefix and image cache hit rates from /metrics.
/// </summary>
public sealed record ConversationBenchRow(string Caches, int Clients, int Conversations, int Turns, double FirstTurnTtftP50S, double FirstTurnTtftP99S,
    double LaterTurnTtftP50S, double LaterTurnTtftP99S, double InterTokenP50S, double InterTokenP99S, double TokensPerS, double PrefixHitRate,
    double ImageHitRate);

public static class ConversationBench
{
    /// <param name="image">The PNG or JPEG every conversation asks about (a few pixels changed per conversation).</param>
    public static IEnumerable<ConversationBenchRow> Run(Uri server, string model, string caches, IReadOnlyList<int> clientCounts, int conversations,
        int turns, int maxTokens, byte[] image, string prompt)
    {
        if (turns < 2) throw NanoVlmException.For("Turns", $"must be >= 2 for a conversation, got {turns}");
        if (conversations < 1) throw NanoVlmException.For("Conversations", $"must be >= 1, got {conversations}");
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(30) };
        var seed = 0;
        // Warm-up, of both kinds of turn: the JIT and libtorch's first allocations, on the path of a first turn and of a later one.
        Converse(http, model, Variant(image, seed++), prompt, 2, maxTokens).GetAwaiter().GetResult();
        foreach (var clients in clientCounts)
        {
            var before = Counters(http);
            var next = 0;
            var (first, later, gaps) = (new List<double>(), new List<double>(), new List<double>());
            var tokens = 0;
            var clock = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) <= conversations)
                {
                    byte[] picture;
                    lock (first) picture = Variant(image, seed++);
                    foreach (var (turn, ttft, turnGaps, n) in await Converse(http, model, picture, prompt, turns, maxTokens))
                        lock (first)
                        {
                            (turn == 0 ? first : later).Add(ttft);
                            gaps.AddRange(turnGaps);
                            tokens += n;
                        }
                }
            })).ToArray();
            Task.WaitAll(workers);
            var seconds = clock.Elapsed.TotalSeconds;
            var after = Counters(http);
            double Rate(string hits, string total) => after[total] - before[total] is var t and > 0 ? (after[hits] - before[hits]) / t : 0;
            yield return new ConversationBenchRow(caches, clients, conversations, turns, P(first, 0.5), P(first, 0.99), P(later, 0.5), P(later, 0.99),
                P(gaps, 0.5), P(gaps, 0.99), tokens / seconds,
                Rate("nanovlm_prefix_cache_hit_tokens_total", "nanovlm_prefix_cache_prompt_tokens_total"),
                Rate("nanovlm_image_cache_hits_total", "nanovlm_image_cache_tiles_total"));
        }
    }

    /// <summary>One conversation: each turn's time to first token, its inter-chunk gaps and its tokens.</summary>
    static async Task<List<(int Turn, double Ttft, IReadOnlyList<double> Gaps, int Tokens)>> Converse(HttpClient http, string model, byte[] image, string prompt,
        int turns, int maxTokens)
    {
        var messages = new JsonArray();
        var results = new List<(int, double, IReadOnlyList<double>, int)>();
        for (var turn = 0; turn < turns; turn++)
        {
            var content = new JsonArray();
            if (turn == 0)
                content.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64," + Convert.ToBase64String(image) } });
            content.Add(new JsonObject { ["type"] = "text", ["text"] = turn == 0 ? prompt : $"Tell me more, part {turn + 1}." });
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = content });
            var body = new JsonObject
            {
                ["model"] = model, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = true, ["logprobs"] = true,
                ["stream_options"] = new JsonObject { ["include_usage"] = true }, ["messages"] = messages.DeepClone(),
            }.ToJsonString();
            var answer = await ServeBench.Request(http, body);
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = answer.Text });
            results.Add((turn, answer.FirstToken, answer.Gaps, answer.Tokens));
        }
        return results;
    }

    /// <summary>The image with a few pixels changed: another image to the caches, much the same to the model.</summary>
    static byte[] Variant(byte[] image, int seed)
    {
        using var bitmap = SKBitmap.Decode(image) ?? throw new NanoVlmException("the benchmark image cannot be decoded");
        // A sparse lattice of changed pixels, so that every tile the processor cuts is new.
        for (var y = 0; y < bitmap.Height; y += 16)
            for (var x = 0; x < bitmap.Width; x += 16)
                bitmap.SetPixel(x, y, new SKColor((byte)(seed * 37), (byte)(seed * 101 >> 8), (byte)seed));
        using var frame = SKImage.FromBitmap(bitmap);
        using var encoded = frame.Encode(SKEncodedImageFormat.Png, 100);
        return encoded.ToArray();
    }

    /// <summary>/metrics with the counters a server without the caches lacks set to 0, and the image tiles looked up.</summary>
    static Dictionary<string, double> Counters(HttpClient http)
    {
        var values = ServeBench.Counters(http);
        foreach (var name in new[] { "nanovlm_prefix_cache_hit_tokens_total", "nanovlm_prefix_cache_prompt_tokens_total", "nanovlm_image_cache_hits_total", "nanovlm_image_cache_misses_total" })
            values.TryAdd(name, 0);
        values["nanovlm_image_cache_tiles_total"] = values["nanovlm_image_cache_hits_total"] + values["nanovlm_image_cache_misses_total"];
        return values;
    }

    static double P(List<double> values, double p) => ServeBench.Percentile([.. values.Order()], p);
}
