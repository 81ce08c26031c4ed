using System.CommandLine;
using NanoVlm.Hub;
using NanoVlm.Checkpoints;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm push &lt;checkpoint&gt; &lt;repo id&gt; [--private] [--message]</c>: publishes a checkpoint with a model card and prints the repo URL.</summary>
public static class PushCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "checkpoint folder (config.json, weights and tokenizer files are uploaded with a model card), or a LoRA adapter folder (uploaded as it is)" };
        var repo = new Argument<string>("repo-id") { Description = "Hub repo id: name or org/name (created if missing)" };
        var isPrivate = new Option<bool>("--private") { Description = "create the repo private" };
        var message = new Option<string>("--message") { Description = "commit message", DefaultValueFactory = _ => HubClient.DefaultPushMessage };
        var cmd = new Command("push", "Upload a checkpoint to the Hugging Face Hub with a model card (needs HF_TOKEN or $HF_HOME/token)")
        {
            checkpoint, repo, isPrivate, message,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            using var client = new HubClient(HubOptions.FromEnvironment());
            var folder = parse.GetValue(checkpoint)!;
            var adapter = AdapterFiles.IsAdapterFolder(folder);
            IReadOnlyList<string> files = adapter
                ? [.. new[] { AdapterFiles.ConfigFile, AdapterFiles.WeightsFile }.Select(f => Path.Combine(folder, f))]
                : new CheckpointLayout(folder).Files();
            if (adapter) AdapterFiles.ReadConfig(folder);
            Console.WriteLine(await client.PushToHubAsync(files, parse.GetValue(repo)!, parse.GetValue(isPrivate), parse.GetValue(message), ct, modelCard: !adapter));
            return 0;
        });
        return cmd;
    }
}
