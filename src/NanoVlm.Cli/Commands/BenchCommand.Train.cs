using System.CommandLine;
using NanoVlm.Benchmarks;
using NanoVlm.Models;
using NanoVlm.Runtime;
using Spectre.Console;
using TorchSharp;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
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
}
