using NanoVlm.Data;
using NanoVlm.Training;
using Spectre.Console;

namespace NanoVlm.Cli.Training;

/// <summary>What the user sees while training: a live bar (or plain lines when the output is not a terminal), loss.png, a summary.</summary>
public static class TrainProgressView
{
    public static TrainingResult Run(Trainer trainer, string runDir, bool resume, PackingStats? packing, CancellationToken cancel)
    {
        var plot = new LossPlot(Path.Combine(runDir, "loss.png"));
        var evals = new List<EvalReport>();
        StepReport? last = null;
        trainer.Step += r =>
        {
            last = r;
            plot.AddTrain(r.Step, r.Loss);
        };
        trainer.Evaluated += e =>
        {
            evals.Add(e);
            plot.AddEval(e.Step, e.ValLoss, e.Accuracy, e.Tasks);
            plot.Save();
        };
        trainer.Note += note => AnsiConsole.MarkupLineInterpolated($"[yellow]{note}[/]");

        TrainingResult result;
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            result = AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("training", maxValue: trainer.MaxSteps);
                    trainer.Step += r =>
                    {
                        task.Value = r.Step;
                        task.Description = Markup.Escape(Line(r));
                    };
                    trainer.Evaluated += e => AnsiConsole.MarkupLineInterpolated($"{EvalLine(e)}");
                    return trainer.Run(resume, cancel);
                });
        }
        else
        {
            var every = Math.Max(1, trainer.MaxSteps / 20);
            trainer.Step += r =>
            {
                if (r.Step % every == 0 || r.Step == r.MaxSteps) Console.WriteLine($"{Line(r)}  eta {Eta(r)}");
            };
            trainer.Evaluated += e => Console.WriteLine(EvalLine(e));
            result = trainer.Run(resume, cancel);
        }

        var table = new Table().Title("[bold]training summary[/]").AddColumn("").AddColumn("").HideHeaders();
        table.AddRow("steps", $"{result.Steps:N0}{(result.Interrupted ? " (interrupted, resumable)" : "")}");
        table.AddRow("time", $"{result.Seconds:F0} s");
        if (last is not null) table.AddRow("last train loss", $"{last.Loss:F4}");
        if (evals.LastOrDefault(e => e.ValLoss is not null) is { } v) table.AddRow("last validation loss", $"{v.ValLoss:F4}");
        // The run's best over all its sessions (a resumed run's best may come from before the resume).
        if (result.BestMetric is { } byTask && trainer.BestBy is { } by)
            table.AddRow($"best {Markup.Escape(by)}", $"{byTask:0.####}" + (result.BestStep is { } at ? $" (step {at})" : ""));
        else if (result.BestMetric is { } best)
            table.AddRow(best >= 0 ? "best accuracy" : "best validation loss",
                (best >= 0 ? $"{100 * best:F2}%" : $"{-best:F4}") + (result.BestStep is { } at ? $" (step {at})" : ""));
        if (packing is not null) table.AddRow("packing", Markup.Escape(packing.ToString()));
        table.AddRow("best checkpoint", Markup.Escape(result.BestFolder ?? "-"));
        table.AddRow("latest checkpoint", Markup.Escape(result.LatestFolder));
        table.AddRow("metrics", Markup.Escape(Path.Combine(runDir, "metrics.jsonl")));
        AnsiConsole.Write(table);
        return result;
    }

    static string Line(StepReport r) =>
        $"step {r.Step}/{r.MaxSteps} ep {r.Epoch} loss {r.Loss:F4} lr {r.Lr:E2} {r.TokensPerSecond:F0} tok/s";

    static string Eta(StepReport r) =>
        r.Step == 0 ? "?" : TimeSpan.FromSeconds(r.Seconds / r.Step * (r.MaxSteps - r.Step)).ToString(@"hh\:mm\:ss");

    static string EvalLine(EvalReport e) =>
        $"eval @ step {e.Step}: val loss {(e.ValLoss is { } v ? v.ToString("F4") : "-")}, accuracy {(e.Accuracy is { } a ? $"{100 * a:F2}%" : "-")}"
        + string.Concat((e.Tasks ?? new Dictionary<string, double>()).Select(t => $", {t.Key} {t.Value:0.####}")) + (e.IsBest ? " (best)" : "");
}
