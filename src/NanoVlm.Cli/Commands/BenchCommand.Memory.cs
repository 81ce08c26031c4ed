using System.CommandLine;
using System.Diagnostics;
using NanoVlm.Benchmarks;
using NanoVlm.Models;
using NanoVlm.Runtime;
using Spectre.Console;
using TorchSharp;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
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
}
