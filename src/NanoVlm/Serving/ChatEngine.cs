using System.Threading.Channels;
using NanoVlm.Generation;
using NanoVlm.Generation.Structured;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Serving;

/// <summary>
/// Answers chat requests concurrently with one model: requests wait in a bounded queue and join the decoding batch (up to
/// <see cref="ChatEngineOptions.MaxBatch"/> rows) between steps, first come first served; an answer leaves the batch when it ends.
/// Prompts are encoded by the caller's thread in <see cref="Submit"/>, so bad input is refused before it queues.
/// </summary>
public sealed class ChatEngine : IDisposable
{
    readonly Channel<ChatJob> _queue = Channel.CreateUnbounded<ChatJob>(new UnboundedChannelOptions { SingleReader = true });
    readonly Thread _worker;
    int _queued, _active;
    long _steps, _rowSteps, _prefillParts, _prefilledTokens;

    public ChatEngine(PretrainedVlm vlm, ChatEngineOptions? options = null)
    {
        Options = options ?? new ChatEngineOptions();
        Options.Validate();
        Vlm = vlm;
        ImageCache = Options.ImageCacheBytes > 0 ? new ImageEmbeddingCache(Options.ImageCacheBytes) : null;
        // A v0.1 model puts its image in front of the text, where the content key (token by token) cannot follow it.
        Prefixes = Options.PrefixCacheBytes > 0 && !vlm.Config.PrependsImages ? new PrefixCache(Options.PrefixCacheBytes) : null;
        _worker = new Thread(Run) { IsBackground = true, Name = "nanovlm-decoder" };
        _worker.Start();
    }

    public PretrainedVlm Vlm { get; }
    public ChatEngineOptions Options { get; }
    /// <summary>Image encodings kept between requests (null when <see cref="ChatEngineOptions.ImageCacheBytes"/> is 0).</summary>
    public ImageEmbeddingCache? ImageCache { get; }
    /// <summary>Earlier prompts' KV caches (null when <see cref="ChatEngineOptions.PrefixCacheBytes"/> is 0, or for a v0.1 model).</summary>
    public PrefixCache? Prefixes { get; }
    /// <summary>Requests waiting for a place in the batch.</summary>
    public int QueueLength => Volatile.Read(ref _queued);
    /// <summary>Rows in the batch now.</summary>
    public int BatchSize => Volatile.Read(ref _active);
    /// <summary>Decoding steps so far, and rows decoded over them (their ratio is the mean batch size).</summary>
    public (long Steps, long Rows) Decoded => (Interlocked.Read(ref _steps), Interlocked.Read(ref _rowSteps));
    /// <summary>Prefill forwards so far (a whole prompt or a part of one), and the prompt positions they computed.</summary>
    public (long Parts, long Tokens) Prefilled => (Interlocked.Read(ref _prefillParts), Interlocked.Read(ref _prefilledTokens));

    /// <summary>Encodes and queues a request; throws <see cref="NanoVlmException"/> for bad input, <see cref="QueueFullException"/> when full.</summary>
    public ChatJob Submit(ChatRequest request, CancellationToken cancellation = default)
    {
        if (request.Choices < 1 || request.Choices > Options.MaxBatch)
            throw new NanoVlmException($"n must be between 1 and {Options.MaxBatch} (the batch size), got {request.Choices}");
        if (request.Stop.Count > ChatRequest.MaxStops) throw new NanoVlmException($"at most {ChatRequest.MaxStops} stop strings, got {request.Stop.Count}");
        if (request.Stop.Any(s => s.Length == 0)) throw new NanoVlmException("a stop string is empty");
        request.Options.Validate();
        if (request.ResponseFormat is { } format) request = request with { Options = request.Options with { Json = JsonConstraint.For(format, Vlm.Tokenizer) } };
        if (request.Options.MaxNewTokens < 1) throw NanoVlmException.For("MaxNewTokens", $"must be >= 1, got {request.Options.MaxNewTokens}");
        if (Interlocked.Increment(ref _queued) > Options.MaxQueue)
        {
            Interlocked.Decrement(ref _queued);
            throw new QueueFullException(Options.MaxQueue);
        }
        try
        {
            var prompt = request.Prompt is { } text ? Vlm.Processor.EncodeText(text) : Vlm.Processor.EncodeChat(request.Messages, request.Images);
            try
            {
                if (request.ToContextEnd)
                    request = request with { Options = request.Options with { MaxNewTokens = Math.Min(Options.MaxDefaultTokens, Vlm.ContextLeft(prompt.InputIds.shape[1])) } };
                Vlm.CheckContext(prompt.InputIds.shape[1], request.Options.MaxNewTokens);
                // The tiles' keys (both caches use them) are hashed here, on the caller's thread, not on the decoding one.
                var tileKeys = prompt.TilesPerImage.Count == 0 || (ImageCache is null && Prefixes is null)
                    ? []
                    : ImageEmbeddingCache.TileKeys(request.Images, prompt.TilesPerImage, Vlm.Processor.ImageSettings);
                var job = new ChatJob(request, prompt, Vlm.Tokenizer, cancellation) { TileKeys = tileKeys };
                if (!_queue.Writer.TryWrite(job)) throw new ObjectDisposedException(nameof(ChatEngine));
                return job;
            }
            catch
            {
                prompt.Dispose();
                throw;
            }
        }
        catch
        {
            Interlocked.Decrement(ref _queued);
            throw;
        }
    }

