using Microsoft.ML.OnnxRuntime;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Runtime;

namespace NanoVlm.Onnx;

/// <summary>
/// A nanoVLM model exported by <c>nanovlm export onnx</c>, run with ONNX Runtime alone: images through the vision encoder, the
/// prompt through the generation's template and the tokenizer, the image features put in place of the placeholders (v0.1: in
/// front of the text), then the decoder with its KV cache, one token at a time.
/// <code>
/// using var vlm = OnnxVlm.Load("exported");
/// var answer = vlm.Generate("What is this?", [vlm.Processor.Images.DecodeFile("cat.jpg")], new OnnxGenerationOptions { Greedy = true });
/// </code>
/// </summary>
public sealed class OnnxVlm : IDisposable
{
    readonly OnnxSessions sessions;
    readonly PromptText prompt;

    OnnxVlm(OnnxVlmSettings settings, Tokenizer tokenizer, OnnxSessions sessions)
    {
        (Settings, Tokenizer, this.sessions) = (settings, tokenizer, sessions);
        Processor = new OnnxImageProcessor(settings);
        prompt = new PromptText(settings.Generation, settings.ExtraTokens, settings.ImageSeqLen, tokenizer.Decode([settings.EosTokenId]));
    }

    public OnnxVlmSettings Settings { get; }
    public Tokenizer Tokenizer { get; }
    public OnnxImageProcessor Processor { get; }

    /// <param name="threads">ONNX Runtime's intra-op threads (default: its own choice, the cores).</param>
    public static OnnxVlm Load(string folder, int? threads = null)
    {
        if (!Directory.Exists(folder)) throw new NanoVlmException($"{folder}: no such folder");
        var settings = OnnxVlmSettings.Load(folder);
        var tokenizer = Tokenizer.Load(folder, settings.ExtraTokens);
        try
        {
            if (tokenizer.EosTokenId != settings.EosTokenId)
                throw new NanoVlmException($"{folder}: the tokenizer's eos id {tokenizer.EosTokenId} differs from generation_config.json's {settings.EosTokenId}");
            return new OnnxVlm(settings, tokenizer, new OnnxSessions(folder, threads));
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }

    /// <summary>Answers one prompt about images as nanoVLM's generate.py builds it; <paramref name="onText"/> receives the text as it grows.</summary>
    public OnnxGenerationResult Generate(string question, IReadOnlyList<RgbImage> images, OnnxGenerationOptions options, Action<string>? onText = null) =>
        Chat([new PromptMessage("user", question)], images, options, onText);

    /// <summary>Answers the last user message of a conversation whose images are given in order.</summary>
    public OnnxGenerationResult Chat(IReadOnlyList<PromptMessage> messages, IReadOnlyList<RgbImage> images, OnnxGenerationOptions options,
        Action<string>? onText = null)
    {
        options.Validate();
        if (messages.Count == 0 || messages[^1].Role != "user") throw new NanoVlmException("the conversation must end with a user message");
        if (Settings.PrependImages && images.Count > 1)
            throw new NanoVlmException($"a v0.1 model takes one image per prompt, got {images.Count}");
        var tiles = images.Select(Processor.Process).ToList();
        var ids = Tokenizer.Encode(prompt.ChatText(messages, tiles.Select(t => (t.Rows, t.Cols)).ToList()));
        return Decode(ids, tiles, options, onText);
    }

    OnnxGenerationResult Decode(int[] ids, IReadOnlyList<ImageTiles> images, OnnxGenerationOptions options, Action<string>? onText)
    {
        var embeds = Embeddings(ids, images);
        var length = embeds.Length / Settings.HiddenSize;
        if (length + options.MaxNewTokens > Settings.MaxPositions)
            throw new NanoVlmException($"the prompt of {length:N0} tokens with {options.MaxNewTokens:N0} new tokens is {length + options.MaxNewTokens:N0} tokens: it exceeds the model's context of {Settings.MaxPositions:N0}");
        var sampler = new TokenSampler(options);
        var answer = new AnswerText(Tokenizer, []);
        var generated = new List<int>();
        IDisposableReadOnlyCollection<OrtValue>? past = null;
        try
        {
            var (position, seq) = (0, length);
            while (generated.Count < options.MaxNewTokens)
            {
                var outputs = Step(embeds, seq, position, past);
                past?.Dispose();
                past = outputs;
                var logits = outputs[0].GetTensorDataAsSpan<float>();
                var vocab = logits.Length / seq;
                var next = sampler.Next(logits[^vocab..]);
                if (next == Settings.EosTokenId && options.StopAtEos) break;
                generated.Add(next);
                if (onText is not null && answer.Add(next) is { Length: > 0 } text) onText(text);
                position += seq;
                seq = 1;
                embeds = TokenEmbeddings([next]);
            }
        }
        finally
        {
            past?.Dispose();
        }
        if (onText is not null && answer.Finish() is { Length: > 0 } rest) onText(rest);
        return new OnnxGenerationResult(Tokenizer.Decode(generated, skipSpecialTokens: true), generated, length);
    }

    /// <summary>One decoder run over <paramref name="seq"/> new positions after <paramref name="position"/> cached ones; outputs: logits, then the presents.</summary>
    IDisposableReadOnlyCollection<OrtValue> Step(float[] embeds, int seq, int position, IDisposableReadOnlyCollection<OrtValue>? past)
    {
        var total = position + seq;
        var names = new List<string> { "inputs_embeds", "attention_mask", "position_ids" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(embeds, [1, seq, Settings.HiddenSize]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, total).ToArray(), [1, total]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Range(position, seq).Select(p => (long)p).ToArray(), [1, seq]),
        };
        var outputNames = new List<string> { "logits" };
        var empty = new float[0];
        try
        {
            for (var i = 0; i < Settings.NumLayers; i++)
                foreach (var (kind, index) in new[] { ("key", 1 + 2 * i), ("value", 2 + 2 * i) })
                {
                    names.Add($"past_key_values.{i}.{kind}");
                    // The presents of the last step are this step's past, passed on without a copy.
                    values.Add(past is null ? OrtValue.CreateTensorValueFromMemory(empty, [1, Settings.KvHeads, 0, Settings.HeadDim]) : past[index]);
                    outputNames.Add($"present.{i}.{kind}");
                }
            using var run = new RunOptions();
            return sessions.Decoder.Run(run, names, values, outputNames);
        }
        finally
        {
            foreach (var v in values.Take(3)) v.Dispose();
            if (past is null) foreach (var v in values.Skip(3)) v.Dispose();
        }
    }

