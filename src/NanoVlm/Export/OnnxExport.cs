using System.Text.Json;
using System.Text.Json.Nodes;
using NanoVlm.Checkpoints;
using NanoVlm.Models;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Export;

/// <summary>
/// Writes a model as SmolVLM's ONNX layout: <c>onnx/vision_encoder.onnx</c>, <c>onnx/embed_tokens.onnx</c> and
/// <c>onnx/decoder_model_merged.onnx</c> (<c>_fp16</c> before <c>.onnx</c> for half-precision weights), beside nanoVLM's
/// <c>config.json</c>, the tokenizer files, <c>preprocessor_config.json</c> (how images and prompts are prepared, spelled out for
/// the model's generation) and <c>generation_config.json</c>. The folder appears whole or not at all.
/// </summary>
public static class OnnxExport
{
    public const string GraphFolder = "onnx", PreprocessorFile = "preprocessor_config.json", GenerationConfigFile = "generation_config.json";

    /// <summary>The file of one graph inside the export folder.</summary>
    public static string GraphPath(string folder, string graph, bool halfWeights) =>
        Path.Combine(folder, GraphFolder, graph + (halfWeights ? "_fp16" : "") + ".onnx");

    /// <summary>Exports <paramref name="vlm"/> (its adapter, if any, merged first) into <paramref name="folder"/>, which must not exist.</summary>
    public static void Export(PretrainedVlm vlm, string folder, OnnxExportOptions options)
    {
        options.Validate();
        if (Directory.Exists(folder) || File.Exists(folder)) throw new NanoVlmException($"{folder}: already exists (the export writes a new folder)");
        if (vlm.Adapter is not null) vlm.MergeAdapter();
        var full = Path.GetFullPath(folder);
        var tmp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            Directory.CreateDirectory(Path.Combine(tmp, GraphFolder));
            var graphs = new VlmOnnxGraphs(vlm.Model, options.Opset, options.HalfWeights);
            foreach (var build in new Func<OnnxModel>[] { graphs.BuildVisionEncoder, graphs.BuildEmbedTokens, graphs.BuildDecoder })
            {
                var model = build();
                OnnxGraphCheck.Check(model);
                using var file = new FileStream(GraphPath(tmp, model.GraphName, options.HalfWeights), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                OnnxProtoWriter.Write(model, file);
            }
            File.WriteAllText(Path.Combine(tmp, CheckpointLayout.ConfigFile), vlm.Config.ToJson());
            new CheckpointLayout(tmp).CopyTokenizerFrom(Path.GetDirectoryName(Path.GetFullPath(vlm.Tokenizer.Source))!);
            File.WriteAllText(Path.Combine(tmp, PreprocessorFile), Preprocessor(vlm).ToJsonString(Indented));
            File.WriteAllText(Path.Combine(tmp, GenerationConfigFile), GenerationConfig(vlm).ToJsonString(Indented));
            Directory.Move(tmp, full);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// What a runtime needs to prepare inputs, with the generation's choices spelled out (so it needs no knowledge of nanoVLM's
    /// generations): tile size and splitting, the placeholders, the prompt format and the decoder's cache shape.
    /// </summary>
    static JsonObject Preprocessor(PretrainedVlm vlm)
    {
        var cfg = vlm.Config;
        var splits = cfg.Generation.SplitsImages();
        return new JsonObject
        {
            ["processor_class"] = "NanoVlmProcessor",
            ["nanovlm_generation"] = cfg.Generation.ToString(),
            ["tile_size"] = cfg.VitImgSize,
            ["split_images"] = splits,
            ["max_image_size"] = cfg.MaxImgSize,
            ["resize_to_max_side_len"] = cfg.ResizeToMaxSideLen,
            ["global_image"] = splits && vlm.Tokenizer.ExtraTokenIds.ContainsKey("global_image_token"),
            ["rescale_factor"] = 1.0 / 255,
            ["resample_square"] = "bilinear",
            ["resample_split"] = "bicubic",
            ["prepend_images"] = cfg.PrependsImages,
            ["image_token"] = cfg.PrependsImages ? null : cfg.ImageToken,
            ["image_token_id"] = cfg.PrependsImages ? null : vlm.Model.ImageTokenId,
            ["image_seq_len"] = cfg.MpImageTokenLength,
            ["extra_tokens"] = new JsonObject(cfg.VlmExtraTokens.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["prompt_format"] = splits ? "chatml" : "question_answer",
            ["num_hidden_layers"] = cfg.LmNBlocks,
            ["num_key_value_heads"] = cfg.LmNKvHeads,
            ["head_dim"] = cfg.LmHeadDim,
            ["hidden_size"] = cfg.LmHiddenDim,
            ["max_position_embeddings"] = cfg.LmMaxPositionEmbeddings,
        };
    }

    static JsonObject GenerationConfig(PretrainedVlm vlm) => new()
    {
        ["eos_token_id"] = vlm.Tokenizer.EosTokenId,
        ["pad_token_id"] = vlm.Tokenizer.PadTokenId,
        ["max_length"] = vlm.Config.LmMaxPositionEmbeddings,
    };
}
