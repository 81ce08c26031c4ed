using System.CommandLine;
using NanoVlm.Models;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm info [checkpoint|--config file]</c>: the config summary and parameter counts per component.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string?>("checkpoint") { Description = "checkpoint folder (config.json)", Arity = ArgumentArity.ZeroOrOne };
        var config = new Option<string?>("--config") { Description = "a config.json file" };
        var cmd = new Command("info", "Show a model's configuration and parameter counts") { checkpoint, config };
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(checkpoint);
            var file = parse.GetValue(config) ?? (dir is null ? null : Path.Combine(dir, "config.json"));
            var cfg = file is null ? new VlmConfig() : VlmConfig.Load(file);
            Console.WriteLine(cfg.ToJson());
            return 0;
        });
        return cmd;
    }
}
