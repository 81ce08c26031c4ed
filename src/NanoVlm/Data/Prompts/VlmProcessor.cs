using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// Turns images and messages into model inputs the way the checkpoint's nanoVLM generation did (nanovlm-generations.md):
/// <list type="bullet">
/// <item>current: images split into S x S tiles after a global tile, image strings with <c>&lt;row_i_col_j&gt;</c> tokens, ChatML;</item>
/// <item>split, no global: the same without the global tile and its token;</item>
/// <item>seed era: each image resized to S x S, <c>&lt;|image|&gt;</c> x T per image before <c>Question: ... Answer:</c>;</item>
/// <item>v0.1: like the seed era but with no image tokens (the model prepends the image embeddings).</item>
/// </list>
/// Training samples get answer-only targets; batches are left-padded with pad = eos. Nothing else builds prompts or image tensors.
/// </summary>
public sealed class VlmProcessor
{
    public const long Ignore = -100;

    readonly ImageSplitter? _splitter;
    readonly PromptText _prompt;
    readonly int _tokensPerImage;
    readonly int _assistantPrefixLength;

    public VlmProcessor(VlmConfig config, Tokenizer tokenizer, ImageLimits? limits = null)
    {
        Config = config;
        Tokenizer = tokenizer;
        Images = new ImageProcessor(config.VitImgSize, limits);
        _tokensPerImage = config.MpImageTokenLength;
        _prompt = new PromptText(config.Generation, config.VlmExtraTokens, config.MpImageTokenLength, tokenizer.Decode([tokenizer.EosTokenId]));
        if (Generation.SplitsImages())
        {
            ChatTemplate.Check(config.LmChatTemplate, "config.json");
            _splitter = new ImageSplitter(config.VitImgSize, config.MaxImgSize, config.ResizeToMaxSideLen,
                globalTile: tokenizer.ExtraTokenIds.ContainsKey("global_image_token"));
            _assistantPrefixLength = tokenizer.Encode(ChatTemplate.AssistantPrefix).Length;
        }
    }

    public VlmConfig Config { get; }
    public Tokenizer Tokenizer { get; }
    public CheckpointGeneration Generation => Config.Generation;
    /// <summary>Decodes image files and bytes (with the size limits) and does the square resize of the older generations.</summary>
    public ImageProcessor Images { get; }
    public int MaxLength => Config.LmMaxLength;
    /// <summary>Samples left out: too long, undecodable image, no turns.</summary>
    public SkipCounter Skipped { get; } = new();
    /// <summary><c>&lt;|image|&gt;</c> found inside texts and removed (it would be taken for an image placeholder).</summary>
    public long StrayImageTokens => _prompt.StrayImageTokens;

    /// <summary>What decides the tiles an image gives (with its pixels): two processors with the same settings give the same tiles.</summary>
    public string ImageSettings => _splitter is null
        ? $"{Generation}/{Config.VitImgSize}"
        : $"{Generation}/{Config.VitImgSize}/{Config.MaxImgSize}/{Config.ResizeToMaxSideLen}/{_splitter.GlobalTile}";

    /// <summary>An image as tiles (the splitting generations) or one S x S square (older ones).</summary>
    public SplitImage ProcessImage(RgbImage image)
    {
        if (_splitter is null) return new SplitImage(Images.ToTensor(image).unsqueeze(0), 1, 1);
        return _splitter.Split(image);
    }

    /// <summary>Positions the model gives a sample's images: its placeholders, or the prepended embeddings of v0.1.</summary>
    public int ImageTokenCount(EncodedSample sample) => Generation == CheckpointGeneration.V01
        ? sample.Images.Length * _tokensPerImage
        : sample.InputIds.Count(id => id == Tokenizer.ExtraTokenIds["image_token"]);

    /// <summary>The text that stands for the images of a message: placeholders (and tile tokens) in the order of their tiles.</summary>
    public string ImageString(IReadOnlyList<SplitImage> images) => _prompt.ImageString(Grids(images));

    static List<(int Rows, int Cols)> Grids(IReadOnlyList<SplitImage> images) => images.Select(i => (i.Rows, i.Cols)).ToList();

