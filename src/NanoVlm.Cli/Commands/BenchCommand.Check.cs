using System.CommandLine;
using NanoVlm.Benchmarks;
using NanoVlm.Runtime;
using Spectre.Console;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
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
}
