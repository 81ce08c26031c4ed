using System.CommandLine;
using NanoVlm.Benchmarks;
using NanoVlm.Evaluation;
using NanoVlm.Models;
using NanoVlm.Runtime;
using Spectre.Console;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
    static Command Eval(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var (preset, json) = (PresetOption(), JsonOption());
        var tasks = ListOption("--tasks", string.Join(",", BenchmarkTasks.Names), "lmms-eval tasks whose documents are imitated");
        var docs = IntOption("--docs", 8, "documents per task, timed after one warm-up document");
        var batchSize = IntOption("--batch-size", 8, "documents per generation batch");
        var cmd = new Command("eval", "Evaluation throughput per task (documents/s, tokens/s) on random weights and generated documents")
            { preset, tasks, docs, batchSize, json };
        cmd.SetAction(parse =>
        {
            var threads = SetThreads(parse, threadsOption);
            var device = Devices.Parse(parse.GetValue(deviceOption)!);
            Positive(parse.GetValue(batchSize), "--batch-size");
            var o = new EvalBenchOptions
            {
                Preset = parse.GetValue(preset)!, Docs = parse.GetValue(docs), BatchSize = parse.GetValue(batchSize), Device = device,
                Tasks = [.. BenchmarkTasks.Parse(parse.GetValue(tasks)!).Select(t => t.Name)],
            };
            Presets.Get(o.Preset);
            var rows = Record(EvalBench.Run(o), parse.GetValue(json), r => $"{r.Task}: {r.DocsPerS:F3} documents/s, {r.TokensPerS:F1} tokens/s");
            var table = Table($"bench eval: {o.Preset}, {o.Docs} documents per task, batch {o.BatchSize}, {Where(device, threads)}",
                "task", "documents", "seconds", "documents/s", "tokens", "tokens/s");
            foreach (var r in rows)
                table.AddRow(r.Task, $"{r.Docs}", $"{r.Seconds:F1}", $"{r.DocsPerS:F3}", $"{r.Tokens}", $"{r.TokensPerS:F1}");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }
}
