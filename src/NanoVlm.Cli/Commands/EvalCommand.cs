using TorchSharp;
using System.CommandLine;
using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Hub;
using Spectre.Console;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm eval</c>: lmms-eval's benchmarks (see <see cref="TaskRun"/>), or MMStar / exact-match accuracy on one dataset.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "checkpoint folder or Hub repo id (not needed with --responses)" };
        var adapter = AdapterOption.Create();
        var tasks = new Option<string?>("--tasks")
        {
            Description = $"lmms-eval tasks, comma-separated: {string.Join(",", BenchmarkTasks.Names)}, or nanovlm for nanoVLM's nine "
                          + $"({string.Join(",", BenchmarkTasks.NanoVlm)}); each scored exactly as lmms-eval scores it",
        };
        var datasets = new Option<string[]>("--dataset")
        {
            Description = "TASK=PATH_OR_REPO: read a task's documents from a local parquet file or folder, or another Hub dataset repo (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var responses = new Option<string[]>("--responses")
        {
            Description = "re-score saved answers without a model: a samples_<task>.jsonl file (ours or lmms-eval's), or TASK=FILE (repeatable)",
        };
        var promptFormat = new Option<string>("--prompt-format")
        {
            Description = "lmms-eval: each task's doc_to_text prompt, answers cut at its stop strings; nanovlm: as nanoVLM's lmms-eval wrapper rewrites them (how nanoVLM's published numbers were made)",
            DefaultValueFactory = _ => "lmms-eval",
        };
        promptFormat.AcceptOnlyFromAmong("lmms-eval", "nanovlm");
        var output = new Option<string?>("--output") { Description = "write results.json and samples_<task>.jsonl here, in lmms-eval's layout" };
        var data = new Option<string?>("--data")
        {
            Description = "instead of --tasks: mmstar:<file|folder> or hf:Lin-Chen/MMStar (letter scoring), or fashion-mnist[:folder] | jsonl:<file> | cauldron:<...> | hf:<repo> (exact match)",
        };
        var batchSize = new Option<int>("--batch-size") { Description = "prompts per batch", DefaultValueFactory = _ => 64 };
        var limit = new Option<int?>("--limit") { Description = "evaluate only the first N samples (of each task)" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens per answer (--data only; tasks use their own)", DefaultValueFactory = _ => 8 };
        var json = new Option<string?>("--json") { Description = "--data only: write a JSON report (accuracy, categories, predictions) here" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("eval", "Evaluate a model on lmms-eval's benchmarks (--tasks), re-score saved answers (--responses), or score a dataset (--data)")
        {
            model, adapter, tasks, datasets, responses, output, promptFormat, data, batchSize, limit, maxNew, json, device,
        };
        cmd.SetAction(parse =>
        {
            using var cancel = CtrlC.Token(CancellationToken.None);
            var (taskList, dataSpec, responseFiles) = (parse.GetValue(tasks), parse.GetValue(data), parse.GetValue(responses) ?? []);
            if (dataSpec is not null && (taskList is not null || responseFiles.Length > 0))
                throw new NanoVlmException("--data scores one dataset; it does not combine with --tasks or --responses");
            if (dataSpec is null && taskList is null && responseFiles.Length == 0)
                throw new NanoVlmException("say what to evaluate: --tasks (lmms-eval benchmarks), --responses (saved answers) or --data (a dataset)");
            var modelName = parse.GetValue(model);
            if (responseFiles.Length == 0 && modelName is null) throw new NanoVlmException("--model is required to generate answers");
            if (dataSpec is not null)
                return EvaluateData(dataSpec, modelName!, parse.GetValue(adapter), parse.GetValue(device)!, parse.GetValue(batchSize),
                    parse.GetValue(limit), parse.GetValue(maxNew), parse.GetValue(json), cancel.Token);
            var run = new TaskRun(taskList, parse.GetValue(datasets) ?? [], responseFiles, parse.GetValue(limit), parse.GetValue(batchSize),
                parse.GetValue(promptFormat) == "nanovlm" ? PromptFormat.NanoVlm : PromptFormat.LmmsEval);
            return run.Execute(modelName, parse.GetValue(adapter), parse.GetValue(device)!, parse.GetValue(output), cancel.Token);
        });
        return cmd;
    }

    static int EvaluateData(string spec, string modelName, string? adapterName, string deviceName, int batchSize, int? limit, int maxNew,
        string? jsonPath, CancellationToken cancel)
    {
        var source = DataSource.Parse(spec);
        var progress = new ConsoleDownloadProgress();
        using var hub = new HubClient(HubOptions.FromEnvironment(), progress);
        var dataset = source.Open(trainSplit: false, hub, cancel);
        using var vlm = AdapterOption.Load(modelName, adapterName, progress);
        vlm.MoveTo(Devices.Parse(deviceName));
        var total = Math.Min(dataset.Count, limit ?? int.MaxValue);
        var samples = DatasetView.All(dataset).ReadInOrder(cancel).Take(total);
        var multipleChoice = dataset is MmStarDataset;
        var result = AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"evaluating {dataset.Name}", maxValue: total);
            return Evaluator.Run(vlm.Model, vlm.Processor, samples, multipleChoice ? Scoring.MultipleChoice : Scoring.ExactMatch,
                batchSize, maxNew, done => task.Value = done, cancel);
        });
        Report(result, multipleChoice);
        if (jsonPath is not null) WriteJson(jsonPath, modelName, dataset.Name, result);
        return 0;
    }

    static void Report(EvaluationResult result, bool categories)
    {
        if (categories)
        {
            var table = new Table().Title("[bold]accuracy by category[/]").AddColumn("category").AddColumn("samples", c => c.RightAligned())
                .AddColumn("accuracy", c => c.RightAligned());
            foreach (var (category, total, accuracy) in result.ByCategory()) table.AddRow(Markup.Escape(category), $"{total}", $"{100 * accuracy:F1}%");
            AnsiConsole.Write(table);
        }
        if (result.ByQuestion() is { Count: > 0 } kinds)
        {
            var table = new Table().Title("[bold]accuracy by question[/]").AddColumn("question").AddColumn("samples", c => c.RightAligned())
                .AddColumn("accuracy", c => c.RightAligned());
            foreach (var (question, total, accuracy) in kinds) table.AddRow(Markup.Escape(question), $"{total}", $"{100 * accuracy:F1}%");
            AnsiConsole.Write(table);
        }
        if (result.Skipped > 0) AnsiConsole.MarkupLineInterpolated($"[yellow]{result.Skipped} samples skipped[/]");
        Console.WriteLine($"accuracy: {100 * result.Accuracy:F2}% ({result.Correct}/{result.Total}{(result.ByQuestion().Count > 0 ? ", every question" : "")})");
    }

    static void WriteJson(string path, string model, string data, EvaluationResult result)
    {
        var report = new
        {
            model, data, accuracy = result.Accuracy, correct = result.Correct, total = result.Total, skipped = result.Skipped,
            categories = result.ByCategory().Select(c => new { category = c.Category, total = c.Total, accuracy = c.Accuracy }),
            l2_categories = result.ByCategory(level2: true).Select(c => new { category = c.Category, total = c.Total, accuracy = c.Accuracy }),
            questions = result.ByQuestion().Select(q => new { question = q.Question, total = q.Total, accuracy = q.Accuracy }),
            predictions = result.Predictions.Select(p => new { source = p.Source, question = p.Question, answer = p.Answer, output = p.Output, correct = p.Correct, category = p.Category }),
        };
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
    }
}
