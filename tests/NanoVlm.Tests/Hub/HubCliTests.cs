using System.CommandLine;
using NanoVlm.Cli.Commands;

namespace NanoVlm.Tests.Hub;

[CollectionDefinition(nameof(HubCliTests), DisableParallelization = true)]
public sealed class HubCliCollection;

/// <summary>The commands read HF_* from the process environment and print to stdout, so these tests run alone.</summary>
[Collection(nameof(HubCliTests))]
public sealed class HubCliTests : IDisposable
{
    private static readonly string[] Variables = ["HF_ENDPOINT", "HF_HUB_CACHE", "HF_TOKEN", "HF_HUB_OFFLINE", "HF_HOME"];
    private readonly HubFixture _f = new();
    private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);

    public HubCliTests()
    {
        foreach (var v in Variables)
            Environment.SetEnvironmentVariable(v, null);
        Environment.SetEnvironmentVariable("HF_ENDPOINT", _f.Hub.Endpoint);
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", _f.CacheDir);
        Environment.SetEnvironmentVariable("HF_TOKEN", HubFixture.Token);
    }

    [Fact]
    public void Push_then_download_print_the_url_and_the_snapshot_folder()
    {
        var checkpoint = Directory.CreateDirectory(Path.Combine(_f.CacheDir, "ckpt")).FullName;
        File.WriteAllText(Path.Combine(checkpoint, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(checkpoint, "model.safetensors"), HubFixture.RandomBytes(3000, 1));

        var (code, output) = Run(PushCommand.Create(), "push", checkpoint, "me/cli", "--private", "--message", "from the CLI");
        Assert.Equal(0, code);
        Assert.Equal($"{_f.Hub.Endpoint}/me/cli", output.Trim());
        Assert.Contains("\"summary\":\"from the CLI\"", _f.Hub.CommitLines.First());

        (code, output) = Run(DownloadCommand.Create(), "download", "me/cli", "--include", "*.json", "--include", "README.md");
        Assert.Equal(0, code);
        var folder = output.Trim();
        Assert.Equal(Path.Combine(_f.CacheDir, "models--me--cli", "snapshots", _f.Hub.Repo("me/cli")!.Head), folder);
        Assert.Equal(["README.md", "config.json"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    private static (int Code, string Output) Run(Command command, params string[] args)
    {
        var root = new RootCommand { command };
        var output = new StringWriter();
        var stdout = Console.Out;
        Console.SetOut(output);
        try
        {
            return (root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }), output.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
        }
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved)
            Environment.SetEnvironmentVariable(name, value);
        _f.Dispose();
    }
}
