using System.CommandLine;
using NanoVlm.Models;
using Spectre.Console;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm info [checkpoint|--config file]</c>: the config summary and parameter counts per component.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string?>("checkpoint") { Description = "checkpoint folder or Hub repo id (its config and weights are checked)", Arity = ArgumentArity.ZeroOrOne };
        var config = new Option<string?>("--config") { Description = "a nanoVLM config.json (default: the 222M model)" };
        var device = new Option<bool>("--device") { Description = "show the libtorch loaded (path, version) and the devices found" };
        var cmd = new Command("info", "Show a model's configuration and parameter counts") { checkpoint, config, device };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(device))
            {
                DeviceReport.Print();
                return 0;
            }
            if (parse.GetValue(checkpoint) is { } name)
            {
                if (parse.GetValue(config) is not null) throw new NanoVlmException("give a checkpoint or --config, not both");
                var folder = PretrainedSources.ResolveModelFolder(name, new ConsoleDownloadProgress());
                var cfg = Checkpoint.Verify(folder);
                Print(cfg, folder);
                Console.WriteLine("weights: ok");
                return 0;
            }
            var file = parse.GetValue(config);
            Print(file is null ? new VlmConfig() : VlmConfig.Load(file), file ?? "default 222M config");
            return 0;
        });
        return cmd;
    }

    static void Print(VlmConfig cfg, string source)
    {
        // From the config alone: building even on the meta device allocates the embedding (libtorch builds its weight itself).
        var (vision, projector, decoder, total) = cfg.EstimatedParameterCounts();
        var table = new Table().Title($"[bold]{Markup.Escape(source)}[/]").AddColumn("component").AddColumn("shape")
            .AddColumn(new TableColumn("parameters").RightAligned());
        table.AddRow("vision encoder", Markup.Escape(
            $"ViT {cfg.VitNBlocks} blocks, dim {cfg.VitHiddenDim}, {cfg.VitNHeads} heads, {cfg.VitImgSize}px / patch {cfg.VitPatchSize} ({cfg.VitModelType})"), $"{vision:N0}");
        table.AddRow("projector", Markup.Escape(
            $"pixel shuffle {cfg.MpPixelShuffleFactor}, {cfg.MpImageTokenLength} tokens per image"), $"{projector:N0}");
        table.AddRow("decoder", Markup.Escape(
            $"{cfg.LmNBlocks} blocks, dim {cfg.LmHiddenDim}, {cfg.LmNHeads} heads / {cfg.LmNKvHeads} kv, vocab {cfg.LmVocabSize}{(cfg.LmTieWeights ? ", tied head" : "")} ({cfg.LmModelType})"), $"{decoder:N0}");
        table.AddRow("[bold]total[/]", "", $"[bold]{total:N0}[/]");
        AnsiConsole.Write(table);
        Console.WriteLine($"generation: {cfg.Generation}");
        Console.WriteLine($"total parameters: {total:N0} (vision {vision:N0}, projector {projector:N0}, decoder {decoder:N0})");
    }
}
