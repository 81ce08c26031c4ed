using System.CommandLine;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm merge</c>: a LoRA adapter folded into its base model's weights, saved as a plain checkpoint.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var adapter = new Option<string>("--adapter") { Description = "the LoRA adapter: a PEFT folder or Hub repo id", Required = true };
        var model = new Option<string?>("--model") { Description = "the base model (default: the adapter's base_model_name_or_path)" };
        var output = new Option<string>("--out") { Description = "folder for the merged checkpoint (must not exist)", Required = true };
        var cmd = new Command("merge", "Fold a LoRA adapter into its base model and save a full checkpoint") { adapter, model, output };
        cmd.SetAction(parse =>
        {
            var progress = new ConsoleDownloadProgress();
            var folder = PretrainedSources.ResolveAdapterFolder(parse.GetValue(adapter)!, progress);
            var target = parse.GetValue(output)!;
            if (Directory.Exists(target) || File.Exists(target)) throw new NanoVlmException($"{target}: already exists (merge writes a new folder)");
            var baseModel = parse.GetValue(model) ?? AdapterFiles.ReadConfig(folder).BaseModel
                ?? throw new NanoVlmException($"{folder}: the adapter names no base_model_name_or_path; give the base with --model");
            using var vlm = PretrainedVlm.Load(baseModel, progress);
            vlm.ApplyAdapter(folder, progress);
            vlm.MergeAdapter();
            var tmp = target + $".tmp-{Environment.ProcessId}";
            vlm.Save(tmp);
            Directory.Move(tmp, target);
            Console.WriteLine($"merged {folder} into {baseModel}: {target}");
            return 0;
        });
        return cmd;
    }
}
