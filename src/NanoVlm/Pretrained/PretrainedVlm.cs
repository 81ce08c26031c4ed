using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Hub;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Pretrained;

/// <summary>
/// The front door: a checkpoint of any nanoVLM generation loaded as its model, its tokenizer (with the extra tokens) and the processor
/// that turns images and messages into model inputs, saved back together in the same layout.
/// <code>
/// using var vlm = PretrainedVlm.Load("lusxvr/nanoVLM-230M-8k");       // or a checkpoint folder
/// var answer = vlm.Generate("What is this?", [vlm.Processor.Images.DecodeFile("cat.jpg")], new GenerationOptions { Greedy = true });
/// </code>
/// </summary>
public sealed class PretrainedVlm : IDisposable
{
    PretrainedVlm(VisionLanguageModel model, Tokenizer tokenizer)
    {
        var cfg = model.Config;
        if (tokenizer.VocabSize > cfg.LmVocabSize)
            throw new NanoVlmException($"{tokenizer.Source}: {tokenizer.VocabSize} tokens do not fit the model's lm_vocab_size {cfg.LmVocabSize}");
        if (cfg.Generation == CheckpointGeneration.V01)
        {
            if (tokenizer.EosTokenId != cfg.LmEosTokenId)
                throw new NanoVlmException($"{tokenizer.Source}: eos id {tokenizer.EosTokenId} differs from the config's lm_eos_token_id {cfg.LmEosTokenId}");
        }
        else
        {
            model.ImageTokenId = tokenizer.ExtraTokenIds.TryGetValue("image_token", out var image)
                ? image
                : throw new NanoVlmException($"{tokenizer.Source}: the config's vlm_extra_tokens has no image_token");
        }
        model.EosTokenId = tokenizer.EosTokenId;
        (Model, Tokenizer) = (model, tokenizer);
        Processor = new VlmProcessor(cfg, tokenizer);
    }

    public VisionLanguageModel Model { get; }
    public Tokenizer Tokenizer { get; }
    public VlmProcessor Processor { get; }
    public VlmConfig Config => Model.Config;
    public CheckpointGeneration Generation => Config.Generation;
    /// <summary>The LoRA adapter applied to the model (its hooks add the update), if any.</summary>
    public LoraAdapter? Adapter { get; private set; }

    /// <summary>
    /// Applies a LoRA adapter (a folder or Hub repo id in PEFT's format) on top of the model: generation then runs the modules, which
    /// add the adapter's update, in prefill and decoding alike.
    /// </summary>
    public void ApplyAdapter(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        var adapter = AdapterFiles.Load(PretrainedSources.ResolveAdapterFolder(pathOrRepoId, progress), Model);
        adapter.eval();
        UseAdapter(adapter);
    }

    /// <summary>Moves the model and its adapter to <paramref name="device"/>.</summary>
    public void MoveTo(Device device)
    {
        Model.to(device);
        Adapter?.to(device);
    }

    /// <summary>Attaches <paramref name="adapter"/> (made for this model) and takes ownership of it.</summary>
    public void UseAdapter(LoraAdapter adapter)
    {
        if (Adapter is not null) throw new NanoVlmException("an adapter is already applied; load the model again to apply another");
        adapter.Attach(Model);
        Adapter = adapter;
    }

    /// <summary>Folds the applied adapter into the weights (W += alpha/r B A) and removes it: a plain model with the same outputs.</summary>
    public void MergeAdapter()
    {
        if (Adapter is null) throw new NanoVlmException("no adapter is applied");
        Adapter.Detach();
        Adapter.Merge(Model);
        Adapter.Dispose();
        Adapter = null;
    }

