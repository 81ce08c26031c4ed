using NanoVlm.Checkpoints;
using NanoVlm.Models;
using NanoVlm.Tests.Hub;

namespace NanoVlm.Tests.Cli;

/// <summary>LoRA adapters through the fake Hub. Alone: building an adapter draws from libtorch's global generator, which parallel tests seed.</summary>
[Collection(nameof(RunsAlone))]
public sealed class HubAdapterTests : IDisposable
{
    readonly HubFixture hub = new();
    readonly TempDir dir = new();

    Dictionary<string, string> Environment => new()
    {
        ["HF_ENDPOINT"] = hub.Hub.Endpoint, ["HF_HUB_CACHE"] = hub.CacheDir, ["HF_TOKEN"] = HubFixture.Token, ["HF_HOME"] = dir["hf-home"],
    };

    static Dictionary<string, byte[]> Files(string folder, params string[] names) =>
        names.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(folder, n)));

    /// <summary>An adapter folder is pushed as it is (no model card) and applied by repo id, on top of a base named by repo id too.</summary>
    [Fact]
    public void AnAdapterIsPushedAsItIsAndAppliedFromTheHub()
    {
        var v02 = GoldenCases.First(GoldenCases.V02Format);
        var baseFiles = Files(v02, "config.json", "model.safetensors");
        foreach (var (name, bytes) in Files(Path.Combine(v02, "tokenizer"), "tokenizer.json", "tokenizer_config.json")) baseFiles[name] = bytes;
        hub.Hub.AddRepo("someone/base", baseFiles);
        var folder = dir["adapter"];
        using (var vlm = NanoVlm.Pretrained.PretrainedVlm.Load(v02))
        using (var adapter = new LoraAdapter(vlm.Model, new LoraConfig { Rank = 2, BaseModel = "someone/base" }))
        {
            using (TorchSharp.torch.no_grad())
                foreach (var (_, w) in adapter.PeftTensors()) w.copy_(TorchSharp.torch.randn_like(w));
            AdapterFiles.Save(folder, adapter);
        }
        var (code, output, err) = CliProcess.Run(Environment, "push", folder, "me/adapter");
        Assert.True(code == 0, err + output);
        var pushed = hub.Hub.Repo("me/adapter")!;
        Assert.Equal([AdapterFiles.ConfigFile, AdapterFiles.WeightsFile], pushed.Snapshots[pushed.Head].Keys.Where(k => !k.StartsWith('.')).Order());
        string Answer(params string[] model)
        {
            var (c, o, e) = CliProcess.Run(Environment, ["generate", .. model, "--image", Path.Combine(v02, "image_2.png"), "--greedy",
                "--generations", "1", "--max-new-tokens", "6"]);
            Assert.True(c == 0, e);
            return o.ReplaceLineEndings("\n").Split('\n').Single(l => l.Contains(">> Generation 1:"));
        }
        var adapted = Answer("--model", "someone/base", "--adapter", "me/adapter");
        Assert.Equal(adapted, Answer("--model", folder));
        Assert.NotEqual(Answer("--model", "someone/base"), adapted);
    }

    public void Dispose()
    {
        hub.Dispose();
        dir.Dispose();
    }
}
