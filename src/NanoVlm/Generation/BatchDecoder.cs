using System.Runtime.InteropServices;
using NanoVlm.Generation.Structured;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Generation;

/// <summary>
/// Decoding of a batch whose rows change between steps (continuous batching). A prompt joins after its own prefill, its KV cache
/// right-aligned with the running rows' (each row keeps its own positions, so it computes what it would alone); rows leave when they
/// finish or when the caller drops them. Each row samples with its own options and seed. Not thread-safe: one thread drives it.
/// </summary>
public sealed class BatchDecoder(VisionLanguageModel model, DecodePath path = DecodePath.Auto, int? maxRows = null) : IDisposable
{
    // Made at the first prompt, not with the decoder: a decoder may be made on a serving thread before (or after) the model is usable.
    DecodeRunner? _runner;
    DecodeRunner Runner => _runner ??= new DecodeRunner(model, path);

    /// <param name="Key">The prompt's content key, when its answer's cache is to be kept in <see cref="Prefixes"/> as it leaves.</param>
    sealed record Row(long Id, GenerationOptions Options, torch.Generator? Rng, long[]? Key, PrefixCache? Prefixes)
    {
        /// <summary>The tokens sampled so far; all but a pending one are in the cache.</summary>
        public List<long> Sampled { get; } = [];
        /// <summary>Its scores were not finite or its sampling failed: its cache is not kept.</summary>
        public bool Failed { get; set; }
        /// <summary>Where the answer stands in its JSON value, when the options ask for one.</summary>
        public JsonConstraint.Cursor? Json { get; } = Options.Json?.Start();
        /// <summary>How often this answer has used each token: [1, V] when the options penalize, else null.</summary>
        public Tensor? Counts { get; set; }
        public int Produced { get; set; }
        public int Remaining => Options.MaxNewTokens - Produced;
    }

    readonly List<Row> _rows = [];
    KvCache? _cache;
    Tensor? _logits;  // [B, V] for the next token, while no token is pending
    Tensor? _pending; // [B, 1] sampled tokens not yet fed to the model
    long _nextId;

    public int Count => _rows.Count;

    /// <summary>Prompt positions the last <see cref="Join"/> took from its prefix cache instead of prefilling them.</summary>
    public int LastReused { get; private set; }

    /// <summary>
    /// Prefills one prompt (input ids [1, T], its mask and images, or the images already encoded) and adds a row per options (several
    /// answers share the prefill). Returns the new rows' ids.
    /// </summary>
    /// <remarks>
    /// With <paramref name="prefixes"/> and the prompt's content key (<see cref="PrefixCache"/>), the longest cached prefix is reused and
    /// only the rest is prefilled (<see cref="LastReused"/> says how many positions); the prompt's cache is then kept for the next.
    /// </remarks>
    public long[] Join(Tensor inputIds, Tensor? images, Tensor? attentionMask, IReadOnlyList<GenerationOptions> options, Tensor? encodedImages = null,
        PrefixCache? prefixes = null, long[]? contentKey = null)
    {
        using var prompt = Begin(inputIds, images, attentionMask, options, encodedImages, prefixes, contentKey);
        Continue(prompt, int.MaxValue);
        return Finish(prompt);
    }

    /// <summary>
    /// A prompt to prefill in parts between decoding steps (<see cref="Continue"/>, then <see cref="Finish"/>): embedded, its cached
    /// prefix (if any) taken, nothing of the rest computed yet. The running rows are not touched until it finishes.
    /// </summary>
    public PendingPrompt Begin(Tensor inputIds, Tensor? images, Tensor? attentionMask, IReadOnlyList<GenerationOptions> options, Tensor? encodedImages = null,
        PrefixCache? prefixes = null, long[]? contentKey = null)
    {
        if (inputIds.shape[0] != 1) throw new NanoVlmException($"a prompt joins alone: got a batch of {inputIds.shape[0]}");
        foreach (var o in options)
        {
            o.Validate();
            if (o.MaxNewTokens < 1) throw NanoVlmException.For(nameof(o.MaxNewTokens), $"must be >= 1 to join a batch, got {o.MaxNewTokens}");
        }
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var (embeddings, mask) = model.Embed(inputIds, images, attentionMask, encodedImages);
        var length = (int)embeddings.shape[1];
        KvCache Empty() => new(model.Config, 1, length, embeddings.dtype, embeddings.device);
        var keyed = prefixes is not null && contentKey is not null && contentKey.Length == length;
        var (cache, reused) = keyed ? prefixes!.Start(contentKey!, Empty) : (Empty(), 0);
        return new PendingPrompt(embeddings.DetachFromDisposeScope(), mask?.DetachFromDisposeScope(), cache, reused, options, keyed ? prefixes : null, contentKey);
    }