    /// <summary>
    /// A training sample: its tokens, answer-only targets and image tiles (on a loader worker); null when skipped (counted), which
    /// includes samples over lm_max_length unless <paramref name="enforceMaxLength"/> is off.
    /// </summary>
    public EncodedSample? EncodeForTraining(VqaSample sample, bool enforceMaxLength = true)
    {
        if (sample.Turns.Count == 0) { Skipped.Add("no turns", sample.Source); return null; }
        return WithImages(sample, null, enforceMaxLength, images =>
        {
            if (!Generation.SplitsImages()) return SeedTrainingText(sample, ImageString(images));
            var messages = Messages(sample.Turns, images);
            var ids = Tokenizer.Encode(ChatTemplate.Apply(messages, addGenerationPrompt: false));
            var isTarget = new bool[ids.Length];
            var cursor = 0;
            foreach (var message in messages)
            {
                // As nanoVLM: each message templated and tokenized alone locates it; an assistant's content, <|im_end|> and newline are targets.
                var length = Tokenizer.Encode(ChatTemplate.Apply([message], addGenerationPrompt: false)).Length;
                if (message.Role == "assistant")
                    for (var t = cursor + _assistantPrefixLength; t < Math.Min(cursor + length, ids.Length); t++) isTarget[t] = true;
                cursor += length;
            }
            return (ids, isTarget);
        });
    }

    /// <summary>The text a training sample is tokenized from (the chat template, or the older generations' question/answer text).</summary>
    public string TrainingText(VqaSample sample)
    {
        var images = sample.Images.Select(i => ProcessImage(i.Decode(Images))).ToList();
        try
        {
            return Generation.SplitsImages()
                ? ChatTemplate.Apply(Messages(sample.Turns, images), addGenerationPrompt: false)
                : SeedText(sample, ImageString(images)).Text;
        }
        finally
        {
            foreach (var image in images) image.Dispose();
        }
    }

    /// <summary>The text of a generation prompt: the conversation so far with its images, then the assistant's turn.</summary>
    public string ChatText(IReadOnlyList<PromptMessage> messages, IReadOnlyList<SplitImage> images) => _prompt.ChatText(messages, Grids(images));

    /// <summary>
    /// The prompt of a sample's first question (then its <see cref="VqaSample.AssistantPrefix"/>), its answer kept aside (evaluation);
    /// null when skipped (counted).
    /// </summary>
    public EncodedSample? EncodeForEvaluation(VqaSample sample)
    {
        var turn = sample.Turns[0];
        return WithImages(sample, turn.Assistant, enforceMaxLength: true, images =>
        {
            var ids = Tokenizer.Encode(EvaluationText(images, turn.User, sample.Style) + sample.AssistantPrefix);
            return (ids, new bool[ids.Length]);
        });
    }

    /// <summary>A generation prompt: the conversation so far (ending with a user message) and its images, as a batch of one.</summary>
    public VlmBatch EncodeChat(IReadOnlyList<PromptMessage> messages, IReadOnlyList<RgbImage> images)
    {
        if (messages.Count == 0 || messages[^1].Role != "user") throw new NanoVlmException("the conversation must end with a user message");
        var processed = new List<SplitImage>();
        try
        {
            foreach (var image in images) processed.Add(ProcessImage(image));
            var ids = Tokenizer.Encode(ChatText(messages, processed));
            var sample = new VqaSample([], [new VqaTurn(messages[^1].Content, "")], "prompt");
            var tiles = processed.Select(p => (int)p.Tiles.shape[0]).ToArray();
            return Collate([new EncodedSample(sample, ids, new bool[ids.Length], processed.Select(p => p.Tiles).ToArray())], training: false)
                with { TilesPerImage = tiles };
        }
        catch
        {
            foreach (var p in processed) p.Dispose();
            throw;
        }
    }

    /// <summary>A plain prompt as the model's input, no template and no images (image tokens written in it are removed), as a batch of one.</summary>
    public VlmBatch EncodeText(string prompt)
    {
        var ids = Tokenizer.Encode(WithoutImageTokens(prompt));
        if (ids.Length == 0) throw new NanoVlmException("the prompt is empty");
        var sample = new VqaSample([], [new VqaTurn(prompt, "")], "prompt");
        return Collate([new EncodedSample(sample, ids, new bool[ids.Length], [])], training: false);
    }

    /// <summary>nanoVLM's generate prompt: one user message, the images' string before the question.</summary>
    public VlmBatch EncodePrompt(string prompt, IReadOnlyList<RgbImage> images) => EncodeChat([new PromptMessage("user", prompt)], images);

