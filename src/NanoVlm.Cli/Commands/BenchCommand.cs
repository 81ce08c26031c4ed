using System.CommandLine;
using NanoVlm.Benchmarks;
using NanoVlm.Models;
using NanoVlm.Runtime;
using Spectre.Console;
using TorchSharp;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm bench train|generate|memory|serve</c>: training speed and MFU, generation latency, peak memory per batch size, server load.</summary>
public static partial class BenchCommand
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
        cmd.Subcommands.Add(Eval(threads, device));
        cmd.Subcommands.Add(Json());
        cmd.Subcommands.Add(Onnx(threads, device));
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
        // Spectre assumes 80 columns when it cannot tell (a pipe, mpirun forwarding a rank's output) and cuts headers.
        if (Console.IsOutputRedirected || Mpi.Launched) AnsiConsole.Profile.Width = 200;
        var table = new Table().Title(Markup.Escape(title));
        foreach (var c in columns) table.AddColumn(new TableColumn(c).RightAligned());
        return table;
    }

    static string Mib(long bytes) => bytes < 10L << 20 ? $"{bytes / (1024.0 * 1024.0):N2} MiB" : $"{bytes / (1024.0 * 1024.0):N0} MiB";
}
