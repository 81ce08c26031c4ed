using NanoVlm.Hub;
using NanoVlm.Tests.Hub;

namespace NanoVlm.Tests.Cli;

/// <summary>
/// `generate --model <repo id>` and `train --preset 222m` against the fake Hub through HF_ENDPOINT, exactly as against the real
/// one: the 222m preset names google/siglip-base-patch16-224, HuggingFaceTB/SmolLM2-135M and HuggingFaceTB/cosmo2-tokenizer,
/// which the fake Hub serves with the golden case's tiny backbones and a small word-level tokenizer.
/// </summary>
public sealed class HubWorkflowTests : IDisposable
{
    readonly HubFixture hub = new();
    readonly TempDir dir = new();
    readonly string golden = GoldenCases.First(GoldenCases.SeedFormat);

    Dictionary<string, string> Environment => new()
    {
        ["HF_ENDPOINT"] = hub.Hub.Endpoint, ["HF_HUB_CACHE"] = hub.CacheDir, ["HF_TOKEN"] = HubFixture.Token, ["HF_HOME"] = dir["hf-home"],
    };

    static Dictionary<string, byte[]> Files(string folder, params string[] names) =>
        names.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(folder, n)));

    Dictionary<string, byte[]> Tokenizer() => Files(Data.Fixture.Path("wordlevel"), "tokenizer.json", "tokenizer_config.json");

    [Fact]
    public void GenerateFromARepoId()
    {
        var files = Files(golden, "config.json", "model.safetensors");
        foreach (var (name, bytes) in Tokenizer()) files[name] = bytes;
        hub.Hub.AddRepo("someone/nanoVLM-test", files);
        var (code, output, err) = CliProcess.Run(Environment, "generate", "--model", "someone/nanoVLM-test",
            "--image", Path.Combine(golden, "image_0_0.png"), "--generations", "1", "--max-new-tokens", "4", "--greedy");
        Assert.True(code == 0, err);
        Assert.Contains("  >> Generation 1: ", output);
        Assert.True(Directory.Exists(Path.Combine(hub.CacheDir, "models--someone--nanoVLM-test", "snapshots")));

        // Cached: the same command works offline.
        var offline = Environment;
        offline["HF_HUB_OFFLINE"] = "1";
        (code, _, err) = CliProcess.Run(offline, "generate", "--model", "someone/nanoVLM-test",
            "--image", Path.Combine(golden, "image_0_0.png"), "--generations", "1", "--max-new-tokens", "2", "--greedy");
        Assert.True(code == 0, err);
    }

    [Fact]
    public void Train222mPresetBuildsFromHubBackbonesAndPushes()
    {
        hub.Hub.AddRepo("google/siglip-base-patch16-224", Files(Path.Combine(golden, "hf-siglip"), "config.json", "model.safetensors"));
        hub.Hub.AddRepo("HuggingFaceTB/SmolLM2-135M", Files(Path.Combine(golden, "hf-smollm2"), "config.json", "model.safetensors"));
        hub.Hub.AddRepo("HuggingFaceTB/cosmo2-tokenizer", Tokenizer());
        var data = TestJsonl.Write(dir["data"], 12);
        var (code, output, err) = CliProcess.Run(Environment, "train", "--preset", "222m", "--data", $"jsonl:{data}", "--output", dir.Path,
            "--run-name", "r", "--batch-size", "4", "--max-steps", "2", "--eval-interval", "2", "--eval-samples", "2", "--val-ratio", "0.25",
            "--push-to-hub", "me/trained");
        Assert.True(code == 0, err + output);
        Assert.Contains("siglip-base-patch16-224 + HuggingFaceTB/SmolLM2-135M", output.ReplaceLineEndings(" "));
        var pushed = hub.Hub.Repo("me/trained");
        Assert.NotNull(pushed);
        Assert.Contains("model.safetensors", pushed!.Snapshots[pushed.Head].Keys);
        Assert.Contains("README.md", pushed.Snapshots[pushed.Head].Keys);
    }

    public void Dispose()
    {
        hub.Dispose();
        dir.Dispose();
    }
}