    /// <summary>Generated ids of one answer back to text: up to its first eos, special tokens skipped.</summary>
    public string DecodeAnswer(Tensor ids) =>
        Tokenizer.Decode(ids.cpu().data<long>().TakeWhile(id => id != Tokenizer.EosTokenId).Select(id => (int)id), skipSpecialTokens: true);

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
        var tiles = all.Length == 0 ? zeros(0, 3, Images.Size, Images.Size) : cat(all, 0);
        foreach (var image in all) image.Dispose();
        return new VlmBatch(
            tensor(ids, [samples.Count, length]), tensor(mask, [samples.Count, length]),
            training ? tensor(labels, [samples.Count, length]) : empty(0, dtype: ScalarType.Int64),
            tiles, samples.Select(s => s.Sample).ToArray(), samples.Select(s => s.Answer ?? "").ToArray());
    }

    /// <summary>Splitting generations: user/assistant messages, stray image tokens removed, every image's string before the first user text.</summary>
    List<PromptMessage> Messages(IEnumerable<VqaTurn> turns, IReadOnlyList<SplitImage> images) =>
        _prompt.Messages(turns.SelectMany(t => new[] { new PromptMessage("user", t.User), new PromptMessage("assistant", t.Assistant) }).ToList(), Grids(images));

    (string Text, List<(string Before, string Through)> Answers) SeedText(VqaSample sample, string imageString)
    {
        var text = imageString;
        var answers = new List<(string Before, string Through)>();
        foreach (var turn in sample.Turns)
        {
            text += Prompts.Question(WithoutImageTokens(turn.User), sample.Style);
            var before = text;
            text += WithoutImageTokens(turn.Assistant) + _prompt.EosText;
            answers.Add((before, text));
        }
        return (text, answers);
    }

    (int[] Ids, bool[] IsTarget) SeedTrainingText(VqaSample sample, string imageString)
    {
        // The whole string is tokenized once; an answer's targets are the tokens past the longest common prefix with the text before it.
        var (text, answers) = SeedText(sample, imageString);
        var ids = Tokenizer.Encode(text);
        var isTarget = new bool[ids.Length];
        foreach (var (before, through) in answers)
        {
            var start = CommonPrefix(Tokenizer.Encode(before), ids);
            var end = CommonPrefix(Tokenizer.Encode(through), ids);
            for (var t = start; t < end; t++) isTarget[t] = true;
        }
        return (ids, isTarget);
    }

    /// <summary>An evaluation prompt; MMStar's letter-only instruction follows the question in every generation.</summary>
    string EvaluationText(IReadOnlyList<SplitImage> images, string question, PromptStyle style) =>
        Generation.SplitsImages()
            ? ChatText([new PromptMessage("user", style == PromptStyle.LetterChoice ? $"{question}\nAnswer only with the letter!" : question)], images)
            : ImageString(images) + Prompts.Question(WithoutImageTokens(question), style);

    string WithoutImageTokens(string text) => _prompt.WithoutImageTokens(text);

    EncodedSample? WithImages(VqaSample sample, string? answer, bool enforceMaxLength,
        Func<IReadOnlyList<SplitImage>, (int[] Ids, bool[] IsTarget)> encode)
    {
        var images = new List<SplitImage>();
        try
        {
            foreach (var image in sample.Images) images.Add(ProcessImage(image.Decode(Images)));
            var (ids, isTarget) = encode(images);
            var placeholders = Tokenizer.ExtraTokenIds.TryGetValue("image_token", out var imageId) ? ids.Count(id => id == imageId) : 0;
            // One block of placeholders per tile (v0.1 has none: it prepends the image embeddings).
            var expected = Generation == CheckpointGeneration.V01 ? 0 : images.Sum(i => (int)i.Tiles.shape[0]) * _tokensPerImage;
            if (placeholders != expected)
                throw new NanoVlmException($"its text holds {placeholders} image tokens where its images need {expected}");
            if (enforceMaxLength && ids.Length > MaxLength)
            {
                Skipped.Add($"longer than lm_max_length {MaxLength}", sample.Source);
                foreach (var p in images) p.Dispose();
                return null;
            }
            return new EncodedSample(sample, ids, isTarget, images.Select(p => p.Tiles).ToArray(), answer);
        }
        catch (NanoVlmException e)
        {
            foreach (var p in images) p.Dispose();
            Skipped.Add(images.Count < sample.Images.Count ? "undecodable image" : "unencodable", $"{sample.Source}: {e.Message}");
            return null;
        }
    }

    static int CommonPrefix(int[] a, int[] b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }
}
