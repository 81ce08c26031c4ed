using System.Net;
using OpenAI.Chat;

namespace NanoVlm.Tests.Serving;

/// <summary>One log line per request, /health and Prometheus /metrics.</summary>
[Collection(nameof(ServedModel))]
public class ObservabilityTests(ServedModel served)
{
    [Fact]
    public async Task Each_request_logs_one_line_with_its_id_tokens_and_speed()
    {
        ChatCompletion answer = await served.Chat().CompleteChatAsync([new UserChatMessage("hello")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 5 });
        await HostileRequestTests.Until(() => served.Log.Any(l => l.StartsWith(answer.Id, StringComparison.Ordinal)), "the log line");
        var line = Assert.Single(served.Log, l => l.StartsWith(answer.Id, StringComparison.Ordinal));
        Assert.Matches($@"^{answer.Id} 200 tokens in {answer.Usage.InputTokenCount} out 5, first token \d+ ms, [\d.]+ tokens/s, [\d.]+ s$", line);
    }

    [Fact]
    public async Task Health_and_metrics_answer()
    {
        using var http = served.Http();
        await served.Chat().CompleteChatAsync([new UserChatMessage("hello")], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 3 });
        var health = await http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"status\":\"ok\"", await health.Content.ReadAsStringAsync());

        var metrics = await http.GetAsync("metrics");
        Assert.StartsWith("text/plain", metrics.Content.Headers.ContentType!.ToString());
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Matches(@"nanovlm_requests_total\{status=""200""\} [1-9]", text);
        foreach (var name in new[]
                 {
                     "nanovlm_prompt_tokens_total", "nanovlm_completion_tokens_total", "nanovlm_queue_length 0", "nanovlm_batch_size",
                     "nanovlm_decode_steps_total", "nanovlm_decode_rows_total", "nanovlm_request_duration_seconds_bucket{le=\"+Inf\"}",
                     "nanovlm_request_duration_seconds_count", "nanovlm_time_to_first_token_seconds_sum",
                     "nanovlm_queue_wait_seconds_count", "nanovlm_inter_token_seconds_bucket{le=\"0.001\"}", "nanovlm_image_cache_hits_total",
                     "nanovlm_prefix_cache_hit_tokens_total", "nanovlm_prefix_cache_bytes",
                 })
            Assert.Contains(name, text);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Matches(@"^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [\d.eE+-]+)$", l));
        // Three tokens give two gaps (other requests of this server may have added theirs).
        Assert.Matches(@"nanovlm_inter_token_seconds_count ([2-9]|[1-9]\d+)\n", text);
    }
}
