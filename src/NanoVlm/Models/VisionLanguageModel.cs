using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>
/// nanoVLM: images -> ViT -> modality projector -> embeddings that replace the image placeholder tokens of the
/// prompt (v0.1: that precede the text) -> Llama-style decoder -> logits. State-dict names: <c>vision_encoder.*</c>, <c>MP.*</c>, <c>decoder.*</c>.
/// </summary>
public sealed class VisionLanguageModel : Module<Tensor, Tensor?, Tensor?, Tensor?, Tensor?, (Tensor Logits, Tensor? Loss)>
{
    readonly ViT vision_encoder;
    readonly ModalityProjector MP;
    readonly LanguageModel decoder;

    public VisionLanguageModel(VlmConfig cfg, bool initWeights = true) : base(nameof(VisionLanguageModel))
    {
        cfg.Validate();
        Config = cfg;
        ImageTokenId = cfg.PrependsImages ? -1 : cfg.LmBaseVocabSize + cfg.VlmExtraTokens.Keys.ToList().IndexOf("image_token");
        EosTokenId = cfg.LmEosTokenId;
        vision_encoder = new ViT(cfg);
        MP = new ModalityProjector(cfg);
        decoder = new LanguageModel(cfg);
        RegisterComponents();
        if (initWeights) InitWeights();
    }

    public VlmConfig Config { get; }

    /// <summary>The placeholder id; extra tokens follow the base vocabulary, so by default lm_base_vocab_size + its index.</summary>
    public int ImageTokenId { get; set; }

    /// <summary>Where generation stops: the tokenizer's eos (the front door sets it; v0.1 configs name it).</summary>
    public int EosTokenId { get; set; }

    public Device Device => decoder.token_embedding.weight!.device;

    /// <summary>The decoder's weight precision.</summary>
    public ScalarType Dtype => decoder.token_embedding.weight!.dtype;

    internal LanguageModel Decoder => decoder;

