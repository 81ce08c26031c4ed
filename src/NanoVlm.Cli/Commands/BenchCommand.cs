using NanoVlm.Generation;
using System.CommandLine;
using System.Diagnostics;
using NanoVlm.Benchmarks;
using NanoVlm.Models;
using NanoVlm.Server;
using NanoVlm.Serving;
using Spectre.Console;
using TorchSharp;
using NanoVlm.Generation.Kernels;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm bench train|generate|memory|serve</c>: training speed and MFU, generation latency, peak memory per batch size, server load.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Measure training speed, generation speed and memory on random weights (nothing is downloaded)");
        // On a shared machine fewer threads than cores can be faster: a parallel op waits for its slowest thread.
        var threads = new Option<int?>("--threads") { Description = "libtorch threads (default: every core)", Recursive = true };
        var device = new Option<string>("--device")
        {
            Description = "cpu, cuda or auto (timing waits for the GPU to finish)", DefaultValueFactory = _ => "cpu", Recursive = true,
        };
        cmd.Options.Add(threads);
        cmd.Options.Add(device);
        cmd.Subcommands.Add(Train(threads, device));
        cmd.Subcommands.Add(Generate(threads, device));
        cmd.Subcommands.Add(Memory(threads, device));
        cmd.Subcommands.Add(MemoryOne(threads, device));
        cmd.Subcommands.Add(Check(threads, device));
        cmd.Subcommands.Add(Serve(threads, device));
        return cmd;
    }

    /// <summary>Applies --threads; returns the thread count in effect.</summary>
    static int SetThreads(ParseResult parse, Option<int?> option)
    {
        if (parse.GetValue(option) is { } n)
        {
            Positive(n, "--threads");
            Devices.ConfigureThreads(n);
        }
        return TorchSharp.torch.get_num_threads();
    }

    static Option<string> PresetOption() => new("--preset")
    {
        Description = $"model preset: {string.Join(", ", Presets.Names)}",
        DefaultValueFactory = _ => "222m",
    };

    static Option<string> ListOption(string name, string defaults, string description) =>
        new(name) { Description = $"{description} (comma-separated)", DefaultValueFactory = _ => defaults };

    static Option<int> IntOption(string name, int defaults, string description) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaults };

    static Option<string?> JsonOption() => new("--json") { Description = "also write one JSON object per configuration (JSON Lines) to this file" };

    static IReadOnlyList<int> Ints(string text, string option) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
            int.TryParse(s, out var v) && v > 0 ? v : throw new NanoVlmException($"{option}: '{s}' is not a positive integer")).ToList() is { Count: > 0 } list
            ? list
            : throw new NanoVlmException($"{option}: give at least one value");

    static IReadOnlyList<TorchSharp.torch.ScalarType> Dtypes(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BenchDtypes.Parse).ToList() is { Count: > 0 } list
            ? list
            : throw new NanoVlmException("--dtypes: give at least one of fp32, bf16");

    static void Positive(int value, string option)
    {
        if (value <= 0) throw new NanoVlmException($"{option} must be > 0, got {value}");
    }

    static Command Train(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var (preset, json) = (PresetOption(), JsonOption());
        var batchSizes = ListOption("--batch-sizes", "1,4", "batch sizes");
        var seqLen = IntOption("--seq-len", 128, "tokens per sample, the image's tokens included");
        var steps = IntOption("--steps", 2, "timed steps per configuration (after one warm-up step); the median is reported");
        var dtypes = ListOption("--dtypes", "fp32,bf16", "precisions: fp32, bf16 (bf16 compute with fp32 master weights)");
        var peakSizes = new Option<string?>("--peak-sizes")
        {
            Description = "square matmul sizes for the machine's peak (comma-separated; default 512,1024,2048 on the CPU, 2048,4096,8192 on a GPU)",
        };
        var loraRanks = ListOption("--lora-ranks", "0", "0 = full training; r > 0 = a LoRA adapter of rank r on the decoder's linears, the model frozen");
        var cmd = new Command("train", "Training step time, samples/s, tokens/s and model FLOP utilisation against the measured matmul peak")
            { preset, batchSizes, seqLen, steps, dtypes, peakSizes, loraRanks, json };
        cmd.SetAction(parse =>
        {
            var threads = SetThreads(parse, threadsOption);
            var device = Devices.Parse(parse.GetValue(deviceOption)!);
            var defaultPeakSizes = device.type == TorchSharp.DeviceType.CUDA ? "2048,4096,8192" : "512,1024,2048";
            var o = new TrainBenchOptions
            {
                Preset = parse.GetValue(preset)!, BatchSizes = Ints(parse.GetValue(batchSizes)!, "--batch-sizes"), SeqLen = parse.GetValue(seqLen),
                Steps = parse.GetValue(steps), Dtypes = Dtypes(parse.GetValue(dtypes)!),
                PeakSizes = Ints(parse.GetValue(peakSizes) ?? defaultPeakSizes, "--peak-sizes"), Device = device,
                LoraRanks = parse.GetValue(loraRanks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(v => int.TryParse(v, out var r) && r >= 0 ? r : throw new NanoVlmException($"--lora-ranks: '{v}' is not a rank (0 for full training)")).ToList(),
            };
            Positive(o.SeqLen, "--seq-len");
            Positive(o.Steps, "--steps");
            Presets.Get(o.Preset);
            var rows = Record(TrainBench.Run(o), parse.GetValue(json), r =>
                $"{r.Dtype} {r.Training} batch {r.BatchSize}: {r.StepS:F3} s/step{(double.IsNaN(r.Mfu) ? "" : $", MFU {r.Mfu:P1}")}");
            var table = Table($"bench train: {o.Preset}, seq {o.SeqLen}, {Where(device, threads)}",
                "dtype", "training", "trained params", "checkpoint", "batch", "step s", "samples/s", "tokens/s", "GFLOP/step", "GFLOP/s", "peak GFLOP/s", "MFU");
            foreach (var r in rows)
                table.AddRow(r.Dtype, r.Training, $"{r.TrainableParameters:N0}", Mib(r.CheckpointBytes), $"{r.BatchSize}", $"{r.StepS:F3}", $"{r.SamplesPerS:F2}", $"{r.TokensPerS:F1}", $"{r.ModelGflopPerStep:F1}",
                    double.IsNaN(r.Mfu) ? "-" : $"{r.ModelGflopPerStep / r.StepS:F1}", $"{r.PeakGflops:F1}", double.IsNaN(r.Mfu) ? "-" : $"{r.Mfu:P1}");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    static Command Generate(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var (preset, json) = (PresetOption(), JsonOption());
        var batchSizes = ListOption("--batch-sizes", "1", "batch sizes");
        var promptLen = IntOption("--prompt-len", 70, "text tokens in the prompt, after one image's tokens");
        var newTokens = IntOption("--new-tokens", 20, "tokens to generate (greedy, never stopping at eos)");
        var dtypes = ListOption("--dtypes", "fp32,bf16", "weight precisions: fp32, bf16");
        var repeats = IntOption("--repeats", 2, "timed runs per measurement (after one warm-up); the median is reported");
        var bandwidthMib = IntOption("--bandwidth-mib", 512, "size of the tensor read to measure memory bandwidth, in MiB");
        var kvCache = ListOption("--kv-cache", "on,off", "decode with the KV cache (on) and/or recomputing the whole sequence each step (off)");
        var decodePaths = ListOption("--decode-path", "kernels",
            "decode steps through the CPU kernels and/or the modules (libtorch): kernels, modules (CUDA: modules)");
        var cmd = new Command("generate", "Prefill latency, time to first token and decode tokens/s, with and without the KV cache")
            { preset, batchSizes, promptLen, newTokens, dtypes, repeats, bandwidthMib, kvCache, decodePaths, json };
        cmd.SetAction(parse =>
        {
            var threads = SetThreads(parse, threadsOption);
            var device = Devices.Parse(parse.GetValue(deviceOption)!);
            var o = new GenerateBenchOptions
            {
                Device = device,
                Preset = parse.GetValue(preset)!, BatchSizes = Ints(parse.GetValue(batchSizes)!, "--batch-sizes"),
                PromptLen = parse.GetValue(promptLen), NewTokens = parse.GetValue(newTokens), Dtypes = Dtypes(parse.GetValue(dtypes)!),
                Repeats = parse.GetValue(repeats), BandwidthBytes = (long)parse.GetValue(bandwidthMib) << 20,
                KvCache = parse.GetValue(kvCache)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v switch
                {
                    "on" => true,
                    "off" => false,
                    _ => throw new NanoVlmException($"--kv-cache: '{v}' is not on or off"),
                }).ToList(),
                DecodePaths = parse.GetValue(decodePaths)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v switch
                {
                    "kernels" => DecodePath.Kernels,
                    "modules" => DecodePath.Modules,
                    _ => throw new NanoVlmException($"--decode-path: '{v}' is not kernels or modules"),
                }).ToList(),
            };
            Positive(parse.GetValue(bandwidthMib), "--bandwidth-mib");
            Positive(o.PromptLen, "--prompt-len");
            Positive(o.Repeats, "--repeats");
            Presets.Get(o.Preset);
            var rows = Record(GenerateBench.Run(o), parse.GetValue(json), r =>
                $"{r.Dtype} batch {r.BatchSize} kv cache {(r.KvCache ? "on" : "off")} {r.DecodePath}: prefill {r.PrefillS:F3} s, {r.DecodeTokensPerS:F1} tokens/s");
            var table = Table($"bench generate: {o.Preset}, image + {o.PromptLen} prompt tokens, {o.NewTokens} new tokens, {Where(device, threads)}",
                "dtype", "batch", "KV cache", "decode path", "prefill s", "first token s", "decode tokens/s", "read GB/s", "bound tokens/s", "of bound");
            foreach (var r in rows)
                table.AddRow(r.Dtype, $"{r.BatchSize}", r.KvCache ? "on" : "off", r.DecodePath, $"{r.PrefillS:F3}", $"{r.TimeToFirstTokenS:F3}",
                    $"{r.DecodeTokensPerS:F2}", $"{r.ReadBandwidthGbs:F1}", $"{r.BandwidthBoundTokensPerS:F1}",
                    $"{r.DecodeTokensPerS / r.BandwidthBoundTokensPerS:P0}");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    static Command Memory(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var (preset, json) = (PresetOption(), JsonOption());
        var batchSizes = ListOption("--batch-sizes", "1,2,4,8", "batch sizes, in order; the sweep stops at the first out of memory");
        var seqLen = IntOption("--seq-len", 128, "tokens per sample, the image's tokens included");
        var steps = IntOption("--steps", 2, "training steps per batch size");
        var dtype = new Option<string>("--dtype") { Description = "fp32 or bf16 (bf16 compute with fp32 master weights)", DefaultValueFactory = _ => "fp32" };
        var loraRank = IntOption("--lora-rank", 0, "0 = full training; r > 0 = a LoRA adapter of rank r, the model frozen");
        var cmd = new Command("memory",
                "Peak memory of training steps per batch size (process RSS, or GPU memory held), each in a fresh process (nanoVLM's measure_vram)")
            { preset, batchSizes, seqLen, steps, dtype, loraRank, json };
        cmd.SetAction(parse =>
        {
            var threads = SetThreads(parse, threadsOption);
            var device = Devices.Parse(parse.GetValue(deviceOption)!);
            var o = new MemoryBenchOptions
            {
                Device = device,
                Preset = parse.GetValue(preset)!, BatchSizes = Ints(parse.GetValue(batchSizes)!, "--batch-sizes"), SeqLen = parse.GetValue(seqLen),
                Steps = parse.GetValue(steps), Dtype = BenchDtypes.Parse(parse.GetValue(dtype)!), LoraRank = parse.GetValue(loraRank),
            };
            Positive(o.SeqLen, "--seq-len");
            Positive(o.Steps, "--steps");
            if (o.LoraRank < 0) throw new NanoVlmException($"--lora-rank must be >= 0, got {o.LoraRank}");
            Presets.Get(o.Preset);
            var rows = Record(MemoryBench.Run(o, batch => MeasureInChild(o, batch, threads)), parse.GetValue(json), r =>
                r.Oom ? $"batch {r.BatchSize}: out of memory" : $"batch {r.BatchSize}: peak {Mib(r.PeakBytes)}");
            var measured = device.type == TorchSharp.DeviceType.CUDA ? "peak GPU memory held" : "peak RSS";
            var table = Table($"bench memory: {o.Preset}, seq {o.SeqLen}, {BenchDtypes.Name(o.Dtype)}, {(o.LoraRank > 0 ? $"LoRA rank {o.LoraRank}" : "full training")}, {measured} of {o.Steps} training steps, {Where(device, threads)}",
                "batch", "after loading", "peak", "training step adds");
            foreach (var r in rows)
                table.AddRow($"{r.BatchSize}", r.Oom ? "" : Mib(r.ModelBytes), r.Oom ? "[red]OOM[/]" : Mib(r.PeakBytes),
                    r.Oom ? "" : Mib(r.PeakBytes - r.ModelBytes));
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    static Command Check(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var json = JsonOption();
        var golden = new Option<string>("--golden") { Description = "a golden case folder (case.json, expected.safetensors, the checkpoint)", Required = true };
        var dtypes = ListOption("--dtypes", "fp32,bf16", "precisions: fp32, bf16");
        var cmd = new Command("check", "The model on a device against a golden case: forward, backward and greedy generation, within tolerances")
            { golden, dtypes, json };
        cmd.SetAction(parse =>
        {
            SetThreads(parse, threadsOption);
            var device = Devices.Parse(parse.GetValue(deviceOption)!);
            var caseDir = parse.GetValue(golden)!;
            var rows = Record(DeviceCheck.Run(caseDir, device, Dtypes(parse.GetValue(dtypes)!)), parse.GetValue(json), r =>
                $"{r.Dtype} {r.Check}: {r.Error:G3} (tolerance {r.Tolerance:G3}) {(r.Passed ? "ok" : "FAILED")}");
            var table = Table($"bench check: {Path.GetFileName(Path.GetFullPath(caseDir).TrimEnd('/'))} on {Devices.Name(device)}",
                "dtype", "check", "error", "tolerance", "result");
            foreach (var r in rows)
                table.AddRow(r.Dtype, Markup.Escape(r.Check), $"{r.Error:G3}", $"{r.Tolerance:G3}", r.Passed ? "ok" : "[red]FAILED[/]");
            AnsiConsole.Write(table);
            var failed = rows.Where(r => !r.Passed).ToList();
            if (failed.Count > 0)
                throw new NanoVlmException($"device check: {failed.Count} of {rows.Count} checks failed ({string.Join(", ", failed.Select(r => $"{r.Dtype} {r.Check}"))})");
            return 0;
        });
        return cmd;
    }

    /// <summary>The child process of <c>bench memory</c>: one batch size, printed as one JSON line.</summary>
    static Command MemoryOne(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var preset = PresetOption();
        var batch = IntOption("--batch-size", 1, "batch size");
        var seqLen = IntOption("--seq-len", 128, "tokens per sample");
        var steps = IntOption("--steps", 2, "training steps");
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "fp32" };
        var loraRank = IntOption("--lora-rank", 0, "LoRA rank (0: full training)");
        var cmd = new Command("memory-one", "one batch size of bench memory, in this process") { preset, batch, seqLen, steps, dtype, loraRank };
        cmd.Hidden = true;
        cmd.SetAction(parse =>
        {
            SetThreads(parse, threadsOption);
            var o = new MemoryBenchOptions
            {
                Device = Devices.Parse(parse.GetValue(deviceOption)!),
                Preset = parse.GetValue(preset)!, SeqLen = parse.GetValue(seqLen), Steps = parse.GetValue(steps),
                Dtype = BenchDtypes.Parse(parse.GetValue(dtype)!), LoraRank = parse.GetValue(loraRank),
            };
            Console.WriteLine(BenchJson.Line(MemoryBench.MeasureHere(o, parse.GetValue(batch))));
            return 0;
        });
        return cmd;
    }

    static MemoryBenchRow MeasureInChild(MemoryBenchOptions o, int batch, int threads)
    {
        var (file, prefix) = SelfCommand();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in prefix.Concat(["bench", "memory-one", "--preset", o.Preset, "--batch-size", $"{batch}", "--seq-len", $"{o.SeqLen}",
                     "--steps", $"{o.Steps}", "--dtype", BenchDtypes.Name(o.Dtype), "--lora-rank", $"{o.LoraRank}", "--threads", $"{threads}",
                     "--device", Devices.Name(o.Device)]))
            start.ArgumentList.Add(arg);
        using var child = Process.Start(start) ?? throw new NanoVlmException($"could not start {file}");
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode == 0)
            return BenchJson.Parse<MemoryBenchRow>(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last());
        if (MemoryBench.IsOutOfMemory(child.ExitCode, stderr.Result))
            return new MemoryBenchRow(o.Preset, batch, o.SeqLen, BenchDtypes.Name(o.Dtype), 0, 0, Oom: true, threads, Devices.Name(o.Device));
        var last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        throw new NanoVlmException($"bench memory: batch {batch} failed (exit code {child.ExitCode}): {last}");
    }

    /// <summary>How to start this CLI again: its apphost, or the dotnet host with its dll (also when hosted by a test runner).</summary>
    static (string File, string[] Prefix) SelfCommand()
    {
        var dll = typeof(BenchCommand).Assembly.Location;
        var host = Environment.ProcessPath ?? "dotnet";
        if (Path.GetFileNameWithoutExtension(host) == Path.GetFileNameWithoutExtension(dll)) return (host, []);
        return (Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet", ["exec", dll]);
    }

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
        var image = new Option<string?>("--image") { Description = "image file sent with every request (default: text only)" };
        var prompt = new Option<string>("--prompt") { Description = "the question", DefaultValueFactory = _ => d.Prompt };
        var json = JsonOption();
        var cmd = new Command("serve", "Load test of nanovlm serve: N concurrent streaming clients; requests/s, tokens/s, p50/p95 latency and time to first token")
            { model, url, clients, requests, maxTokens, maxBatch, image, prompt, json };
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
                        { Port = 0, ModelId = "bench", Engine = new ChatEngineOptions { MaxBatch = parse.GetValue(maxBatch) } });
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

    static List<T> Record<T>(IEnumerable<T> rows, string? jsonPath, Func<T, string> progress)
    {
        using var json = jsonPath is null ? null : new StreamWriter(jsonPath, append: false);
        var list = new List<T>();
        foreach (var row in rows)
        {
            list.Add(row);
            Console.Error.WriteLine(progress(row));
            if (json is null) continue;
            json.WriteLine(BenchJson.Line(row));
            json.Flush();
        }
        return list;
    }

    static string Where(TorchSharp.torch.Device device, int threads) =>
        device.type == TorchSharp.DeviceType.CUDA ? Devices.Name(device) : $"{threads} threads";

    static Table Table(string title, params string[] columns)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200; // Spectre assumes 80 columns otherwise and cuts headers
        var table = new Table().Title(Markup.Escape(title));
        foreach (var c in columns) table.AddColumn(new TableColumn(c).RightAligned());
        return table;
    }

    static string Mib(long bytes) => bytes < 10L << 20 ? $"{bytes / (1024.0 * 1024.0):N2} MiB" : $"{bytes / (1024.0 * 1024.0):N0} MiB";
}
