using TorchSharp;
using System.CommandLine;
using NanoVlm.Server;
using NanoVlm.Serving;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm serve</c>: an OpenAI-compatible API and a chat page over a model, until Ctrl+C.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var d = new ServerOptions();
        var model = new Option<string>("--model") { Description = "checkpoint folder or Hub repo id", Required = true };
        var adapter = AdapterOption.Create();
        var name = new Option<string?>("--served-name") { Description = "the model's name in the API (default: the --model value)" };
        var host = new Option<string>("--host") { Description = "address to listen on", DefaultValueFactory = _ => d.Host };
        var port = new Option<int>("--port") { Description = "port (0: any free port)", DefaultValueFactory = _ => d.Port };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto", DefaultValueFactory = _ => "auto" };
        var maxBatch = new Option<int>("--max-batch") { Description = "answers decoded together", DefaultValueFactory = _ => d.Engine.MaxBatch };
        var maxQueue = new Option<int>("--max-queue") { Description = "requests waiting before 503", DefaultValueFactory = _ => d.Engine.MaxQueue };
        var imageCacheMb = new Option<int>("--image-cache-mb")
        {
            Description = "MiB of image encodings kept, so a conversation that sends its image again is not encoded again (0: none)",
            DefaultValueFactory = _ => (int)(d.Engine.ImageCacheBytes >> 20),
        };
        var cacheGb = new Option<double>("--cache-gb")
        {
            Description = "GiB of earlier prompts' KV caches kept, so a prompt that starts the same way (a conversation's next turn) prefills only what is new",
            DefaultValueFactory = _ => d.Engine.PrefixCacheBytes / (double)(1L << 30),
        };
        var prefixCache = new Option<string>("--prefix-cache") { Description = "on, or off to prefill every prompt whole", DefaultValueFactory = _ => "on" };
        prefixCache.AcceptOnlyFromAmong("on", "off");
        var prefillChunk = new Option<int>("--prefill-chunk")
        {
            Description = "while answers stream, prefill longer prompts this many tokens at a time between their decoding steps (0: whole prompts at once)",
            DefaultValueFactory = _ => d.Engine.PrefillChunk,
        };
        var idlePrefillChunk = new Option<int>("--idle-prefill-chunk")
        {
            Description = "while no answer streams, prefill longer prompts this many tokens at a time (0: whole prompts at once)",
            DefaultValueFactory = _ => d.Engine.IdlePrefillChunk,
        };
        var maxImages = new Option<int>("--max-images") { Description = "images per request", DefaultValueFactory = _ => d.MaxImages };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "largest request body", DefaultValueFactory = _ => d.MaxBodyBytes };
        var cmd = new Command("serve", "Serve a model: OpenAI-compatible /v1/chat/completions, a chat page at /, /metrics")
        {
            model, adapter, name, host, port, device, maxBatch, maxQueue, imageCacheMb, cacheGb, prefixCache, prefillChunk, idlePrefillChunk, maxImages, maxBody,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            // Checked as given: the engine's limits are in bytes, the flags in MiB and GiB.
            if (parse.GetValue(imageCacheMb) < 0) throw new NanoVlmException($"--image-cache-mb must be >= 0, got {parse.GetValue(imageCacheMb)}");
            if (!(parse.GetValue(cacheGb) >= 0)) throw new NanoVlmException($"--cache-gb must be >= 0, got {parse.GetValue(cacheGb)}");
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), ModelId = parse.GetValue(name) ?? parse.GetValue(model)!,
                Engine = new ChatEngineOptions
                {
                    MaxBatch = parse.GetValue(maxBatch), MaxQueue = parse.GetValue(maxQueue), ImageCacheBytes = (long)parse.GetValue(imageCacheMb) << 20,
                    PrefixCacheBytes = parse.GetValue(prefixCache) == "off" ? 0 : (long)(parse.GetValue(cacheGb) * (1L << 30)),
                    PrefillChunk = parse.GetValue(prefillChunk), IdlePrefillChunk = parse.GetValue(idlePrefillChunk),
                },
                MaxImages = parse.GetValue(maxImages), MaxBodyBytes = parse.GetValue(maxBody), Log = Console.WriteLine,
            };
            options.Validate();
            using var vlm = AdapterOption.Load(parse.GetValue(model)!, parse.GetValue(adapter), new ConsoleDownloadProgress());
            vlm.MoveTo(Devices.Parse(parse.GetValue(device)!));
            vlm.Model.eval();
            await using var server = await VlmServer.StartAsync(vlm, options);
            Console.WriteLine($"serving {options.ModelId} at {server.Url} (chat page at /, API at /v1, batch {options.Engine.MaxBatch}); Ctrl+C stops");
            await server.WaitForShutdownAsync(cancellation);
            return 0;
        });
        return cmd;
    }
}
