using System.CommandLine;
using NanoVlm.Benchmarks;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;
using NanoVlm.Server;
using NanoVlm.Serving;
using Spectre.Console;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
    /// <summary>Consumes the rows as they are measured: a progress line each, and a JSON line each when asked.</summary>
    static Command Serve(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var d = new ServeBenchOptions();
        var model = new Option<string?>("--model") { Description = "checkpoint folder or Hub repo id to serve in this process (or --url)" };
        var url = new Option<string?>("--url") { Description = "a running server instead (its /v1/models names the model)" };
        var clients = ListOption("--clients", string.Join(',', d.Clients), "concurrent clients, one measurement each");
        var requests = IntOption("--requests", d.Requests, "requests per measurement (after three warm-up requests)");
        var maxTokens = IntOption("--max-tokens", d.MaxTokens, "max_tokens of each greedy request");
        var maxBatch = IntOption("--max-batch", new ChatEngineOptions().MaxBatch, "the in-process server's --max-batch");
        var imageCacheMb = IntOption("--image-cache-mb", (int)(new ChatEngineOptions().ImageCacheBytes >> 20), "the in-process server's --image-cache-mb (0: every request encodes its image)");
        var image = new Option<string?>("--image") { Description = "image file sent with every request (default: text only)" };
        var prompt = new Option<string>("--prompt") { Description = "the question", DefaultValueFactory = _ => d.Prompt };
        var turns = IntOption("--turns", 1, "2 or more: a multi-turn load, conversations of this many turns about --image (each conversation its own image)");
        var conversations = IntOption("--conversations", 8, "with --turns: conversations per measurement (after one warm-up)");
        var caches = ListOption("--caches", "on,off", "with --turns and --model: the image and prefix caches on and/or off, one server each");
        var longPrompt = IntOption("--long-prompt", 0, "a long-prefill load: --clients streams of --max-tokens, and beside them a prompt of this many words");
        var prefillChunk = ListOption("--prefill-chunk", $"{new ChatEngineOptions().PrefillChunk}", "with --long-prompt and --model: the server's --prefill-chunk, one server each");
        var json = JsonOption();
        var cmd = new Command("serve", "Load test of nanovlm serve: N concurrent streaming clients; requests/s, tokens/s, p50/p95 latency and time to first token")
            { model, url, clients, requests, maxTokens, maxBatch, imageCacheMb, image, prompt, turns, conversations, caches, longPrompt, prefillChunk, json };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var threads = SetThreads(parse, threadsOption);
            var o = new ServeBenchOptions
            {
                Clients = Ints(parse.GetValue(clients)!, "--clients"), Requests = parse.GetValue(requests), MaxTokens = parse.GetValue(maxTokens),
                Prompt = parse.GetValue(prompt)!, Image = parse.GetValue(image) is { } f ? RegularFile.ReadAllBytes(f, Data.ImageLimits.Default.MaxFileBytes, "image file") : null,
            };
            if ((parse.GetValue(model) is null) == (parse.GetValue(url) is null)) throw new NanoVlmException("give --model or --url");
            if (parse.GetValue(imageCacheMb) < 0) throw new NanoVlmException($"--image-cache-mb must be >= 0, got {parse.GetValue(imageCacheMb)}");
            if (parse.GetValue(longPrompt) < 0) throw new NanoVlmException($"--long-prompt must be >= 0, got {parse.GetValue(longPrompt)}");
            if (parse.GetValue(longPrompt) > 0)
                return LongPrompt(parse, o, threads, model, url, maxBatch, parse.GetValue(longPrompt), Ints(parse.GetValue(prefillChunk)!, "--prefill-chunk"), json, deviceOption);
            if (parse.GetValue(turns) > 1)
                return Conversations(parse, o, threads, model, url, maxBatch, imageCacheMb, turns, conversations, caches, json, deviceOption, cancellation);
            using var vlm = LoadServed(parse, model, deviceOption);
            var engine = new ChatEngineOptions { MaxBatch = parse.GetValue(maxBatch), ImageCacheBytes = (long)parse.GetValue(imageCacheMb) << 20 };
            var rows = Record(PerServer(vlm, parse.GetValue(url), ["server"], _ => engine, (target, name, _) => ServeBench.Run(target, name, o), cancellation),
                parse.GetValue(json), r => $"{r.Clients} clients: {r.RequestsPerS:F2} requests/s, {r.TokensPerS:F1} tokens/s, p50 {r.LatencyP50S:F3} s");
            var table = Table($"bench serve: {parse.GetValue(model) ?? parse.GetValue(url)}, {o.Requests} requests of {o.MaxTokens} tokens"
                + $"{(o.Image is null ? "" : " with an image")}, {threads} threads",
                "clients", "requests", "failed", "requests/s", "tokens/s", "p50 s", "p95 s", "first token p50 s", "first token p95 s", "mean batch");
            foreach (var r in rows)
                table.AddRow($"{r.Clients}", $"{r.Requests}", $"{r.Failed}", $"{r.RequestsPerS:F2}", $"{r.TokensPerS:F1}", $"{r.LatencyP50S:F3}",
                    $"{r.LatencyP95S:F3}", $"{r.FirstTokenP50S:F3}", $"{r.FirstTokenP95S:F3}", $"{r.MeanBatch:F2}");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    /// <summary><c>bench serve --long-prompt W</c>: streams beside a long prefill, per chunk size (a server each), one table.</summary>
    static int LongPrompt(ParseResult parse, ServeBenchOptions o, int threads, Option<string?> model, Option<string?> url, Option<int> maxBatch, int words,
        IReadOnlyList<int> chunks, Option<string?> json, Option<string> deviceOption)
    {
        using var vlm = LoadServed(parse, model, deviceOption);
        // No prefix cache: every measurement's long prompt is prefilled (a word-level vocabulary reads any unique mark as one unknown word).
        IEnumerable<LongPromptBenchRow> Measure() => PerServer(vlm, parse.GetValue(url), vlm is null ? [-1] : chunks,
            chunk => new ChatEngineOptions { MaxBatch = parse.GetValue(maxBatch), PrefillChunk = chunk, PrefixCacheBytes = 0 },
            (target, name, chunk) => o.Clients.Select(streams => LongPromptBench.Run(target, name, chunk < 0 ? "server" : $"{chunk}", streams, o.MaxTokens, words)),
            default);
        var rows = Record(Measure(), parse.GetValue(json),
            r => $"prefill chunk {r.Setting}, {r.Streams} streams: gaps p50 {r.InterTokenP50S:F3} s, p99 {r.InterTokenP99S:F3} s");
        var table = Table($"bench serve --long-prompt {words}: {parse.GetValue(model) ?? parse.GetValue(url)}, streams of {o.MaxTokens} tokens, {threads} threads",
            "prefill chunk", "streams", "gaps", "ITL p50 s", "ITL p99 s", "p99 / p50", "largest gap s", "ITL p50 before s", "p99 / p50 before", "long prompt TTFT s");
        foreach (var r in rows)
            table.AddRow(r.Setting, $"{r.Streams}", $"{r.Gaps}", $"{r.InterTokenP50S:F3}", $"{r.InterTokenP99S:F3}", $"{r.InterTokenP99S / r.InterTokenP50S:F1}x",
                $"{r.LargestGapS:F3}", $"{r.BeforeP50S:F3}", $"{r.InterTokenP99S / r.BeforeP50S:F1}x", $"{r.LongPromptTtftS:F3}");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary><c>bench serve --turns K</c>: conversations with one image, the caches on and off (a server each), one table.</summary>
    static int Conversations(ParseResult parse, ServeBenchOptions o, int threads, Option<string?> model, Option<string?> url, Option<int> maxBatch,
        Option<int> imageCacheMb, Option<int> turns, Option<int> conversations, Option<string> caches, Option<string?> json, Option<string> deviceOption,
        CancellationToken cancellation)
    {
        var image = o.Image ?? throw new NanoVlmException("--turns needs --image: the conversations are about an image");
        var settings = parse.GetValue(url) is not null ? ["server"] : parse.GetValue(caches)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => c is "on" or "off" ? c : throw new NanoVlmException($"--caches: '{c}' is not on or off")).ToArray();
        using var vlm = LoadServed(parse, model, deviceOption);
        IEnumerable<ConversationBenchRow> Measure() => PerServer(vlm, parse.GetValue(url), settings,
            setting => setting == "on"
                ? new ChatEngineOptions { MaxBatch = parse.GetValue(maxBatch), ImageCacheBytes = (long)parse.GetValue(imageCacheMb) << 20 }
                : new ChatEngineOptions { MaxBatch = parse.GetValue(maxBatch), ImageCacheBytes = 0, PrefixCacheBytes = 0 },
            (target, name, setting) => ConversationBench.Run(target, name, setting, o.Clients, parse.GetValue(conversations), parse.GetValue(turns), o.MaxTokens, image, o.Prompt),
            cancellation);
        var rows = Record(Measure(), parse.GetValue(json),
            r => $"caches {r.Caches}, {r.Clients} clients: first turn {r.FirstTurnTtftP50S:F3} s, later turns {r.LaterTurnTtftP50S:F3} s to the first token");
        var table = Table($"bench serve --turns {parse.GetValue(turns)}: {parse.GetValue(model) ?? parse.GetValue(url)}, {parse.GetValue(conversations)} conversations of {o.MaxTokens}-token answers, {threads} threads",
            "caches", "clients", "TTFT turn 1 p50", "p99", "TTFT later p50", "p99", "later / first", "ITL p50", "ITL p99", "tokens/s", "prefix hits", "image hits");
        foreach (var r in rows)
            table.AddRow(r.Caches, $"{r.Clients}", $"{r.FirstTurnTtftP50S:F3}", $"{r.FirstTurnTtftP99S:F3}", $"{r.LaterTurnTtftP50S:F3}", $"{r.LaterTurnTtftP99S:F3}",
                $"{r.LaterTurnTtftP50S / r.FirstTurnTtftP50S:P0}", $"{r.InterTokenP50S:F3}", $"{r.InterTokenP99S:F3}", $"{r.TokensPerS:F1}", $"{r.PrefixHitRate:P0}", $"{r.ImageHitRate:P0}");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>The model of --model, loaded once and put on --device; null with --url.</summary>
    static PretrainedVlm? LoadServed(ParseResult parse, Option<string?> model, Option<string> deviceOption)
    {
        if (parse.GetValue(model) is not { } m) return null;
        var vlm = PretrainedVlm.Load(m, new ConsoleDownloadProgress());
        vlm.MoveTo(Devices.Parse(parse.GetValue(deviceOption)!));
        vlm.Model.eval();
        return vlm;
    }

    /// <summary>
    /// Rows measured for each setting against a server: an in-process one serving <paramref name="vlm"/> with that setting's engine
    /// options, started and stopped around it; or, without a model, the running server at <paramref name="url"/>. Either way the
    /// model's name is the one its /v1/models gives.
    /// </summary>
    static IEnumerable<TRow> PerServer<TSetting, TRow>(PretrainedVlm? vlm, string? url, IEnumerable<TSetting> settings,
        Func<TSetting, ChatEngineOptions> engine, Func<Uri, string, TSetting, IEnumerable<TRow>> measure, CancellationToken cancellation)
    {
        foreach (var setting in settings)
        {
            VlmServer? server = null;
            try
            {
                Uri target;
                if (vlm is not null)
                {
                    server = VlmServer.StartAsync(vlm, new ServerOptions { Port = 0, ModelId = "bench", Engine = engine(setting) }).GetAwaiter().GetResult();
                    target = server.Url;
                }
                else target = new Uri(url!.TrimEnd('/') + "/");
                string name;
                using (var http = new HttpClient { BaseAddress = target })
                    name = System.Text.Json.Nodes.JsonNode.Parse(http.GetStringAsync("v1/models", cancellation).GetAwaiter().GetResult())!["data"]![0]!["id"]!.GetValue<string>();
                foreach (var row in measure(target, name, setting)) yield return row;
            }
            finally
            {
                server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
    }
}
