using System.Globalization;
using NanoVlm.Evaluation;
using NanoVlm.Hub;
using NanoVlm.Runtime;
using Spectre.Console;

namespace NanoVlm.Cli.Commands;

/// <summary>
/// <c>nanovlm eval --tasks</c> / <c>--responses</c>: lmms-eval's tasks run or re-scored, printed as lmms-eval prints them. Under
/// <c>mpirun -np N</c> the processes share the documents and rank 0 alone prints and writes.
/// </summary>
sealed class TaskRun(string? taskList, string[] datasetSpecs, string[] responseSpecs, int? limit, int batchSize, PromptFormat format)
{
    public int Execute(string? modelName, string? adapterName, string deviceName, string? output, CancellationToken cancel)
    {
        var started = DateTimeOffset.UtcNow;
        var responses = BenchmarkSuite.Assignments(responseSpecs, "Responses", LmmsEvalLog.TaskOfFile);
        var tasks = taskList is not null ? BenchmarkTasks.Parse(taskList) : responses.Keys.Select(BenchmarkTasks.Get).ToList();
        if (responses.Count > 0 && tasks.Select(t => t.Name).Except(responses.Keys).FirstOrDefault() is { } missing)
            throw NanoVlmException.For("Responses", $"no answers for task {missing}: give its samples file too, or leave it out of --tasks");
        if (responses.Count > 0 && responses.Keys.Except(tasks.Select(t => t.Name)).FirstOrDefault() is { } extra)
            throw NanoVlmException.For("Responses", $"{responses[extra]} holds answers of task {extra}, which --tasks leaves out");
        foreach (var file in responses.Values) LmmsEvalLog.RequireResponsesFile(file);
        var progress = new ConsoleDownloadProgress();
        using var hub = new HubClient(HubOptions.FromEnvironment(), progress);
        var datasets = BenchmarkSuite.Open(tasks, BenchmarkSuite.Assignments(datasetSpecs, "Dataset"), hub, cancel);
        IReadOnlyList<TaskResult> results;
        string model;
        var share = EvaluationShare.FromEnvironment();
        if (responses.Count > 0)
        {
            results = BenchmarkSuite.Rescore(datasets, responses, cancel);
            model = modelName ?? "(saved responses)";
        }
        else
        {
            using var vlm = AdapterOption.Load(modelName!, adapterName, progress);
            vlm.MoveTo(Devices.Parse(deviceName));
            results = share.IsMain ? Generate(vlm.Model, vlm.Processor, datasets, share, cancel)
                : [.. datasets.Select(d => BenchmarkRunner.Run(vlm.Model, vlm.Processor, d, limit, batchSize, null, format, cancel, share))];
            model = adapterName is null ? modelName! : $"{modelName}+{adapterName}";
        }
        if (!share.IsMain) return 0;
        PrintTable(results);
        if (output is not null)
        {
            LmmsEvalLog.Write(output, results, new EvaluationRunInfo(model, batchSize, limit, deviceName, started, format));
            Console.WriteLine($"wrote {Path.Combine(output, "results.json")} and {results.Count} samples file(s)");
        }
        return 0;
    }

    IReadOnlyList<TaskResult> Generate(NanoVlm.Models.VisionLanguageModel model, NanoVlm.Data.VlmProcessor processor, IReadOnlyList<TaskDataset> datasets,
        EvaluationShare share, CancellationToken cancel) =>
        AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bars = datasets.ToDictionary(d => d.Task.Name, d => ctx.AddTask(d.Task.Name, autoStart: false,
                    maxValue: Enumerable.Range(0, Math.Min(d.Count, limit ?? int.MaxValue)).Count(share.Answers)));
                var results = new List<TaskResult>();
                foreach (var data in datasets)
                {
                    var bar = bars[data.Task.Name];
                    bar.StartTask();
                    var result = BenchmarkRunner.Run(model, processor, data, limit, batchSize, new SynchronousProgress(bar), format, cancel, share);
                    bar.Value = bar.MaxValue;
                    bar.Description = $"{data.Task.Name} ({(result.Seconds > 0 ? result.GeneratedTokens / result.Seconds : 0):F1} tokens/s)";
                    bar.StopTask();
                    if (result.Unprompted > 0)
                        AnsiConsole.MarkupLineInterpolated($"[yellow]{data.Task.Name}: {result.Unprompted} document(s) could not be prompted (unreadable image or prompt over lm_max_length) and count as empty answers[/]");
                    results.Add(result);
                }
                return results;
            });

    /// <summary>Progress shown at once on the generating thread (Progress&lt;T&gt; would post to the thread pool, after the bar has moved on).</summary>
    sealed class SynchronousProgress(ProgressTask bar) : IProgress<BenchmarkProgress>
    {
        public void Report(BenchmarkProgress p)
        {
            bar.Value = p.Done;
            bar.Description = $"{p.Task} ({(p.Seconds > 0 ? p.Tokens / p.Seconds : 0):F1} tokens/s)";
        }
    }

    /// <summary>lmms-eval's results table: one row per metric.</summary>
    static void PrintTable(IReadOnlyList<TaskResult> results)
    {
        var table = new Table().AddColumn("Tasks").AddColumn("Version").AddColumn("Filter").AddColumn("n-shot").AddColumn(new TableColumn("Metric").NoWrap()).AddColumn("")
            .AddColumn("Value", c => c.RightAligned()).AddColumn("").AddColumn("Stderr", c => c.RightAligned());
        foreach (var r in results)
            for (var i = 0; i < r.Scores.Count; i++)
            {
                var s = r.Scores[i];
                table.AddRow(i == 0 ? r.Task.Name : "", i == 0 ? "0" : "", s.Filter, i == 0 ? "0" : "", Markup.Escape(s.Metric), "↑",
                    s.Value.ToString("F4", CultureInfo.InvariantCulture), "±", s.Stderr?.ToString("F4", CultureInfo.InvariantCulture) ?? "N/A");
            }
        AnsiConsole.Write(table);
        foreach (var r in results.Where(r => r.Breakdown is { Count: > 0 }))
            Console.WriteLine($"{r.Task.Name}: " + string.Join(", ", r.Breakdown!.Select(kv => $"{kv.Key} {Short(kv.Value)}")));
        foreach (var r in results.Where(r => r.Docs.Count < r.Original))
            Console.WriteLine($"{r.Task.Name}: {r.Docs.Count} of {r.Original} documents");
    }

    static string Short(System.Text.Json.Nodes.JsonNode? node) => node switch
    {
        System.Text.Json.Nodes.JsonObject o when o["acc"] is { } acc => $"{acc} ({o["num"]})",
        System.Text.Json.Nodes.JsonValue v when v.TryGetValue<double>(out var d) => d.ToString("0.####", CultureInfo.InvariantCulture),
        _ => node?.ToJsonString() ?? "",
    };
}