    float[] TokenEmbeddings(int[] ids)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
        using var run = new RunOptions();
        using var outputs = sessions.Embed.Run(run, ["input_ids"], [input], ["inputs_embeds"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>The prompt's embeddings with the image features in place of the placeholders, in order (v0.1: before the text).</summary>
    float[] Embeddings(int[] ids, IReadOnlyList<ImageTiles> images)
    {
        if (ids.Length == 0) throw new NanoVlmException("the prompt is empty");
        var tokens = TokenEmbeddings(ids);
        if (images.Count == 0) return tokens;
        var features = ImageFeatures(images);
        if (Settings.PrependImages) return [.. features, .. tokens];
        var h = Settings.HiddenSize;
        var placeholders = ids.Count(id => id == Settings.ImageTokenId);
        if (placeholders * h != features.Length)
            throw new NanoVlmException($"the prompt has {placeholders} image tokens but its images give {features.Length / h} image embeddings");
        for (int t = 0, next = 0; t < ids.Length; t++)
            if (ids[t] == Settings.ImageTokenId) Array.Copy(features, (next++) * h, tokens, t * h, h);
        return tokens;
    }

    float[] ImageFeatures(IReadOnlyList<ImageTiles> images)
    {
        var count = images.Sum(i => i.Tiles);
        if (count == 0) return [];
        var s = Settings.TileSize;
        using var input = OrtValue.CreateTensorValueFromMemory(images.SelectMany(i => i.Pixels).ToArray(), [1, count, 3, s, s]);
        using var run = new RunOptions();
        if (!sessions.Vision.InputMetadata.ContainsKey("pixel_attention_mask"))
        {
            using var plain = sessions.Vision.Run(run, ["pixel_values"], [input], ["image_features"]);
            return plain[0].GetTensorDataAsSpan<float>().ToArray();
        }
        // One prompt: every tile is real.
        var real = new bool[count * s * s];
        Array.Fill(real, true);
        using var mask = OrtValue.CreateTensorValueFromMemory(real, [1, count, s, s]);
        using var outputs = sessions.Vision.Run(run, ["pixel_values", "pixel_attention_mask"], [input, mask], ["image_features"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        sessions.Dispose();
        Tokenizer.Dispose();
    }
}
