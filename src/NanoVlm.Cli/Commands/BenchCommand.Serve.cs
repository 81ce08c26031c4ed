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
        var json = JsonOption();
        var cmd = new Command("serve", "Load test of nanovlm serve: N concurrent streaming clients; requests/s, tokens/s, p50/p95 latency and time to first token")
            { model, url, clients, requests, maxTokens, maxBatch, imageCacheMb, image, prompt, json };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var threads = SetThreads(parse, threadsOption);
            var o = new ServeBenchOptions
            {
                Clients = Ints(parse.GetValue(clients)!, "--clients"), Requests = parse.GetValue(requests), MaxTokens = parse.GetValue(maxTokens),
                Prompt = parse.GetValue(prompt)!, Image = parse.GetValue(image) is { } f ? RegularFile.ReadAllBytes(f, Data.ImageLimits.Default.MaxFileBytes, "image file") : null,
            };
            if ((parse.GetValue(model) is null) == (parse.GetValue(url) is null)) throw new NanoVlmException("give --model or --url");
            PretrainedVlm? vlm = null;
            VlmServer? server = null;
            try
            {
                Uri target;
                string name;
                if (parse.GetValue(model) is { } m)
                {
                    vlm = PretrainedVlm.Load(m, new ConsoleDownloadProgress());
                    vlm.MoveTo(Devices.Parse(parse.GetValue(deviceOption)!));
                    vlm.Model.eval();
                    server = await VlmServer.StartAsync(vlm, new ServerOptions
                    {
                        Port = 0, ModelId = "bench",
                        Engine = new ChatEngineOptions { MaxBatch = parse.GetValue(maxBatch), ImageCacheBytes = (long)parse.GetValue(imageCacheMb) << 20 },
                    });
                    (target, name) = (server.Url, "bench");
                }
                else
                {
                    target = new Uri(parse.GetValue(url)!.TrimEnd('/') + "/");
                    using var http = new HttpClient { BaseAddress = target };
                    name = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("v1/models", cancellation))!["data"]![0]!["id"]!.GetValue<string>();
                }
                var rows = Record(ServeBench.Run(target, name, o), parse.GetValue(json), r =>
                    $"{r.Clients} clients: {r.RequestsPerS:F2} requests/s, {r.TokensPerS:F1} tokens/s, p50 {r.LatencyP50S:F3} s");
                var table = Table($"bench serve: {parse.GetValue(model) ?? target.ToString()}, {o.Requests} requests of {o.MaxTokens} tokens"
                    + $"{(o.Image is null ? "" : " with an image")}, {threads} threads",
                    "clients", "requests", "failed", "requests/s", "tokens/s", "p50 s", "p95 s", "first token p50 s", "first token p95 s", "mean batch");
                foreach (var r in rows)
                    table.AddRow($"{r.Clients}", $"{r.Requests}", $"{r.Failed}", $"{r.RequestsPerS:F2}", $"{r.TokensPerS:F1}", $"{r.LatencyP50S:F3}",
                        $"{r.LatencyP95S:F3}", $"{r.FirstTokenP50S:F3}", $"{r.FirstTokenP95S:F3}", $"{r.MeanBatch:F2}");
                AnsiConsole.Write(table);
                return 0;
            }
            finally
            {
                if (server is not null) await server.DisposeAsync();
                vlm?.Dispose();
            }
        });
        return cmd;
    }
}