    /// <summary>A checkpoint folder or Hub repo id (config, weights and tokenizer fetched from one commit into the shared cache).</summary>
    public static PretrainedVlm Load(string pathOrRepoId, IProgress<DownloadProgress>? progress = null)
    {
        // An adapter folder stands for its base model with the adapter applied.
        if (Directory.Exists(pathOrRepoId) && AdapterFiles.IsAdapterFolder(pathOrRepoId))
        {
            var baseModel = AdapterFiles.ReadConfig(pathOrRepoId).BaseModel
                ?? throw new NanoVlmException($"{pathOrRepoId}: the adapter names no base_model_name_or_path; load the base and apply the adapter to it");
            var vlm = Load(baseModel, progress);
            try
            {
                vlm.ApplyAdapter(pathOrRepoId, progress);
                return vlm;
            }
            catch
            {
                vlm.Dispose();
                throw;
            }
        }
        var folder = PretrainedSources.ResolveModelFolder(pathOrRepoId, progress);
        var model = Checkpoint.Load(folder);
        model.eval();   // loaded to answer: dropout off, and the decode kernels may serve it
        Tokenizer? tokenizer = null;
        try
        {
            tokenizer = PretrainedSources.LoadTokenizer(model.Config, folder, progress);
            return new PretrainedVlm(model, tokenizer);
        }
        catch
        {
            tokenizer?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>Binds a model to its tokenizer (the image token and eos ids come from the tokenizer). Takes ownership of both.</summary>
    public static PretrainedVlm Create(VisionLanguageModel model, Tokenizer tokenizer) => new(model, tokenizer);

    /// <summary>Writes config.json, model.safetensors and the tokenizer files: a folder PyTorch nanoVLM and <see cref="Load"/> both read.</summary>
    public void Save(string folder)
    {
        Checkpoint.Save(Model, folder);
        new CheckpointLayout(folder).CopyTokenizerFrom(Path.GetDirectoryName(Path.GetFullPath(Tokenizer.Source))!);
    }

    /// <summary>Answers one prompt about images as nanoVLM's generate.py builds it; <paramref name="onText"/> receives the text as it grows.</summary>
    public string Generate(string prompt, IReadOnlyList<RgbImage> images, GenerationOptions options, Action<string>? onText = null) =>
        Chat([new PromptMessage("user", prompt)], images, options, onText);

    /// <summary>Answers the last user message of a conversation whose images are given in order.</summary>
    public string Chat(IReadOnlyList<PromptMessage> messages, IReadOnlyList<RgbImage> images, GenerationOptions options, Action<string>? onText = null)
    {
        using var scope = NewDisposeScope();
        using var batch = Processor.EncodeChat(messages, images);
        CheckContext(batch.InputIds.shape[1], options.MaxNewTokens);
        var answer = new AnswerText(Tokenizer, []);
        using var ids = Model.Generate(batch.InputIds, batch.Images.shape[0] == 0 ? null : batch.Images, batch.AttentionMask, options,
            onText is null ? null : step =>
            {
                if (step[0] == Tokenizer.EosTokenId) return;
                if (answer.Add((int)step[0]) is { Length: > 0 } text) onText(text);
            });
        if (onText is not null && answer.Finish() is { Length: > 0 } rest) onText(rest);
        return Decode(ids[0]);
    }

    /// <summary>Generated ids back to text, stopping at eos, special tokens skipped.</summary>
    public string Decode(Tensor ids) => Processor.DecodeAnswer(ids);

    /// <summary>The new tokens that fit after a prompt of <paramref name="promptTokens"/>; none left is a one-line error.</summary>
    public int ContextLeft(long promptTokens)
    {
        var used = promptTokens + (Config.PrependsImages ? Config.MpImageTokenLength : 0);
        var left = Config.LmMaxPositionEmbeddings - used;
        if (left < 1)
            throw new NanoVlmException($"the prompt of {used:N0} tokens leaves no room in the model's context of {Config.LmMaxPositionEmbeddings:N0} (lm_max_position_embeddings)");
        return (int)Math.Min(left, int.MaxValue);
    }

    /// <summary>A prompt plus its new tokens must fit the positions the model was built for (v0.1 also spends them on the image).</summary>
    public void CheckContext(long promptTokens, int maxNewTokens)
    {
        var imageTokens = Config.PrependsImages ? Config.MpImageTokenLength : 0;
        ContextWindow.Check(Config, promptTokens + imageTokens + maxNewTokens, $"the prompt of {promptTokens:N0} tokens with {maxNewTokens:N0} new tokens");
    }

    public void Dispose()
    {
        Adapter?.Dispose();
        Model.Dispose();
        Tokenizer.Dispose();
    }
}