    /// <summary>Prefills up to <paramref name="tokens"/> more positions of the prompt; returns whether it is all prefilled.</summary>
    public bool Continue(PendingPrompt prompt, int tokens)
    {
        if (prompt.Done) return true;
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var (from, length) = (prompt.Cache.Length, (int)prompt.Embeddings.shape[1]);
        var count = (int)Math.Min(length - from, Math.Max(1L, tokens));
        var logits = Runner.NextLogits(prompt.Embeddings.narrow(1, from, count), prompt.Mask, prompt.Cache);
        if (prompt.Cache.Length < length) return false;
        prompt.Logits = logits.DetachFromDisposeScope();
        return true;
    }

    /// <summary>The prefilled prompt's rows join the batch (its cache right-aligned with theirs); returns their ids.</summary>
    public long[] Finish(PendingPrompt prompt)
    {
        if (!prompt.Done) throw new InvalidOperationException("the prompt is not prefilled yet");
        using var inference = inference_mode();
        if (_pending is not null) Feed();
        using var scope = NewDisposeScope();
        // The prefix cache takes the prompt's cache itself (Merge below only reads it): no copy of a long prompt's cache at its join.
        if (prompt.Prefixes?.Store(prompt.ContentKey!, prompt.Cache, adopt: true) == true) prompt.CacheGiven = true;
        LastReused = prompt.Reused;
        var logits = prompt.Logits!;
        var joined = prompt.Options.Select(o => new Row(_nextId++, o, o.Seed is long seed ? new torch.Generator((ulong)seed, model.Device) : null,
            prompt.ContentKey, prompt.Prefixes)).ToList();
        var extra = _rows.Concat(joined).Max(r => r.Remaining);
        // In place when the batch cache has room: only the newcomer's positions are copied. Else one merged cache, with room for the
        // batch to double (up to maxRows) and for more tokens than the longest answer has left (64-512 more), so later joins go in place.
        var cache = _cache?.TryJoin(prompt.Cache, joined.Count, extra) == true ? _cache : Merged(prompt.Cache, joined.Count, extra);
        var added = logits.expand(joined.Count, -1);
        Replace(cache, _logits is null ? added : cat([_logits, added], 0), null);
        _rows.AddRange(joined);
        return joined.Select(r => r.Id).ToArray();
    }

    /// <summary>The running rows and <paramref name="copies"/> of a prompt's in one new cache (see <see cref="Finish"/>).</summary>
    KvCache Merged(KvCache prompt, int copies, int extra)
    {
        var parts = new List<(KvCache, long[])>();
        if (_cache is not null) parts.Add((_cache, Enumerable.Range(0, _rows.Count).Select(i => (long)i).ToArray()));
        parts.Add((prompt, new long[copies]));
        var rows = _rows.Count + copies;
        return KvCache.Merge(parts, extra + Math.Clamp(extra, 64, 512), Math.Max(0, Math.Min(2 * rows, maxRows ?? 2 * rows) - rows));
    }

