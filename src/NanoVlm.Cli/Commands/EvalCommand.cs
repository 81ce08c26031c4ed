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

/// <summary><c>nanovlm eval</c>: MMStar multiple-choice accuracy per category, or exact-match accuracy on a short-answer VQA source.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder or Hub repo id", Required = true };
        var adapter = AdapterOption.Create();
        var data = new Option<string>("--data")
        {
            Description = "mmstar:<file|folder> or hf:Lin-Chen/MMStar (letter scoring), or fashion-mnist[:folder] | jsonl:<file> | cauldron:<...> | hf:<repo> (exact match)",
            Required = true,
        };
        var batchSize = new Option<int>("--batch-size") { Description = "prompts per batch", DefaultValueFactory = _ => 64 };
        var limit = new Option<int?>("--limit") { Description = "evaluate only the first N samples" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens per answer", DefaultValueFactory = _ => 8 };
        var json = new Option<string?>("--json") { Description = "write a JSON report (accuracy, categories, predictions) here" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("eval", "Evaluate a model: MMStar accuracy with a per-category table, or exact-match VQA accuracy")
        {
            model, adapter, data, batchSize, limit, maxNew, json, device,
        };
        cmd.SetAction(parse =>
        {
            using var cancel = CtrlC.Token(CancellationToken.None);
            var source = DataSource.Parse(parse.GetValue(data)!);
            var progress = new ConsoleDownloadProgress();
            using var hub = new HubClient(HubOptions.FromEnvironment(), progress);
            var dataset = source.Open(trainSplit: false, hub, cancel.Token);
            using var vlm = AdapterOption.Load(parse.GetValue(model)!, parse.GetValue(adapter), progress);
            vlm.MoveTo(Devices.Parse(parse.GetValue(device)!));
            var total = Math.Min(dataset.Count, parse.GetValue(limit) ?? int.MaxValue);
            var samples = DatasetView.All(dataset).ReadInOrder(cancel.Token).Take(total);
            var multipleChoice = dataset is MmStarDataset;
            var result = AnsiConsole.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask($"evaluating {dataset.Name}", maxValue: total);
                return Evaluator.Run(vlm.Model, vlm.Processor, samples, multipleChoice ? Scoring.MultipleChoice : Scoring.ExactMatch,
                    parse.GetValue(batchSize), parse.GetValue(maxNew), done => task.Value = done, cancel.Token);
            });
            Report(result, multipleChoice);
            if (parse.GetValue(json) is { } path) WriteJson(path, parse.GetValue(model)!, dataset.Name, result);
            return 0;
        });
        return cmd;
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
