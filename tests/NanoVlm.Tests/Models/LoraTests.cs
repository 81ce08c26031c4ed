using NanoVlm.Checkpoints;
using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Models;

/// <summary>LoRA as PEFT computes and stores it: exactness of a fresh and of a merged adapter, decoding with it, PEFT's files.</summary>
[Collection(nameof(RunsAlone))]
public sealed class LoraTests : IDisposable
{
    readonly TempDir dir = new();
    static readonly GenerationOptions Greedy = new() { MaxNewTokens = 8, Greedy = true, StopAtEos = false };

    static LoraConfig Config(bool vision = false, bool projector = false) => new()
    {
        Rank = 4, Alpha = 8, TargetModules = LoraConfig.Targets(LoraConfig.DecoderLinears, vision, projector),
    };

    /// <summary>Random B (a trained adapter): its update is no longer zero.</summary>
    static void Randomize(LoraAdapter adapter, double scale = 0.05)
    {
        using var _ = no_grad();
        foreach (var (name, weight) in adapter.PeftTensors())
            if (name.EndsWith("lora_B.weight", StringComparison.Ordinal)) weight.copy_(randn_like(weight) * scale);
    }

    [Fact]
    public void AFreshAdapterGivesTheBaseLogitsBitForBit()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 2);
        model.eval();
        var (ids, mask, images) = TestModels.Batch(model, [1, 2], [5, 3]);
        var plain = model.forward(ids, images, mask).Logits;
        using var adapter = new LoraAdapter(model, Config(vision: true, projector: true));
        adapter.Attach(model);
        Assert.True(plain.eq(model.forward(ids, images, mask).Logits).all().item<bool>(), "a fresh adapter changed the logits");
    }

    [Fact]
    public void AnAdapterGivesTheSameLogitsUnmergedAndMerged()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 2);
        model.eval();
        var (ids, mask, images) = TestModels.Batch(model, [1, 2], [5, 3]);
        var plain = model.forward(ids, images, mask).Logits;
        using var adapter = new LoraAdapter(model, Config(vision: true, projector: true));
        Randomize(adapter);
        adapter.Attach(model);
        var unmerged = model.forward(ids, images, mask).Logits;
        Assert.True((unmerged - plain).abs().max().item<float>() > 1e-3, "the adapter does not change the logits: the test proves nothing");
        adapter.Detach();
        Assert.True(plain.eq(model.forward(ids, images, mask).Logits).all().item<bool>(), "detaching left the model changed");
        adapter.Merge(model);
        var merged = model.forward(ids, images, mask).Logits;
        Assert.True(merged.allclose(unmerged, rtol: 1e-5, atol: 1e-5), $"merged and unmerged differ by {(merged - unmerged).abs().max().item<float>()}");
    }

    /// <summary>The adapter acts at decode time too: generating with it equals generating with it merged (on the kernels).</summary>
    [Fact]
    public void DecodingAppliesTheAdapterOnEveryPathItAllows()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 6);
        model.eval();
        var (ids, mask, images) = TestModels.Batch(model, [1, 1], [4, 6]);
        var baseTokens = model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Kernels });
        using var adapter = new LoraAdapter(model, Config());
        Randomize(adapter, scale: 1);
        adapter.Attach(model);
        var auto = model.Generate(ids, images, mask, Greedy);
        var modules = model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Modules });
        var e = Assert.Throws<NanoVlmException>(() => model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Kernels }));
        Assert.Contains("forward hook", e.Message);
        adapter.Detach();
        adapter.Merge(model);
        var merged = model.Generate(ids, images, mask, Greedy with { DecodePath = DecodePath.Kernels });
        Assert.True(auto.eq(modules).all().item<bool>() && auto.eq(merged).all().item<bool>(),
            "the adapter's tokens differ between the paths or from the merged model");
        Assert.False(auto.eq(baseTokens).all().item<bool>(), "the adapter did not change the tokens: the test proves nothing");
    }

    [Fact]
    public void AdaptersAreWrittenAndReadAsPeftDoes()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 2);
        using var adapter = new LoraAdapter(model, Config() with { BaseModel = "org/base" });
        Randomize(adapter);
        var folder = dir["adapter"];
        AdapterFiles.Save(folder, adapter);
        Assert.Equal([AdapterFiles.ConfigFile, AdapterFiles.WeightsFile], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, AdapterFiles.ConfigFile)))!;
        Assert.Equal(("LORA", 4, 8.0, "org/base"), (json["peft_type"]!.GetValue<string>(), json["r"]!.GetValue<int>(),
            json["lora_alpha"]!.GetValue<double>(), json["base_model_name_or_path"]!.GetValue<string>()));
        using (var file = SafetensorsFile.Open(Path.Combine(folder, AdapterFiles.WeightsFile)))
        {
            var blocks = model.Config.LmNBlocks;
            Assert.Equal(blocks * 7 * 2, file.Entries.Count);
            Assert.Equal([4L, model.Config.LmHiddenDim], file.Entries["base_model.model.decoder.blocks.0.attn.q_proj.lora_A.weight"].Shape);
            Assert.Equal([(long)model.Config.LmInterDim, 4], file.Entries[$"base_model.model.decoder.blocks.{blocks - 1}.mlp.up_proj.lora_B.weight"].Shape);
        }
        using var loaded = AdapterFiles.Load(folder, model);
        foreach (var ((name, a), (_, b)) in adapter.PeftTensors().Zip(loaded.PeftTensors()))
            Assert.True(a.eq(b).all().item<bool>(), name);

        // PEFT's list form of target_modules: every module whose name ends with one of them (here the decoder's and the ViT's out_proj).
        json["target_modules"] = new System.Text.Json.Nodes.JsonArray("out_proj");
        File.WriteAllText(Path.Combine(folder, AdapterFiles.ConfigFile), json.ToJsonString());
        using var listed = new LoraAdapter(model, AdapterFiles.ReadConfig(folder));
        Assert.Equal(model.Config.LmNBlocks + model.Config.VitNBlocks, listed.Paths.Count);
        Assert.All(listed.Paths, p => Assert.EndsWith(".out_proj", p));
    }

    [Theory]
    [InlineData("""{"peft_type": "PREFIX_TUNING", "r": 4}""", "peft_type 'PREFIX_TUNING' is not LORA")]
    [InlineData("""{"peft_type": "LORA", "r": 4, "target_modules": "q_proj", "bias": "all"}""", "bias 'all' is not supported")]
    [InlineData("""{"peft_type": "LORA", "r": 0, "target_modules": "q_proj"}""", "LoraRank must be between 1 and 4096, got 0")]
    [InlineData("""{"peft_type": "LORA", "r": 4, "target_modules": 7}""", "target_modules must be a string or a list of names")]
    [InlineData("""{"peft_type": "LORA", "r": 4, "target_modules": "(unclosed"}""", "is not a regular expression")]
    public void ABadAdapterConfigIsAOneLineError(string json, string message)
    {
        var folder = Directory.CreateDirectory(dir["bad"]).FullName;
        File.WriteAllText(Path.Combine(folder, AdapterFiles.ConfigFile), json);
        var e = Assert.Throws<NanoVlmException>(() => AdapterFiles.ReadConfig(folder));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnAdapterForAnotherModelIsRefused()
    {
        using var small = TestModels.Create(seed: 1);
        using var adapter = new LoraAdapter(small, Config());
        var folder = dir["other"];
        AdapterFiles.Save(folder, adapter);
        using var wider = TestModels.Create(seed: 1, TestModels.Tiny with { LmInterDim = TestModels.Tiny.LmInterDim * 2 });
        var e = Assert.Throws<NanoVlmException>(() => AdapterFiles.Load(folder, wider).Dispose());
        Assert.Contains("mlp.gate_proj.lora_B.weight has shape", e.Message);
    }

    public void Dispose() => dir.Dispose();
}
