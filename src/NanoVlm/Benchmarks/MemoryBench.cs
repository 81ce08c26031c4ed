using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

public sealed record MemoryBenchOptions
{
    public string Preset { get; init; } = "222m";
    public IReadOnlyList<int> BatchSizes { get; init; } = [1, 2, 4, 8];
    public int SeqLen { get; init; } = 128;
    public ScalarType Dtype { get; init; } = ScalarType.Float32;
    /// <summary>Training steps per batch size (the first allocates the optimizer state, later ones run with it).</summary>
    public int Steps { get; init; } = 2;
    /// <summary>0: full training; r > 0: a LoRA adapter of rank r, the model frozen.</summary>
    public int LoraRank { get; init; }
    public Device Device { get; init; } = CPU;
}

/// <summary>
/// One batch size: peak memory after loading the model and after the training steps (process RSS on the CPU, device
/// memory this process holds on a GPU); or out of memory.
/// </summary>
public sealed record MemoryBenchRow(string Preset, int BatchSize, int SeqLen, string Dtype, long ModelBytes, long PeakBytes, bool Oom, int Threads,
    string Device);

/// <summary>
/// nanoVLM's measure_vram on CPU: peak resident memory of training steps per batch size. Peak RSS never goes down within
/// a process, so each batch size runs in a fresh process (<paramref name="measureInChild"/>); the sweep stops at the
/// first batch size that runs out of memory.
/// </summary>
public static class MemoryBench
{
    public static IEnumerable<MemoryBenchRow> Run(MemoryBenchOptions o, Func<int, MemoryBenchRow> measureInChild)
    {
        foreach (var batch in o.BatchSizes)
        {
            var row = measureInChild(batch);
            yield return row;
            if (row.Oom) yield break;
        }
    }

    /// <summary>
    /// Runs in the child process: loads the model, then trains on one batch size, reading VmHWM (CPU) or the device
    /// memory in use less what was in use before (<see cref="GpuMemory"/>) along the way.
    /// </summary>
    public static MemoryBenchRow MeasureHere(MemoryBenchOptions o, int batch)
    {
        var cfg = Presets.Get(o.Preset);
        Func<long> peak = PeakRssBytes;
        if (o.Device.type == DeviceType.CUDA)
        {
            var before = GpuMemory.UsedBytes(o.Device.index);
            peak = () => GpuMemory.UsedBytes(o.Device.index) - before;
        }
        manual_seed(0);
        using var model = new VisionLanguageModel(cfg);
        model.to(o.Device);
        var loaded = peak();
        using var trainer = new BenchTraining(model, o.Dtype, o.LoraRank);
        using var data = SyntheticBatch.Create(model, batch, o.SeqLen);
        for (var i = 0; i < o.Steps; i++) trainer.Step(data);
        return new MemoryBenchRow(o.Preset, batch, o.SeqLen, BenchDtypes.Name(o.Dtype), loaded, peak(), Oom: false, get_num_threads(),
            Devices.Name(o.Device));
    }

    /// <summary>The process's peak resident set size (VmHWM in /proc/self/status).</summary>
    public static long PeakRssBytes()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) throw new NanoVlmException($"peak memory is read from {status}, which this system does not have");
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
                   ?? throw new NanoVlmException($"{status} has no VmHWM line");
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0]) * 1024;
    }

    /// <summary>Whether a failed child's error output says it ran out of memory (libtorch's allocator, or the kernel's kill).</summary>
    public static bool IsOutOfMemory(int exitCode, string stderr) =>
        exitCode == 137
        || stderr.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase)
        || stderr.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
        || stderr.Contains("OutOfMemoryException", StringComparison.Ordinal);
}
