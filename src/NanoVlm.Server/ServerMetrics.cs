using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using NanoVlm.Serving;

namespace NanoVlm.Server;

/// <summary>What <c>GET /metrics</c> reports, in Prometheus's text format: requests by status, tokens, the queue and the batch, latencies.</summary>
sealed class ServerMetrics(ChatEngine engine)
{
    static readonly double[] Seconds = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    readonly ConcurrentDictionary<int, long> _requests = new();
    readonly PrometheusHistogram _latency = new("nanovlm_request_duration_seconds", "Time from a request's arrival to its last byte.", Seconds);
    readonly PrometheusHistogram _firstToken = new("nanovlm_time_to_first_token_seconds", "Time from a request's arrival to its first token.", Seconds);
    readonly PrometheusHistogram _queueWait = new("nanovlm_queue_wait_seconds", "Time a request waited in the queue before the engine took it.", Seconds);
    readonly PrometheusHistogram _interToken = new("nanovlm_inter_token_seconds", "Time between two consecutive tokens of an answer.",
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
    long _promptTokens, _completionTokens;

    public void Record(int status, TimeSpan elapsed, ChatJob? job)
    {
        _requests.AddOrUpdate(status, 1, (_, n) => n + 1);
        _latency.Observe(elapsed.TotalSeconds);
        if (job is null) return;
        Interlocked.Add(ref _promptTokens, job.PromptTokens);
        Interlocked.Add(ref _completionTokens, job.CompletionTokens);
        if (job.TimeToFirstToken is { } ttft) _firstToken.Observe(ttft.TotalSeconds);
        if (job.QueueWait is { } wait) _queueWait.Observe(wait.TotalSeconds);
        foreach (var gap in job.InterTokenSeconds) _interToken.Observe(gap);
    }

    public string Text()
    {
        var text = new StringBuilder();
        text.Append("# HELP nanovlm_requests_total Chat completion requests by HTTP status.\n# TYPE nanovlm_requests_total counter\n");
        foreach (var (status, count) in _requests.OrderBy(r => r.Key)) text.Append($"nanovlm_requests_total{{status=\"{status}\"}} {count}\n");
        Counter(text, "nanovlm_prompt_tokens_total", "Prompt tokens of answered requests.", Interlocked.Read(ref _promptTokens));
        Counter(text, "nanovlm_completion_tokens_total", "Tokens generated.", Interlocked.Read(ref _completionTokens));
        Gauge(text, "nanovlm_queue_length", "Requests waiting for a place in the batch.", engine.QueueLength);
        Gauge(text, "nanovlm_batch_size", "Answers decoding together now.", engine.BatchSize);
        var (steps, rows) = engine.Decoded;
        Counter(text, "nanovlm_decode_steps_total", "Decoding steps (one token for every row of the batch).", steps);
        Counter(text, "nanovlm_decode_rows_total", "Rows over all decoding steps (divided by the steps: the mean batch size).", rows);
        var (parts, prefilled) = engine.Prefilled;
        Counter(text, "nanovlm_prefill_parts_total", "Prefill forwards (a whole prompt, or a part of a long one between decoding steps).", parts);
        Counter(text, "nanovlm_prefill_tokens_total", "Prompt positions prefilled (those from the prefix cache are not).", prefilled);
        if (engine.ImageCache is { } images)
        {
            Counter(text, "nanovlm_image_cache_hits_total", "Image tiles whose encoding came from the image cache.", images.Hits);
            Counter(text, "nanovlm_image_cache_misses_total", "Image tiles encoded by the vision encoder.", images.Misses);
            Gauge(text, "nanovlm_image_cache_bytes", "Bytes of image encodings kept.", images.Bytes);
        }
        if (engine.Prefixes is { } prefixes)
        {
            Counter(text, "nanovlm_prefix_cache_hit_tokens_total", "Prompt tokens taken from the prefix cache instead of prefilled.", prefixes.HitTokens);
            Counter(text, "nanovlm_prefix_cache_prompt_tokens_total", "Prompt tokens looked up in the prefix cache.", prefixes.PromptTokens);
            Gauge(text, "nanovlm_prefix_cache_bytes", "Bytes of KV caches kept for later prompts.", prefixes.Bytes);
        }
        _latency.WriteTo(text);
        _firstToken.WriteTo(text);
        _queueWait.WriteTo(text);
        _interToken.WriteTo(text);
        return text.ToString();
    }

    static void Counter(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    static void Gauge(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
}
