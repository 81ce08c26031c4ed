using NanoVlm.Training;
using Spectre.Console;

namespace NanoVlm.Cli.Training;

/// <summary>Runs a <see cref="TrainingRun"/> with a live progress view, a loss plot and a summary, then pushes if asked.</summary>
public static class TrainSession
{
    public sealed record Outcome(string RunDir, string ModelFolder, TrainingResult Result);

    public static Outcome Resume(string runDir, Func<TrainArgs, TrainArgs> change, CancellationToken cancel) =>
        Run(TrainingRun.Resume(runDir, new ConsoleDownloadProgress(), Log, cancel, change), cancel);

    public static Outcome Run(TrainArgs args, CancellationToken cancel) =>
        Run(TrainingRun.Start(args, new ConsoleDownloadProgress(), Log, cancel), cancel);

    static Outcome Run(TrainingRun run, CancellationToken cancel)
    {
        using var _ = run;
        var cfg = run.Vlm.Config;
        var o = run.Args.Options;
        if (!run.Trainer.IsMain)
        {
            // The other processes of a job train without a word: rank 0 shows the run.
            var quiet = run.Trainer.Run(run.Resuming, cancel);
            return new Outcome(run.RunDir, quiet.BestFolder ?? quiet.LatestFolder, quiet);
        }
        AnsiConsole.MarkupLineInterpolated($"[bold]run[/] {run.RunDir}");
        Console.WriteLine(
            $"model {ModelSource(run.Args, cfg)}: {run.Vlm.Model.ParameterCounts().Total:N0} parameters on {run.Vlm.Model.Device.type}; {run.TrainSamples:N0} training samples, {(run.Packing is null ? "" : "about ")}{run.Trainer.MaxSteps:N0} optimizer steps of {o.BatchSize}{(run.Packing is null ? "" : " packed rows")}{(run.Trainer.WorldSize > 1 ? $" x {run.Trainer.WorldSize} processes" : "")} x {o.GradientAccumulationSteps}");
        var result = TrainProgressView.Run(run.Trainer, run.RunDir, run.Resuming, run.Packing, cancel);
        foreach (var line in run.SkipReport()) AnsiConsole.MarkupLineInterpolated($"[yellow]{line}[/]");
        var modelFolder = result.BestFolder ?? result.LatestFolder;
        if (run.Args.PushToHub is not null && !result.Interrupted)
            AnsiConsole.MarkupLineInterpolated($"pushed {modelFolder} to {run.Push(modelFolder, cancel)}");
        return new Outcome(run.RunDir, modelFolder, result);
    }

    /// <summary>Where the model comes from: the checkpoint fine-tuned, the Hub backbones, or the config built from scratch.</summary>
    static string ModelSource(TrainArgs args, NanoVlm.Models.VlmConfig cfg) =>
        args.Model is { } model ? $"{model} (fine-tuned{(args.Lora is { } l ? $", LoRA rank {l.Rank}" : "")})"
        : cfg.VlmLoadBackboneWeights ? $"{cfg.VitModelType} + {cfg.LmModelType}{(args.Lora is { } lora ? $" (LoRA rank {lora.Rank})" : "")}"
        : $"{args.ConfigFile ?? $"the {args.Preset ?? "tiny"} preset"} from scratch{(args.Lora is { } r ? $" (LoRA rank {r.Rank})" : "")}";

    static void Log(string message) => AnsiConsole.MarkupLineInterpolated($"{message}");
}
