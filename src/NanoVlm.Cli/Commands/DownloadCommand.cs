using System.CommandLine;
using NanoVlm.Hub;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm download &lt;repo id&gt; [--revision] [--repo-type] [--include pattern]...</c>: fetches a repo into the shared Hub cache and prints its snapshot folder.</summary>
public static class DownloadCommand
{
    public static Command Create()
    {
        var repo = new Argument<string>("repo-id") { Description = "Hub repo id: name or org/name" };
        var revision = new Option<string>("--revision") { Description = "branch, tag or commit sha", DefaultValueFactory = _ => "main" };
        var type = new Option<string>("--repo-type") { Description = "model or dataset", DefaultValueFactory = _ => "model" };
        type.AcceptOnlyFromAmong("model", "dataset");
        var include = new Option<string[]>("--include") { Description = "only files matching this pattern (e.g. '*.json'); repeatable" };
        var cmd = new Command("download", "Download a Hub repo into the cache shared with huggingface_hub and print its folder") { repo, revision, type, include };
        cmd.SetAction(async (parse, ct) =>
        {
            using var client = new HubClient(HubOptions.FromEnvironment(), new ConsoleDownloadProgress());
            var folder = await client.DownloadSnapshotAsync(
                parse.GetValue(repo)!,
                parse.GetValue(revision)!,
                parse.GetValue(include),
                parse.GetValue(type) == "dataset" ? RepoType.Dataset : RepoType.Model,
                ct);
            Console.WriteLine(folder);
            return 0;
        });
        return cmd;
    }
}
