using Microsoft.ML.OnnxRuntime;
using NanoVlm.Runtime;

namespace NanoVlm.Onnx;

/// <summary>
/// The three graphs of an export (<c>onnx/vision_encoder.onnx</c>, <c>embed_tokens.onnx</c>, <c>decoder_model_merged.onnx</c>, or
/// their <c>_fp16</c> files) loaded with all of ONNX Runtime's graph optimizations. A missing, truncated or corrupt file, or a graph
/// without the inputs the layout names, is a one-line error naming the file.
/// </summary>
public sealed class OnnxSessions : IDisposable
{
    public const string GraphFolder = "onnx", VisionEncoderGraph = "vision_encoder", EmbedTokensGraph = "embed_tokens", DecoderGraph = "decoder_model_merged";

    readonly SessionOptions options;

    public OnnxSessions(string folder, int? threads = null)
    {
        options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads is { } n) options.IntraOpNumThreads = n;
        try
        {
            Vision = Load(folder, VisionEncoderGraph, "pixel_values");
            Embed = Load(folder, EmbedTokensGraph, "input_ids");
            Decoder = Load(folder, DecoderGraph, "inputs_embeds", "attention_mask", "position_ids");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public InferenceSession Vision { get; } = null!;
    public InferenceSession Embed { get; } = null!;
    public InferenceSession Decoder { get; } = null!;

    /// <summary>The file of a graph: the float32 one, else the one with float16 weights.</summary>
    public static string GraphPath(string folder, string graph)
    {
        var full = Path.Combine(folder, GraphFolder, graph + ".onnx");
        var half = Path.Combine(folder, GraphFolder, graph + "_fp16.onnx");
        return File.Exists(full) || !File.Exists(half) ? full : half;
    }

    InferenceSession Load(string folder, string graph, params string[] inputs)
    {
        var file = GraphPath(folder, graph);
        if (!File.Exists(file)) throw new NanoVlmException($"{file}: missing (is {folder} a folder written by nanovlm export onnx?)");
        InferenceSession session;
        try
        {
            session = new InferenceSession(file, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new NanoVlmException($"{file}: not a loadable ONNX model ({e.Message.ReplaceLineEndings(" ").Trim()})");
        }
        if (inputs.FirstOrDefault(i => !session.InputMetadata.ContainsKey(i)) is { } missing)
        {
            session.Dispose();
            throw new NanoVlmException($"{file}: the graph has no input '{missing}' ({graph} takes {string.Join(", ", inputs)})");
        }
        return session;
    }

    public void Dispose()
    {
        Vision?.Dispose();
        Embed?.Dispose();
        Decoder?.Dispose();
        options.Dispose();
    }
}
