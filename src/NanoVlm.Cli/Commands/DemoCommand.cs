using System.CommandLine;
using System.Diagnostics;
using NanoVlm.Cli.Training;
using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Models;
using NanoVlm.Training;
using Spectre.Console;
using NanoVlm.Pretrained;

namespace NanoVlm.Cli.Commands;

/// <summary>
/// <c>nanovlm demo</c>: trains the tiny preset from scratch on Fashion-MNIST questions (with a word-level tokenizer built from the
/// data), then answers "What is this?" for every held-out test image and shows a few answers beside the truth.
/// </summary>
public static class DemoCommand
{
    /// <summary>
    /// The demo's recipe: a model from scratch wants one learning rate for all parts (1e-3; 3e-3 learned faster at first but
    /// plateaued near 79%), small batches without accumulation, three epochs.
    /// </summary>
    public static readonly TrainingOptions Recipe = new()
    {
        LrMp = 1e-3, LrBackbones = 1e-3, BatchSize = 64, GradientAccumulationSteps = 1, Epochs = 3, EvalInterval = 900,
        ValRatio = 0.02, WeightDecay = 0.01,
    };

    public static Command Create()
    {
        var folder = new Option<string?>("--fashion-mnist") { Description = "folder with the Fashion-MNIST IDX files (default: the Debian package's, or $NANOVLM_FASHION_MNIST)" };
        var output = new Option<string>("--output") { Description = "folder for the run", DefaultValueFactory = _ => "runs" };
        var epochs = new Option<int>("--epochs") { Description = "passes over the 60,000 training images", DefaultValueFactory = _ => Recipe.Epochs };
        var maxSteps = new Option<int?>("--max-steps") { Description = "optimizer steps (overrides --epochs)" };
        var testImages = new Option<int>("--test-images") { Description = "held-out images to evaluate", DefaultValueFactory = _ => 10_000 };
        var bf16 = new Option<bool>("--bf16") { Description = "bf16 compute with fp32 master weights" };
        var seed = new Option<int>("--seed") { Description = "seed", DefaultValueFactory = _ => 0 };
        var cmd = new Command("demo", "Train a tiny VLM on Fashion-MNIST from scratch and ask it about held-out images")
        {
            folder, output, epochs, maxSteps, testImages, bf16, seed,
        };
        cmd.SetAction(parse =>
        {
            var clock = Stopwatch.StartNew();
            using var cancel = CtrlC.Token(CancellationToken.None);
            var data = parse.GetValue(folder) is { } f ? $"fashion-mnist:{f}" : "fashion-mnist";
            var outcome = TrainSession.Run(new TrainArgs
            {
                Preset = "tiny", Data = [data], Tokenizer = Presets.WordLevelTokenizer, EvalSamples = 1000, Output = parse.GetValue(output)!,
                RunName = $"demo-fashion-mnist-{DateTime.Now:MMdd-HHmmss}", Device = "auto",
                Options = Recipe with
                {
                    Epochs = parse.GetValue(epochs), MaxSteps = parse.GetValue(maxSteps), Bf16 = parse.GetValue(bf16), Seed = parse.GetValue(seed),
                },
            }, cancel.Token);
            if (outcome.Result.Interrupted) return 130;

            using var vlm = PretrainedVlm.Load(outcome.ModelFolder);
            var test = DataSource.Parse(data).Open(trainSplit: false);
            var n = Math.Min(test.Count, parse.GetValue(testImages));
            var result = AnsiConsole.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask("answering \"What is this?\" for the test images", maxValue: n);
                var whatIsThis = DatasetView.All(test).ReadInOrder(cancel.Token).Take(n)
                    .Select(s => s with { Turns = [s.Turns.Single(t => t.User == FashionMnistDataset.WhatIsThis)] });
                return Evaluator.Run(vlm.Model, vlm.Processor, whatIsThis, Scoring.ExactMatch,
                    batchSize: 250, maxNewTokens: 4, progress: done => task.Value = done, cancel: cancel.Token);
            });
            ShowExamples(vlm, test, cancel.Token);
            Console.WriteLine($"checkpoint: {outcome.ModelFolder}");
            Console.WriteLine($"try: {CommandName.Current} generate --model {outcome.ModelFolder} --image <28x28 image> --prompt \"What is this?\" --greedy --generations 1");
            Console.WriteLine($"demo: accuracy {100 * result.Accuracy:F2}% on {result.Total} test images (\"What is this?\"), {clock.Elapsed.TotalSeconds:F0} s");
            return 0;
        });
        return cmd;
    }

    /// <summary>Every question for a few test images, the model's answer beside the truth.</summary>
    static void ShowExamples(PretrainedVlm vlm, IVqaDataset test, CancellationToken cancel)
    {
        var rows = new[] { 0, 1, 2, 3, 4, 5 };
        var samples = test.ReadGroupRows(0, rows)
            .SelectMany(x => x.Sample.Turns.Select(t => x.Sample with { Turns = [t] }))
            .ToList();
        var result = Evaluator.Run(vlm.Model, vlm.Processor, samples, Scoring.ExactMatch, batchSize: samples.Count, maxNewTokens: 4, cancel: cancel);
        var table = new Table().Title("[bold]held-out test images[/]").AddColumn("image").AddColumn("question").AddColumn("truth").AddColumn("answer");
        foreach (var p in result.Predictions)
            table.AddRow(Markup.Escape(p.Source.Split(' ')[^1]), Markup.Escape(p.Question), Markup.Escape(p.Answer),
                p.Correct ? $"[green]{Markup.Escape(p.Output)}[/]" : $"[red]{Markup.Escape(p.Output)}[/]");
        AnsiConsole.Write(table);
    }
}
