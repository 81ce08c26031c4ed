using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Data;

/// <summary>
/// nanoVLM's collators (spec §5). Training text: every image's block of image tokens, then per turn
/// <c>Question: {user} Answer:</c> + <c>{assistant}</c> + eos; the whole string is tokenized once and each answer's span is the tokens
/// past the longest common prefix with the tokenized text before it, so targets are exactly the training string's answer tokens.
/// Evaluation text: the image tokens and the first turn's prompt only; its answer is kept aside.
/// </summary>
public sealed class VqaCollator(Tokenizer tokenizer, VlmConfig config, ImageProcessor images)
{
    public const long Ignore = -100;

    public Tokenizer Tokenizer { get; } = tokenizer;
    public ImageProcessor Images { get; } = images;
    public int MaxLength { get; } = config.LmMaxLength;
    /// <summary>Samples left out: too long, undecodable image.</summary>
    public SkipCounter Skipped { get; } = new();

    readonly string _imageText = config.ImageToken;
    readonly int _tokensPerImage = config.MpImageTokenLength;
    readonly string _eosText = tokenizer.Decode([tokenizer.EosTokenId]);

    /// <summary>Tokenizes and decodes a training sample (on a loader worker); null when it is skipped (counted).</summary>
    public EncodedSample? EncodeForTraining(VqaSample sample)
    {
        var text = Prompts.ImageTokens(_imageText, _tokensPerImage, sample.Images.Count);
        var spans = new List<(string Before, string Through)>();
        foreach (var turn in sample.Turns)
        {
            text += Prompts.Question(turn.User, sample.Style);
            var before = text;
            text += turn.Assistant + _eosText;
            spans.Add((before, text));
        }
        var ids = Tokenizer.Encode(text);
        if (ids.Length > MaxLength) { Skipped.Add($"longer than lm_max_length {MaxLength}"); return null; }
        var isTarget = new bool[ids.Length];
        foreach (var (before, through) in spans)
        {
            var start = CommonPrefix(Tokenizer.Encode(before), ids);
            var end = CommonPrefix(Tokenizer.Encode(through), ids);
            for (var t = start; t < end; t++) isTarget[t] = true;
        }
        return WithImages(sample, ids, isTarget, null);
    }

    /// <summary>The evaluation prompt of a sample's first turn (on a loader worker); null when skipped (counted).</summary>
    public EncodedSample? EncodeForEvaluation(VqaSample sample)
    {
        var turn = sample.Turns[0];
        var ids = Tokenizer.Encode(Prompts.ImageTokens(_imageText, _tokensPerImage, sample.Images.Count) + Prompts.Question(turn.User, sample.Style));
        if (ids.Length > MaxLength) { Skipped.Add($"longer than lm_max_length {MaxLength}"); return null; }
        return WithImages(sample, ids, new bool[ids.Length], turn.Assistant);
    }

    /// <summary>Left-pads to the longest sample (pad = eos, mask 0); labels[t] = input_ids[t+1] where t+1 is a target, else -100.</summary>
    public VlmBatch Collate(IReadOnlyList<EncodedSample> samples, bool training = true)
    {
        var length = samples.Max(s => s.InputIds.Length);
        var ids = new long[samples.Count * length];
        var mask = new long[ids.Length];
        var labels = new long[ids.Length];
        Array.Fill(ids, Tokenizer.PadTokenId);
        Array.Fill(labels, Ignore);
        for (var b = 0; b < samples.Count; b++)
        {
            var s = samples[b];
            var offset = b * length + length - s.InputIds.Length;
            for (var t = 0; t < s.InputIds.Length; t++)
            {
                ids[offset + t] = s.InputIds[t];
                mask[offset + t] = 1;
                if (t + 1 < s.InputIds.Length && s.IsTarget[t + 1]) labels[offset + t] = s.InputIds[t + 1];
            }
        }
        var all = samples.SelectMany(s => s.Images).ToArray();
        var stacked = all.Length == 0 ? zeros(0, 3, Images.Size, Images.Size) : stack(all);
        foreach (var image in all) image.Dispose();
        return new VlmBatch(
            tensor(ids, [samples.Count, length]), tensor(mask, [samples.Count, length]),
            training ? tensor(labels, [samples.Count, length]) : empty(0, dtype: ScalarType.Int64),
            stacked, samples.Select(s => s.Sample).ToArray(), samples.Select(s => s.Answer ?? "").ToArray());
    }

    EncodedSample? WithImages(VqaSample sample, int[] ids, bool[] isTarget, string? answer)
    {
        var tensors = new List<Tensor>();
        try
        {
            foreach (var image in sample.Images) tensors.Add(image.ToTensor(Images));
        }
        catch (NanoVlmException)
        {
            foreach (var t in tensors) t.Dispose();
            Skipped.Add("undecodable image");
            return null;
        }
        return new EncodedSample(sample, ids, isTarget, tensors.ToArray(), answer);
    }

    static int CommonPrefix(int[] a, int[] b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }
}