    /// <summary>Samples every row's next token; a row that finishes leaves the batch.</summary>
    public IReadOnlyList<DecodedToken> Step()
    {
        if (_rows.Count == 0) return [];
        using var inference = inference_mode();
        if (_pending is not null) Feed();
        using var scope = NewDisposeScope();
        var greedy = _logits!.argmax(-1).cpu().data<long>().ToArray();
        var finite = _logits.isfinite().all(-1).cpu().data<bool>().ToArray();
        // Log-probabilities of the raw scores, for the rows that ask (one log-softmax for the batch).
        var logprobs = _rows.Any(r => r.Options.Logprobs is not null) ? _logits.to(ScalarType.Float32).log_softmax(-1) : null;
        var tokens = new long[_rows.Count];
        var decoded = new DecodedToken[_rows.Count];
        for (var b = 0; b < _rows.Count; b++)
        {
            var row = _rows[b];
            row.Produced++;
            // A row whose scores are not finite, or whose sampling fails, leaves with the reason: the other rows' tokens do not change.
            string? error = finite[b] ? null : "the model's scores for this request are not finite (NaN or infinity)";
            if (error is null)
                try
                {
                    tokens[b] = Next(row, _logits.narrow(0, b, 1), greedy[b]);
                }
                catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException or NanoVlmException)
                {
                    error = $"sampling this request's next token failed: {e.Message.Split('\n')[0]}";
                }
            if (error is not null)
            {
                row.Failed = true;
                tokens[b] = model.EosTokenId;
                decoded[b] = new DecodedToken(row.Id, tokens[b], true, error);
                continue;
            }
            row.Sampled.Add(tokens[b]);
            var finished = row.Remaining == 0 || (row.Options.StopAtEos && tokens[b] == model.EosTokenId);
            decoded[b] = new DecodedToken(row.Id, tokens[b], finished, Logprob: row.Options.Logprobs is { } k ? Logprob(logprobs![b], tokens[b], k) : null);
        }
        var pending = tensor(tokens, device: model.Device).view(-1, 1).DetachFromDisposeScope();
        _logits!.Dispose();
        _logits = null;
        _pending = pending;
        Leave(decoded.Where(d => d.Finished).Select(d => d.Row).ToHashSet());
        return decoded;
    }

    /// <summary>A row's next token from its scores [1, V]: held to its JSON value, penalized, then sampled (or the argmax).</summary>
    long Next(Row row, Tensor scores, long greedy)
    {
        using var scope = NewDisposeScope();
        if (row.Json is { } json) scores = Sampling.Only(scores, [json.Allowed(row.Remaining + 1)]);
        if (row.Options.Penalizes)
        {
            row.Counts ??= zeros(1, scores.shape[^1], ScalarType.Float32, model.Device).DetachFromDisposeScope();
            scores = Sampling.Penalize(scores, row.Counts, row.Options.FrequencyPenalty, row.Options.PresencePenalty);
        }
        var token = row.Json is null && !row.Options.Penalizes && row.Options.Greedy
            ? greedy
            : TextGeneration.NextToken(scores, row.Options, row.Rng).item<long>();
        row.Counts?[0, token].add_(1);
        row.Json?.Accept((int)token);
        return token;
    }

    static TokenLogprob Logprob(Tensor logprobs, long token, int top)
    {
        var chosen = logprobs[token].item<float>();
        if (top == 0) return new TokenLogprob(token, chosen, []);
        var (values, indices) = logprobs.topk(top);
        var (v, i) = (values.cpu().data<float>().ToArray(), indices.cpu().data<long>().ToArray());
        return new TokenLogprob(token, chosen, [.. i.Zip(v, (id, lp) => (id, (double)lp))]);
    }

    /// <summary>Drops rows (finished elsewhere, e.g. at a stop string, or abandoned); unknown ids are ignored.</summary>
    public void Leave(IReadOnlySet<long> ids)
    {
        if (!_rows.Any(r => ids.Contains(r.Id))) return;
        using var inference = inference_mode();
        if (_rows.All(r => ids.Contains(r.Id)))
        {
            for (var i = 0; i < _rows.Count; i++) Keep(_rows[i], i);
            foreach (var row in _rows) row.Counts?.Dispose();
            _rows.Clear();
            Replace(null, null, null);
            return;
        }
        // Each leaving row's place is taken by the last row, in the cache (one row's copy) as in the list, the scores and the tokens.
        var order = Enumerable.Range(0, _rows.Count).Select(i => (long)i).ToList();
        for (var i = _rows.Count - 1; i >= 0; i--)
        {
            if (!ids.Contains(_rows[i].Id)) continue;
            Keep(_rows[i], i);
            _rows[i].Counts?.Dispose();
            _cache!.RemoveRow(i);
            (_rows[i], order[i]) = (_rows[^1], order[^1]);
            _rows.RemoveAt(_rows.Count - 1);
            order.RemoveAt(order.Count - 1);
        }
        using var scope = NewDisposeScope();
        using var index = tensor(order.ToArray(), device: model.Device);
        Replace(_cache, _logits?.index_select(0, index), _pending?.index_select(0, index));
    }

    /// <summary>
    /// A leaving row's prompt and answer, as far as its cache holds them, into the prefix cache: a conversation's next turn sends the
    /// answer back, and then prefills only what follows it.
    /// </summary>
    void Keep(Row row, int index)
    {
        if (row.Key is null || row.Prefixes is null || row.Failed) return;
        var fed = row.Sampled.Count - (_pending is null ? 0 : 1);
        var length = row.Key.Length + fed;
        if (fed <= 0 || _cache!.RowLength(index) != length) return;
        var kept = _cache.Copy(length, length, index);
        if (!row.Prefixes.Store([.. row.Key, .. row.Sampled.Take(fed)], kept, adopt: true)) kept.Dispose();
    }

    /// <summary>Feeds the pending tokens: the cache grows by one slot, the logits of the next token are ready.</summary>
    void Feed()
    {
        using var scope = NewDisposeScope();
        var cache = _cache!;
        var mask = arange(cache.Length + 1, device: model.Device).unsqueeze(0).ge(cache.RowStarts!.unsqueeze(1));
        using var decoding = Runner.Stepping(_pending!.shape[0]);
        _logits = Runner.NextLogits(model.Decoder.token_embedding.call(_pending!), mask, cache).DetachFromDisposeScope();
        _pending!.Dispose();
        _pending = null;
    }

    void Replace(KvCache? cache, Tensor? logits, Tensor? pending)
    {
        logits?.DetachFromDisposeScope();
        pending?.DetachFromDisposeScope();
        if (!ReferenceEquals(cache, _cache)) _cache?.Dispose();
        if (!ReferenceEquals(logits, _logits)) _logits?.Dispose();
        if (!ReferenceEquals(pending, _pending)) _pending?.Dispose();
        (_cache, _logits, _pending) = (cache, logits, pending);
    }

    public void Dispose()
    {
        foreach (var row in _rows) row.Counts?.Dispose();
        Replace(null, null, null);
    }
}
