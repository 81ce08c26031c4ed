using System.Text.Json.Nodes;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>
/// Running streams beside a long prefill: their inter-token latency (the gaps between a stream's tokens, p50, p99 and the largest)
/// over their whole answers, during which another request sends a long prompt (a new one each time: the prefix cache has none of
/// it); the streams' median gap before it came; and that request's time to its first token.
/// </summary>
public sealed record LongPromptBenchRow(string Setting, int Streams, int PromptWords, double InterTokenP50S, double InterTokenP99S, double LargestGapS,
    double BeforeP50S, double LongPromptTtftS, int Gaps);

public static class LongPromptBench
{
    /// <param name="words">The long prompt's length in words (one token or a few each).</param>
    /// <param name="after">Chunks each stream receives before the long prompt is sent.</param>
    public static LongPromptBenchRow Run(Uri server, string model, string setting, int streams, int maxTokens, int words, int after = 8)
    {
        if (streams < 1) throw NanoVlmException.For("Streams", $"must be >= 1, got {streams}");
        if (words < 1) throw NanoVlmException.For("PromptWords", $"must be >= 1, got {words}");
        if (maxTokens <= after) throw NanoVlmException.For("MaxTokens", $"must be more than the {after} tokens the streams get before the long prompt, got {maxTokens}");
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(30) };
        string Body(string prompt, int tokens, bool sample) => new JsonObject
        {
            ["model"] = model, ["max_tokens"] = tokens, ["stream"] = true, ["stream_options"] = new JsonObject { ["include_usage"] = true },
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
            // Sampled, so that an untrained model's stream does not end at once; seeded, so that runs compare.
            ["temperature"] = sample ? 1.0 : 0.0, ["seed"] = 1,
            // Every token's chunk carries its log-probability, so that each token counts, also one that shows no text.
            ["logprobs"] = true,
        }.ToJsonString();
        ServeBench.Request(http, Body("Warm up.", 4, false)).GetAwaiter().GetResult();
        var longPrompt = $"{Guid.NewGuid():N} " + string.Join(' ', Enumerable.Range(0, words).Select(i => Words[i % Words.Length]));
        var started = new CountdownEvent(streams);
        var running = Enumerable.Range(0, streams).Select(i => Task.Run(async () =>
        {
            var signalled = false;
            void Chunk(int chunks)
            {
                if (chunks != after) return;
                signalled = true;
                started.Signal();
            }
            var answer = await ServeBench.Request(http, Body($"Tell a long story, number {i}.", maxTokens, true), Chunk);
            if (!signalled) started.Signal(); // it ended sooner
            return answer;
        })).ToArray();
        if (!started.Wait(TimeSpan.FromMinutes(10))) throw new NanoVlmException($"the streams did not reach {after} chunks within 10 minutes");
        var longRequest = ServeBench.Request(http, Body(longPrompt, 4, false)).GetAwaiter().GetResult();
        var answers = Task.WhenAll(running).GetAwaiter().GetResult();
        var gaps = answers.SelectMany(r => r.Gaps).Order().ToList();
        var before = answers.SelectMany(r => r.Gaps.Take(after - 1)).Order().ToList();
        return new LongPromptBenchRow(setting, streams, words, ServeBench.Percentile(gaps, 0.5), ServeBench.Percentile(gaps, 0.99),
            gaps.Count == 0 ? 0 : gaps[^1], ServeBench.Percentile(before, 0.5), longRequest.FirstToken, gaps.Count);
    }

    static readonly string[] Words = "the quick brown fox jumps over a lazy dog while seven small birds sing near an old stone bridge".Split(' ');
}