    void Run()
    {
        var rows = new Dictionary<long, (ChatJob Job, int Choice)>();
        // Prompts being prefilled a chunk per decoding step, first come first served.
        var prefilling = new List<(ChatJob Job, PendingPrompt Prompt)>();
        var decoder = new BatchDecoder(Vlm.Model, maxRows: Options.MaxBatch);
        ChatJob? next = null;
        try
        {
            while (true)
            {
                if (rows.Count == 0 && prefilling.Count == 0 && next is null && !_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) return;
                try
                {
                    while (next is not null || _queue.Reader.TryRead(out next))
                    {
                        var taken = rows.Count + prefilling.Sum(p => p.Job.Request.Choices);
                        if (taken > 0 && taken + next.Request.Choices > Options.MaxBatch) break;
                        var started = next;
                        next = null;
                        if (Begin(decoder, started) is { } prompt)
                        {
                            if (prompt.Length - prompt.Prefilled > Chunk(rows.Count)) prefilling.Add((started, prompt));
                            else using (prompt) Prefill(decoder, started, prompt, int.MaxValue, rows);
                        }
                    }
                    // One chunk of the oldest waiting prompt between two decoding steps: the running streams never wait for a whole prefill.
                    if (prefilling.Count > 0)
                    {
                        var (job, prompt) = prefilling[0];
                        if (job.Cancellation.IsCancellationRequested || Prefill(decoder, job, prompt, Chunk(rows.Count), rows))
                        {
                            if (job.Cancellation.IsCancellationRequested) job.Fail(new OperationCanceledException(job.Cancellation));
                            prefilling.RemoveAt(0);
                            prompt.Dispose();
                        }
                    }
                    LeaveAbandoned(decoder, rows);
                    if (rows.Count > 0) Step(decoder, rows);
                }
                catch (Exception e)
                {
                    // A failed step fails the requests in the batch and those being prefilled into it, not the engine (nor the process).
                    foreach (var job in rows.Values.Select(r => r.Job).Concat(prefilling.Select(p => p.Job)).Distinct()) job.Fail(e);
                    foreach (var (_, prompt) in prefilling) prompt.Dispose();
                    prefilling.Clear();
                    rows.Clear();
                    decoder.Dispose();
                    decoder = new BatchDecoder(Vlm.Model, maxRows: Options.MaxBatch);
                    Volatile.Write(ref _active, 0);
                }
            }
        }
        finally
        {
            foreach (var (_, prompt) in prefilling) prompt.Dispose();
            decoder.Dispose();
        }
    }

    /// <summary>The part of a prompt prefilled at once: small while <paramref name="decoding"/> answers wait for it, larger when none do.</summary>
    int Chunk(int decoding) => (decoding > 0 ? Options.PrefillChunk : Options.IdlePrefillChunk) is > 0 and var chunk ? chunk : int.MaxValue;

