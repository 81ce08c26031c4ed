using NanoVlm.Models;
using NanoVlm.Hub;
using NanoVlm.Tests.Hub;
using NanoVlm.Checkpoints;

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

    /// <summary>
    /// The current generation's backbones by name: a SigLIP2 fixed-resolution repo and SmolLM2-360M-Instruct with sharded weights
    /// (model.safetensors.index.json), trained on with image splitting and the chat template, then generating.
    /// </summary>
    [Fact]
    public void TrainsTheCurrentGenerationFromSigLip2AndShardedSmolLm2()
    {
        var siglip = Files(Path.Combine(golden, "hf-siglip"), "config.json", "model.safetensors");
        siglip["config.json"] = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(siglip["config.json"])
            .Replace("\"siglip\"", "\"siglip2\"").Replace("siglip_vision_model", "siglip2_vision_model"));
        hub.Hub.AddRepo("google/siglip2-base-patch16-512", siglip);
        var llama = Files(Path.Combine(golden, "hf-smollm2"), "config.json");
        using (var whole = SafetensorsFile.Open(Path.Combine(golden, "hf-smollm2", "model.safetensors")))
        {
            var names = whole.Entries.Keys.Order(StringComparer.Ordinal).ToList();
            var shards = names.Chunk((names.Count + 1) / 2).ToList();
            var weightMap = new System.Text.Json.Nodes.JsonObject();
            for (var i = 0; i < shards.Count; i++)
            {
                var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                var path = dir[file];
                SafetensorsFile.Save(path, shards[i].Select(n => new KeyValuePair<string, TorchSharp.torch.Tensor>(n, whole.Load(n))));
                llama[file] = File.ReadAllBytes(path);
                foreach (var n in shards[i]) weightMap[n] = file;
            }
            llama["model.safetensors.index.json"] = System.Text.Encoding.UTF8.GetBytes(
                new System.Text.Json.Nodes.JsonObject { ["metadata"] = new System.Text.Json.Nodes.JsonObject(), ["weight_map"] = weightMap }.ToJsonString());
        }
        var v02 = GoldenCases.First(GoldenCases.V02Format);
        foreach (var (name, bytes) in Files(Path.Combine(v02, "tokenizer"), "tokenizer.json", "tokenizer_config.json")) llama[name] = bytes;
        hub.Hub.AddRepo("HuggingFaceTB/SmolLM2-360M-Instruct", llama);

        var config = Path.Combine(dir.Path, "current.json");
        File.WriteAllText(config, (Presets.Get("460m") with { MaxImgSize = 64 }).ToJson());
        var data = TestJsonl.Write(dir["data"], 12);
        var (code, output, err) = CliProcess.Run(Environment, "train", "--config", config, "--data", $"jsonl:{data}", "--output", dir.Path,
            "--run-name", "current", "--batch-size", "4", "--max-steps", "2", "--eval-interval", "2", "--eval-samples", "2", "--val-ratio", "0.25");
        Assert.True(code == 0, err + output);
        Assert.Contains("google/siglip2-base-patch16-512 + HuggingFaceTB/SmolLM2-360M-Instruct", output.ReplaceLineEndings(" "));
        var best = Path.Combine(dir["current"], "best");
        var saved = VlmConfig.Load(Path.Combine(best, "config.json"));
        Assert.Equal((CheckpointGeneration.Current, 32, 64, 1), (saved.Generation, saved.VitImgSize, saved.MaxImgSize, saved.MpImageTokenLength));
        (code, output, err) = CliProcess.Run("generate", "--model", best, "--image", Path.Combine(dir["data"], "0.png"), "--greedy",
            "--generations", "1", "--max-new-tokens", "2");
        Assert.True(code == 0, err);
        Assert.Contains(">> Generation 1:", output);
    }

    /// <summary>A word-level run (its tokenizer is no public repo) pushed, then run from the repo id alone with an empty cache.</summary>
    [Fact]
    public void APushedWordLevelRunGeneratesFromTheHubAlone()
    {
        var data = TestJsonl.Write(dir["data"], 12);
        var (code, output, err) = CliProcess.Run(Environment, "train", "--preset", "tiny", "--data", $"jsonl:{data}", "--output", dir.Path,
            "--run-name", "w", "--batch-size", "4", "--max-steps", "2", "--eval-interval", "2", "--eval-samples", "2", "--val-ratio", "0.25",
            "--push-to-hub", "me/wordlevel");
        Assert.True(code == 0, err + output);
        var pushed = hub.Hub.Repo("me/wordlevel")!;
        Assert.Equal(["README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"], pushed.Snapshots[pushed.Head].Keys.Order(StringComparer.Ordinal));

        string[] Generate(string model) =>
            ["generate", "--model", model, "--image", Path.Combine(Path.GetDirectoryName(data)!, "0.png"), "--greedy", "--generations", "1", "--max-new-tokens", "3"];
        var (_, local, _) = CliProcess.Run(Generate(Path.Combine(dir["w"], "best")));
        var fresh = Environment;
        fresh["HF_HUB_CACHE"] = dir["empty-cache"];
        (code, output, err) = CliProcess.Run(fresh, Generate("me/wordlevel"));
        Assert.True(code == 0, err);
        Assert.Contains(">> Generation 1:", output);
        Assert.Equal(local, output);

        // `nanovlm push` uploads the same files through the checkpoint layout.
        (code, output, err) = CliProcess.Run(Environment, "push", Path.Combine(dir["w"], "best"), "me/again");
        Assert.True(code == 0, err);
        var again = hub.Hub.Repo("me/again")!;
        Assert.Contains("tokenizer.json", again.Snapshots[again.Head].Keys);
    }

    public void Dispose()
    {
        hub.Dispose();
        dir.Dispose();
    }
}
