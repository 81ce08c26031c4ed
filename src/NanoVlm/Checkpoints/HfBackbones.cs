using System.Text.Json.Nodes;
using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Checkpoints;

/// <summary>
/// Builds a VLM from Hugging Face backbones (spec §4): a SigLIP vision tower and a SmolLM2/Llama decoder, the
/// vocabulary extended for the extra tokens, the projector freshly initialised.
/// </summary>
public static class HfBackbones
{
    public static VisionLanguageModel Load(VlmConfig cfg, string siglipFolder, string llamaFolder)
    {
        cfg = WithVisionConfig(cfg, ReadConfig(siglipFolder));
        cfg = WithLanguageConfig(cfg, ReadConfig(llamaFolder), Path.Combine(llamaFolder, CheckpointLayout.ConfigFile));
        cfg.Validate("backbone configs");
        cfg.EnsureFitsInMemory($"the backbones {siglipFolder} and {llamaFolder}");
        var model = new VisionLanguageModel(cfg);
        try
        {
            using (var vision = TensorStore.Open(siglipFolder))
                Checkpoint.LoadStateDict(model, vision.Source, Sources(model, "vision_encoder.", n => VisionSource(vision, n)), "vision_encoder.");
            using (var language = TensorStore.Open(llamaFolder))
                Checkpoint.LoadStateDict(model, language.Source, Sources(model, "decoder.", n => LanguageSource(model, language, n)), "decoder.");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static JsonObject ReadConfig(string folder)
    {
        var path = Path.Combine(folder, CheckpointLayout.ConfigFile);
        if (!File.Exists(path)) throw new NanoVlmException($"{folder}: missing {CheckpointLayout.ConfigFile}");
        try
        {
            return JsonNode.Parse(RegularFile.ReadAllText(path, RegularFile.MaxConfigBytes, "config")) as JsonObject ?? throw new NanoVlmException($"{path}: expected a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new NanoVlmException($"{path}: invalid JSON ({e.Message.Split('\n')[0]})");
        }
    }

    static T Get<T>(JsonObject json, string key, T fallback, string source)
    {
        if (!json.TryGetPropertyValue(key, out var node) || node is null) return fallback;
        try { return node.GetValue<T>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new NanoVlmException($"{source}: '{key}' has the wrong type ({node.ToJsonString()})");
        }
    }

    /// <summary>A full SigLIP config nests the vision tower under vision_config; a vision-only config does not. Absent keys take HF's defaults.</summary>
    static VlmConfig WithVisionConfig(VlmConfig cfg, JsonObject json)
    {
        var v = json["vision_config"] as JsonObject ?? json;
        const string src = "SigLIP config.json";
        var withVision = cfg with
        {
            VitHiddenDim = Get(v, "hidden_size", 768, src),
            VitInterDim = Get(v, "intermediate_size", 3072, src),
            VitNHeads = Get(v, "num_attention_heads", 12, src),
            VitNBlocks = Get(v, "num_hidden_layers", 12, src),
            VitImgSize = Get(v, "image_size", 224, src),
            VitPatchSize = Get(v, "patch_size", 16, src),
            VitLnEps = Get(v, "layer_norm_eps", 1e-6, src),
            VitDropout = Get(v, "attention_dropout", 0.0, src),
        };
        var grid = withVision.ImagePatchGrid / withVision.MpPixelShuffleFactor;
        return withVision with { MpImageTokenLength = grid * grid };
    }

    static VlmConfig WithLanguageConfig(VlmConfig cfg, JsonObject l, string src)
    {
        var heads = Get(l, "num_attention_heads", 32, src);
        var baseVocab = Get(l, "vocab_size", 32000, src);
        return cfg with
        {
            LmHiddenDim = Get(l, "hidden_size", 4096, src),
            LmInterDim = Get(l, "intermediate_size", 11008, src),
            LmNHeads = heads,
            LmNKvHeads = Get(l, "num_key_value_heads", heads, src),
            LmNBlocks = Get(l, "num_hidden_layers", 32, src),
            LmRmsEps = Get(l, "rms_norm_eps", 1e-6, src),
            LmReBase = Get(l, "rope_theta", 10000.0, src),
            LmMaxPositionEmbeddings = Get(l, "max_position_embeddings", 2048, src),
            LmTieWeights = Get(l, "tie_word_embeddings", false, src),
            LmBaseVocabSize = baseVocab,
            LmVocabSize = baseVocab + cfg.ExtraTokenAmount,
        };
    }

    /// <summary>Sources for the model's tensors under a prefix; the ones a mapping leaves out keep their fresh init.</summary>
    static Dictionary<string, TensorSource> Sources(VisionLanguageModel model, string prefix, Func<string, TensorSource?> map) =>
        model.state_dict().Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .Select(k => (k, source: map(k[prefix.Length..])))
            .Where(x => x.source is not null)
            .ToDictionary(x => x.k, x => x.source!);

    static TensorSource? VisionSource(TensorStore store, string n)
    {
        TensorSource From(string hf, Func<Tensor, Tensor>? f = null) =>
            new(hf, () => f is null ? store.Load(hf) : Transform(store.Load(hf), f));
        const string layers = "vision_model.encoder.layers.";
        switch (n)
        {
            case "patch_embedding.conv.weight": return From("vision_model.embeddings.patch_embedding.weight");
            case "patch_embedding.conv.bias": return From("vision_model.embeddings.patch_embedding.bias");
            case "patch_embedding.position_embedding": return From("vision_model.embeddings.position_embedding.weight", t => t.unsqueeze(0));
            case "layer_norm.weight": return From("vision_model.post_layernorm.weight");
            case "layer_norm.bias": return From("vision_model.post_layernorm.bias");
        }
        if (!n.StartsWith("blocks.", StringComparison.Ordinal)) return null;
        var hfName = layers + n["blocks.".Length..]
            .Replace(".ln1.", ".layer_norm1.").Replace(".ln2.", ".layer_norm2.").Replace(".attn.", ".self_attn.");
        if (!hfName.Contains(".self_attn.qkv_proj.", StringComparison.Ordinal)) return From(hfName);
        // SigLIP keeps q, k, v apart; nanoVLM fuses them into one projection in that order.
        var parts = new[] { "q_proj", "k_proj", "v_proj" }.Select(p => hfName.Replace("qkv_proj", p)).ToArray();
        return new TensorSource(parts[0], () =>
        {
            var loaded = parts.Select(store.Load).ToArray();
            try { return cat(loaded, 0); }
            finally { foreach (var t in loaded) t.Dispose(); }
        });
    }

    static TensorSource? LanguageSource(VisionLanguageModel model, TensorStore store, string n)
    {
        var hf = n switch
        {
            "token_embedding.weight" => "model.embed_tokens.weight",
            "head.weight" when !model.Config.LmTieWeights => "lm_head.weight",
            "norm.weight" => "model.norm.weight",
            _ when n.StartsWith("blocks.", StringComparison.Ordinal) => "model.layers." + n["blocks.".Length..]
                .Replace(".attn.out_proj.", ".self_attn.o_proj.").Replace(".attn.", ".self_attn.")
                .Replace(".norm1.", ".input_layernorm.").Replace(".norm2.", ".post_attention_layernorm."),
            _ => null,
        };
        if (hf is null) return null;
        if (n is not ("token_embedding.weight" or "head.weight")) return new TensorSource(hf, () => store.Load(hf));
        // The VLM's vocabulary is the backbone's plus the extra tokens: their rows keep the fresh N(0, 0.02) init.
        var current = model.state_dict()["decoder." + n];
        return new TensorSource(hf, () => Transform(store.Load(hf), t =>
            t.shape[0] < current.shape[0] ? cat([t.to(current.dtype), current[(int)t.shape[0]..]], 0) : t.alias()));
    }

    static Tensor Transform(Tensor t, Func<Tensor, Tensor> f)
    {
        using (t) return f(t);
    }
}