    void Step(BatchDecoder decoder, Dictionary<long, (ChatJob Job, int Choice)> rows)
    {
        var tokens = decoder.Step();
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _rowSteps, tokens.Count);
        var done = new HashSet<long>();
        foreach (var t in tokens)
        {
            var (job, choice) = rows[t.Row];
            if (t.Error is { } error)
            {
                // That request ends with its error, all its answers with it; the batch goes on.
                job.Fail(new DecodeFailedException(error));
                done.UnionWith(rows.Where(r => r.Value.Job == job).Select(r => r.Key));
                continue;
            }
            if (job.Accept(choice, t.Token, t.Finished, t.Logprob) || t.Finished) done.Add(t.Row);
        }
        Leave(decoder, rows, done);
    }

    /// <summary>A queued job's prompt embedded (images through the image cache) and its cached prefix taken; null when it failed or was cancelled.</summary>
    PendingPrompt? Begin(BatchDecoder decoder, ChatJob job)
    {
        Interlocked.Decrement(ref _queued);
        job.Started();
        using var prompt = job.Prompt;
        if (job.Cancellation.IsCancellationRequested)
        {
            job.Fail(new OperationCanceledException(job.Cancellation));
            return null;
        }
        try
        {
            var o = job.Request.Options;
            var options = Enumerable.Range(0, job.Request.Choices).Select(i => o with { Seed = o.Seed + i }).ToList();
            var images = prompt.Images.shape[0] == 0 ? null : prompt.Images;
            using var encoded = images is null ? null : ImageCache?.Encode(Vlm.Model, images, job.TileKeys);
            var pending = decoder.Begin(prompt.InputIds, images, prompt.AttentionMask, options, encoded, Prefixes,
                Prefixes is null ? null : ContentKey(prompt.InputIds, job.TileKeys));
            job.CachedTokens = pending.Reused;
            return pending;
        }
        catch (Exception e)
        {
            job.Fail(e);
            return null;
        }
    }

    /// <summary>
    /// Prefills up to <paramref name="tokens"/> more of a prompt; when all of it is in, its answers join the batch. Returns whether it is
    /// done with (joined or failed); the caller disposes it then.
    /// </summary>
    bool Prefill(BatchDecoder decoder, ChatJob job, PendingPrompt prompt, int tokens, Dictionary<long, (ChatJob, int)> rows)
    {
        try
        {
            var before = prompt.Prefilled;
            var done = decoder.Continue(prompt, tokens);
            Interlocked.Increment(ref _prefillParts);
            Interlocked.Add(ref _prefilledTokens, prompt.Prefilled - before);
            if (!done) return false;
            var ids = decoder.Finish(prompt);
            for (var i = 0; i < ids.Length; i++) rows[ids[i]] = (job, i);
            Volatile.Write(ref _active, rows.Count);
        }
        catch (Exception e)
        {
            job.Fail(e);
        }
        return true;
    }

    /// <summary>
    /// A prompt position by position as the prefix cache keys it: its token ids, and for each image placeholder a negative number from
    /// its tile's pixels hash and its place among the tile's placeholders (two images never share a key; a token id is never negative).
    /// </summary>
    long[] ContentKey(TorchSharp.torch.Tensor inputIds, IReadOnlyList<string> tileKeys)
    {
        var ids = inputIds.cpu().data<long>().ToArray();
        if (tileKeys.Count == 0) return ids;
        var imageToken = Vlm.Tokenizer.ExtraTokenIds["image_token"];
        var perTile = Vlm.Config.MpImageTokenLength;
        var placeholder = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] != imageToken) continue;
            var tile = ulong.Parse(tileKeys[placeholder / perTile][..16], System.Globalization.NumberStyles.HexNumber);
            ids[i] = (long)((tile ^ ((ulong)(placeholder % perTile) * 0x9E3779B97F4A7C15UL)) | 0x8000000000000000UL);
            placeholder++;
        }
        return ids;
    }

    void LeaveAbandoned(BatchDecoder decoder, Dictionary<long, (ChatJob Job, int)> rows)
    {
        var abandoned = rows.Where(r => r.Value.Job.Cancellation.IsCancellationRequested).ToList();
        foreach (var job in abandoned.Select(r => r.Value.Job).Distinct()) job.Fail(new OperationCanceledException(job.Cancellation));
        Leave(decoder, rows, abandoned.Select(r => r.Key).ToHashSet());
    }

    void Leave(BatchDecoder decoder, Dictionary<long, (ChatJob, int)> rows, HashSet<long> ids)
    {
        if (ids.Count == 0) return;
        decoder.Leave(ids);
        foreach (var id in ids) rows.Remove(id);
        Volatile.Write(ref _active, rows.Count);
    }

    /// <summary>Stops taking requests; the batch in flight finishes, then the decoding thread ends.</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _worker.Join();
        ImageCache?.Dispose();
        Prefixes?.Dispose();
    }
}
