using System.Text.Json;
using System.Text.Json.Nodes;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Onnx;

/// <summary>
/// What an exported folder's <c>preprocessor_config.json</c> and <c>generation_config.json</c> say about preparing inputs and
/// the decoder's cache (written by <c>nanovlm export onnx</c>). A missing or malformed field is a one-line error naming file and field.
/// </summary>
public sealed record OnnxVlmSettings
{
    public required CheckpointGeneration Generation { get; init; }
    public required int TileSize { get; init; }
    public required bool SplitImages { get; init; }
    public required int MaxImageSize { get; init; }
    public required bool ResizeToMaxSideLen { get; init; }
    public required bool GlobalImage { get; init; }
    public required bool PrependImages { get; init; }
    /// <summary>The placeholder's id; null when the images are prepended (v0.1).</summary>
    public required int? ImageTokenId { get; init; }
    public required int ImageSeqLen { get; init; }
    public required IReadOnlyDictionary<string, string> ExtraTokens { get; init; }
    public required int NumLayers { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int HiddenSize { get; init; }
    public required int MaxPositions { get; init; }
    public required int EosTokenId { get; init; }

    public const string PreprocessorFile = "preprocessor_config.json", GenerationConfigFile = "generation_config.json";

    public static OnnxVlmSettings Load(string folder)
    {
        var preFile = Path.Combine(folder, PreprocessorFile);
        var pre = Read(preFile);
        var gen = Read(Path.Combine(folder, GenerationConfigFile));
        T Field<T>(JsonObject json, string file, string name)
        {
            try
            {
                return json[name] is { } node ? node.GetValue<T>() : throw new NanoVlmException($"{file}: missing '{name}'");
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new NanoVlmException($"{file}: '{name}' is not a {typeof(T).Name}: {json[name]!.ToJsonString()}");
            }
        }
        int Positive(JsonObject json, string file, string name) =>
            Field<int>(json, file, name) is var v && v > 0 ? v : throw new NanoVlmException($"{file}: '{name}' must be positive, got {v}");
        var generationName = Field<string>(pre, preFile, "nanovlm_generation");
        if (!Enum.TryParse<CheckpointGeneration>(generationName, out var generation) || !Enum.IsDefined(generation))
            throw new NanoVlmException($"{preFile}: unknown nanovlm_generation '{generationName}'");
        var prepend = Field<bool>(pre, preFile, "prepend_images");
        var extra = pre["extra_tokens"] as JsonObject ?? throw new NanoVlmException($"{preFile}: missing 'extra_tokens'");
        return new OnnxVlmSettings
        {
            Generation = generation,
            TileSize = Positive(pre, preFile, "tile_size"),
            SplitImages = Field<bool>(pre, preFile, "split_images"),
            MaxImageSize = Positive(pre, preFile, "max_image_size"),
            ResizeToMaxSideLen = Field<bool>(pre, preFile, "resize_to_max_side_len"),
            GlobalImage = Field<bool>(pre, preFile, "global_image"),
            PrependImages = prepend,
            ImageTokenId = prepend ? null : Field<int>(pre, preFile, "image_token_id"),
            ImageSeqLen = Positive(pre, preFile, "image_seq_len"),
            ExtraTokens = extra.ToDictionary(p => p.Key, p => p.Value?.GetValueKind() == JsonValueKind.String
                ? p.Value.GetValue<string>() : throw new NanoVlmException($"{preFile}: extra token '{p.Key}' is not a string")),
            NumLayers = Positive(pre, preFile, "num_hidden_layers"),
            KvHeads = Positive(pre, preFile, "num_key_value_heads"),
            HeadDim = Positive(pre, preFile, "head_dim"),
            HiddenSize = Positive(pre, preFile, "hidden_size"),
            MaxPositions = Positive(pre, preFile, "max_position_embeddings"),
            EosTokenId = Field<int>(gen, Path.Combine(folder, GenerationConfigFile), "eos_token_id"),
        };
    }

    static JsonObject Read(string file)
    {
        if (!File.Exists(file)) throw new NanoVlmException($"{file}: missing (is this a folder written by nanovlm export onnx?)");
        try
        {
            return JsonNode.Parse(RegularFile.ReadAllText(file, RegularFile.MaxConfigBytes, "settings")) as JsonObject
                   ?? throw new NanoVlmException($"{file}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new NanoVlmException($"{file}: invalid JSON: {e.Message.ReplaceLineEndings(" ")}");
        }
    }
}