    /// <summary>Logits [B, T, V] over the text positions and, when targets are given, the mean cross-entropy over targets != -100.</summary>
    /// <param name="sequenceIds">Packed rows: the sample of each token (1..k, 0 = padding); each sample then attends only to itself.</param>
    public override (Tensor Logits, Tensor? Loss) forward(Tensor inputIds, Tensor? images, Tensor? attentionMask = null, Tensor? targets = null,
        Tensor? sequenceIds = null)
    {
        if (sequenceIds is not null && Config.PrependsImages)
            throw new NanoVlmException("packed rows need image placeholders in the text: a v0.1 model prepends its images");
        using var scope = NewDisposeScope();
        var (embeddings, mask) = Embed(inputIds, images, attentionMask);
        var hidden = decoder.call(embeddings, mask, null, sequenceIds);
        // v0.1 prepends the image embeddings: its logits and targets cover the text positions only.
        var logits = decoder.head.call(hidden[.., (int)(hidden.shape[1] - inputIds.shape[1])..]);
        Tensor? loss = null;
        if (targets is not null)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(float32), targets.to(Device).reshape(-1), ignore_index: -100)
                .MoveToOuterDisposeScope();
        return (logits.MoveToOuterDisposeScope(), loss);
    }

    /// <summary>Images as one flat list of [3, S, S] or [n, 3, S, S] tensors; null when there are none.</summary>
    public static Tensor? StackImages(IReadOnlyList<Tensor> images) =>
        images.Count == 0 ? null : cat(images.Select(i => i.dim() == 3 ? i.unsqueeze(0) : i).ToList(), 0);

    /// <summary>
    /// The decoder's input embeddings and attention mask. Placeholder generations: every image placeholder replaced, in order, by
    /// the next image embedding row (no images: null or an empty batch). v0.1: each sample's one image embedded in front of its
    /// text, the mask extended with ones.
    /// </summary>
    /// <remarks><paramref name="encodedImages"/>: the images already through <see cref="EncodeImages"/> (a cache's), used instead of encoding them.</remarks>
    public (Tensor Embeddings, Tensor? Mask) Embed(Tensor inputIds, Tensor? images, Tensor? attentionMask = null, Tensor? encodedImages = null)
    {
        using var scope = NewDisposeScope();
        inputIds = inputIds.to(Device);
        var mask = attentionMask?.to(Device);
        var tokens = decoder.token_embedding.call(inputIds);
        var nImages = images?.shape[0] ?? 0;
        if (Config.PrependsImages)
        {
            if (nImages == 0) return (tokens.MoveToOuterDisposeScope(), mask?.MoveToOuterDisposeScope());
            if (nImages != inputIds.shape[0])
                throw new NanoVlmException($"a v0.1 model takes one image per sample: {nImages} images for {inputIds.shape[0]} samples");
            var prefix = encodedImages?.to(tokens.dtype, Device) ?? EncodeImages(images!, tokens.dtype);
            if (mask is not null) mask = cat([ones(prefix.shape[0], prefix.shape[1], mask.dtype, mask.device), mask], 1);
            return (cat([prefix, tokens], 1).MoveToOuterDisposeScope(), mask?.MoveToOuterDisposeScope());
        }
        var placeholders = inputIds.eq(ImageTokenId);
        var nPlaceholders = placeholders.sum().item<long>();
        if (nPlaceholders != nImages * Config.MpImageTokenLength)
            throw new NanoVlmException(
                $"the batch has {nPlaceholders} image tokens but {nImages} images x {Config.MpImageTokenLength} tokens = {nImages * Config.MpImageTokenLength}");
        if (nImages == 0) return (tokens.MoveToOuterDisposeScope(), mask?.MoveToOuterDisposeScope());
        // masked_scatter fills masked positions row-major (batch, then time) from the source in order.
        var imageMask = placeholders.unsqueeze(-1).expand_as(tokens);
        var encoded = encodedImages?.to(tokens.dtype, Device) ?? EncodeImages(images!, tokens.dtype);
        var embedded = tokens.masked_scatter(imageMask, encoded.reshape(-1, tokens.shape[^1]));
        return (embedded.MoveToOuterDisposeScope(), mask?.MoveToOuterDisposeScope());
    }

    /// <summary>Images [N, 3, S, S] -> ViT -> projector: [N, mp_image_token_length, lm_hidden_dim].</summary>
    public Tensor EncodeImages(Tensor images) => EncodeImages(images, decoder.token_embedding.weight!.dtype);

    Tensor EncodeImages(Tensor images, ScalarType dtype) => MP.call(vision_encoder.call(images.to(dtype, Device)));

    /// <summary>Hidden states -> logits through the (usually tied) head.</summary>
    public Tensor Head(Tensor hidden) => decoder.head.call(hidden);

    /// <summary>
    /// A copy with a larger vocabulary (<c>lm_vocab_size</c>): every weight copied, the token embedding's (and an untied head's) old
    /// rows kept and the new rows drawn from N(0, 0.02), as a fresh model draws them.
    /// </summary>
    public VisionLanguageModel WithVocabulary(int vocabSize)
    {
        if (vocabSize < Config.LmVocabSize)
            throw NanoVlmException.For("VocabSize", $"{vocabSize} is smaller than the model's lm_vocab_size {Config.LmVocabSize}");
        var grown = new VisionLanguageModel(Config with { LmVocabSize = vocabSize }) { ImageTokenId = ImageTokenId, EosTokenId = EosTokenId };
        grown.to(Dtype);
        grown.to(Device);
        using var _ = no_grad();
        var source = state_dict();
        foreach (var (name, tensor) in grown.state_dict())
        {
            var old = source[name];
            if (old.shape.SequenceEqual(tensor.shape)) tensor.copy_(old);
            else tensor.narrow(0, 0, old.shape[0]).copy_(old);
        }
        return grown;
    }

    /// <summary>The state-dict name under which a tied tensor is also reachable, and the one nanoVLM stores.</summary>
    public const string TiedHead = "decoder.head.weight", TiedEmbedding = "decoder.token_embedding.weight";

    /// <summary>Named parameters, a tied head listed once (the optimizer must not update it twice).</summary>
    public IReadOnlyList<(string Name, Parameter Param)> UniqueNamedParameters() =>
        named_parameters().Where(p => !(Config.LmTieWeights && p.name == TiedHead)).ToList();

    /// <summary>Parameter counts per component, a tied head counted once.</summary>
    public (long Vision, long Projector, long Decoder, long Total) ParameterCounts()
    {
        long Count(string prefix) => UniqueNamedParameters().Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.Param.numel());
        var (v, p, d) = (Count("vision_encoder."), Count("MP."), Count("decoder."));
        return (v, p, d, v + p + d);
    }

    /// <summary>Every state-dict name holding the same tensor as <paramref name="name"/>, itself first.</summary>
    internal IEnumerable<string> Aliases(string name) =>
        Config.LmTieWeights && name is TiedHead or TiedEmbedding ? [name, name == TiedHead ? TiedEmbedding : TiedHead] : [name];

    /// <summary>The name a tensor is stored under: the alphabetically first of its aliases, as the safetensors library does.</summary>
    internal string StoredName(string name) => Aliases(name).Min(StringComparer.Ordinal)!;

    /// <summary>nanoVLM's initialisation: N(0, 0.02) for linear, conv and embedding weights, zero biases, unit norms.</summary>
    void InitWeights()
    {
        using var _ = no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Linear l:
                    init.normal_(l.weight!, 0, 0.02);
                    if (l.bias is not null) init.zeros_(l.bias);
                    break;
                case Conv2d c:
                    init.normal_(c.weight!, 0, 0.02);
                    if (c.bias is not null) init.zeros_(c.bias);
                    break;
                case Embedding e:
                    init.normal_(e.weight!, 0, 0.02);
                    break;
                case LayerNorm n:
                    init.ones_(n.weight!);
                    init.zeros_(n.bias!);
                    break;
            }
        }
    }
}
