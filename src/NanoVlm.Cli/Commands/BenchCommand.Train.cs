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
        var distributed = new Option<string?>("--distributed")
        {
            Description = "under mpirun -np N: time data-parallel steps with this backend (auto, mpi, nccl): compute, communication, bus bandwidth, memory per process, scaling against one process",
        };
        var shardOptimizer = ListOption("--shard-optimizer", "off,on", "with --distributed: measure without and/or with the sharded optimizer (off, on)");
        var cmd = new Command("train", "Training step time, samples/s, tokens/s and model FLOP utilisation against the measured matmul peak")
            { preset, batchSizes, seqLen, steps, dtypes, peakSizes, loraRanks, distributed, shardOptimizer, json };
        cmd.SetAction(parse =>
        {
            var threads = SetThreads(parse, threadsOption);
            var device = Devices.Parse(parse.GetValue(deviceOption)!);
            if (parse.GetValue(distributed) is { } backend)
                return Distributed(parse, backend, device, threads, preset, batchSizes, seqLen, steps, dtypes, shardOptimizer, json);
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

    static int Distributed(ParseResult parse, string backend, TorchSharp.torch.Device device, int threads, Option<string> preset, Option<string> batchSizes,
        Option<int> seqLen, Option<int> steps, Option<string> dtypes, Option<string> shardOptimizer, Option<string?> json)
    {
        var o = new DistributedTrainBenchOptions
        {
            Preset = parse.GetValue(preset)!, Device = device, Backend = backend,
            BatchSize = Ints(parse.GetValue(batchSizes)!, "--batch-sizes")[0], SeqLen = parse.GetValue(seqLen), Steps = parse.GetValue(steps),
            Dtype = Dtypes(parse.GetValue(dtypes)!)[0],
            ShardOptimizer = parse.GetValue(shardOptimizer)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v switch
            {
                "off" => false,
                "on" => true,
                _ => throw new NanoVlmException($"--shard-optimizer: '{v}' is not off or on"),
            }).ToList(),
        };
        Positive(o.SeqLen, "--seq-len");
        Presets.Get(o.Preset);
        var main = !Mpi.Launched || Mpi.World.Rank == 0;
        var rows = DistributedTrainBench.Run(o).ToList();
        if (!main) return 0;
        Record(rows, parse.GetValue(json), r => $"{r.Processes} processes, sharded {r.ShardOptimizer}: {r.StepS:F3} s/step, busbw {r.BusbwGbs:F2} GB/s");
        var table = Table($"bench train --distributed: {o.Preset}, batch {o.BatchSize} per process, seq {o.SeqLen}, {BenchDtypes.Name(o.Dtype)}, {Where(device, threads)} per process",
            "N", "backend", "sharded", "step s", "compute s", "comm s", "hidden", "optim s", "reduced", "algbw GB/s", "busbw GB/s",
            "AdamW state", "peak RSS", "1 proc s", "scaling", "samples/s");
        foreach (var r in rows)
            table.AddRow($"{r.Processes}", r.Backend, r.ShardOptimizer ? "yes" : "no", $"{r.StepS:F3}", $"{r.ComputeS:F3}", $"{r.CommunicationS:F3}", $"{r.HiddenShare:P0}",
                $"{r.OptimizerS:F3}", Mib(r.BytesReduced), $"{r.AlgbwGbs:F2}", $"{r.BusbwGbs:F2}", Mib(r.OptimizerStateBytes), Mib(r.PeakRssBytes),
                $"{r.OneProcessStepS:F3}", $"{r.ScalingEfficiency:P0}", $"{r.SamplesPerS:F2}");
        AnsiConsole.Write(table);
        return 0;
    }
}
