using System.CommandLine;
using NanoVlm.Benchmarks;
using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Runtime;
using Spectre.Console;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
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
}
