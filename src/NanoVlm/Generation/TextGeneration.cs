using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Generation;

/// <summary>Autoregressive decoding for <see cref="VisionLanguageModel"/> (nanoVLM's generate).</summary>
public static class TextGeneration
{
    /// <summary>
    /// Steps between checks that every row has produced eos when no callback reads the ids: each check waits for the
    /// device, and tokens decoded past the end are replaced by eos anyway, so the result does not depend on it.
    /// </summary>
    public const int EosCheckInterval = 8;

    /// <summary>
    /// Prefills the (left-padded) prompts with their images, then samples up to MaxNewTokens tokens per row.
    /// Returns [B, MaxNewTokens] ids where everything after a row's first eos is eos.
    /// <paramref name="onStep"/> receives each step's new ids [B] (read from the device every step, so only when asked for).
    /// </summary>
    public static Tensor Generate(this VisionLanguageModel model, Tensor inputIds, Tensor? images, Tensor? attentionMask,
        GenerationOptions options, Action<long[]>? onStep = null)
    {
        options.Validate();
        var (batch, promptLength) = (inputIds.shape[0], (int)inputIds.shape[1]);
        ContextWindow.Check(model.Config, promptLength, "the prompt");
        if (options.UseKvCache) MemoryBudget.EnsureFits(KvCache.Bytes(model.Config, batch, promptLength + (long)options.MaxNewTokens, 4),
            $"the KV cache for {promptLength} prompt and {options.MaxNewTokens} new tokens");
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var eos = model.EosTokenId;
        if (options.MaxNewTokens == 0) return empty(batch, 0, int64, inputIds.device).MoveToOuterDisposeScope();

        var rng = options.Seed is long seed ? new torch.Generator((ulong)seed, model.Device) : null;
        var (embeddings, mask) = model.Embed(inputIds, images, attentionMask);
        using var cache = options.UseKvCache
            ? new KvCache(model.Config, batch, (int)embeddings.shape[1] + options.MaxNewTokens, embeddings.dtype, embeddings.device)
            : null;
        var runner = new DecodeRunner(model, options.DecodePath);
        var logits = runner.NextLogits(embeddings, mask, cache);

        var generated = new List<Tensor>();
        var finished = zeros(batch, ScalarType.Bool, model.Device);
        // How often each row's answer has used each token, for the penalties.
        var counts = options.Penalizes ? zeros(batch, logits.shape[^1], float32, model.Device) : null;
        // Where each row's answer stands in its JSON value, when the options ask for one.
        var json = options.Json is { } constraint ? Enumerable.Range(0, (int)batch).Select(_ => constraint.Start()).ToArray() : null;
        using var decoding = cache is null ? default : runner.Stepping(batch);
        for (var step = 0; step < options.MaxNewTokens; step++)
        {
            var scores = counts is null ? logits : Sampling.Penalize(logits, counts, options.FrequencyPenalty, options.PresencePenalty);
            if (json is not null) scores = Sampling.Only(scores, [.. json.Select(row => row.Allowed(options.MaxNewTokens - step))]);
            var next = NextToken(scores, options, rng);
            counts?.scatter_add_(1, next, ones(batch, 1, float32, model.Device));
            if (json is not null)
            {
                using var chosen = next.view(-1).cpu();
                var chosenIds = chosen.data<long>().ToArray();
                for (var b = 0; b < json.Length; b++) json[b].Accept((int)chosenIds[b]);
            }
            generated.Add(next);
            if (onStep is not null)
            {
                using var host = next.view(-1).cpu();
                onStep(host.data<long>().ToArray());
            }
            finished = finished.logical_or(next.view(-1).eq(eos));
            if (step == options.MaxNewTokens - 1) break;
            if (options.StopAtEos && (onStep is not null || (step + 1) % EosCheckInterval == 0) && finished.all().item<bool>()) break;

            if (mask is not null) mask = cat([mask, ones(batch, 1, mask.dtype, mask.device)], 1);
            var nextEmbedding = model.Decoder.token_embedding.call(next);
            if (cache is not null)
            {
                logits = runner.NextLogits(nextEmbedding, mask, cache);
            }
            else
            {
                embeddings = cat([embeddings, nextEmbedding], 1);
                logits = runner.NextLogits(embeddings, mask);
            }
        }

        var ids = cat(generated, 1);
        if (ids.shape[1] < options.MaxNewTokens)
            ids = cat([ids, full(batch, options.MaxNewTokens - ids.shape[1], eos, int64, ids.device)], 1);
        return ReplaceAfterEos(ids, eos).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Below this temperature sampling is greedy: dividing the scores by it would overflow float32 into infinities.</summary>
    public const double GreedyBelowTemperature = 1e-4;

    internal static Tensor NextToken(Tensor logits, GenerationOptions options, torch.Generator? rng)
    {
        if (options.Greedy || options.Temperature < GreedyBelowTemperature) return logits.argmax(-1, keepdim: true);
        var filtered = Sampling.TopKTopPFilter(logits.to(float32), options.TopK, options.TopP);
        var probs = (filtered / options.Temperature).softmax(-1);
        return multinomial(probs, 1, generator: rng);
    }

    /// <summary>Every position at or after a row's first eos becomes eos.</summary>
    public static Tensor ReplaceAfterEos(Tensor ids, long eos)
    {
        using var scope = NewDisposeScope();
        var seenEos = ids.eq(eos).to(int32).cumsum(1).gt(0);
        return ids.masked_fill(seenEos, eos).MoveToOuterDisposeScope();
    }
}
