using System.Collections.Concurrent;
using System.Threading.Channels;

namespace NanoVlm.Data;

/// <summary>
/// Batches a sample stream with background workers: each sample is prepared (images decoded, text tokenized) on the thread pool,
/// at most two batches ahead, and results are taken in stream order, so batches (packed or not) are deterministic for a given
/// input order whatever the timing. Skipped samples (prepare returns null) simply do not appear. Cancelling stops the workers.
/// </summary>
public static class VqaDataLoader
{
    /// <summary>The largest batch accepted (samples per micro-batch).</summary>
    public const int MaxBatchSize = 1 << 16;

    public static IEnumerable<VlmBatch> Batches(IEnumerable<VqaSample> samples, Func<VqaSample, EncodedSample?> prepare,
        Func<IReadOnlyList<EncodedSample>, VlmBatch> collate, int batchSize, int workers = 0, bool dropLast = false,
        CancellationToken cancel = default)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize));
        var batch = new List<EncodedSample>(batchSize);
        foreach (var ready in Prepared(samples, prepare, 2 * batchSize, workers, cancel))
        {
            batch.Add(ready);
            if (batch.Count < batchSize) continue;
            yield return collate(batch);
            batch = new List<EncodedSample>(batchSize);
        }
        if (batch.Count > 0 && !dropLast) yield return collate(batch);
    }

    /// <summary>Batches of <paramref name="batchSize"/> packed rows (see <see cref="SamplePacker.Batches"/>).</summary>
    /// <summary>
    /// Packed batches. With <paramref name="processes"/> &gt; 1 the samples are the global stream and every process packs all of it the
    /// same way into global batches of processes x <paramref name="batchSize"/> rows, keeping rows [rank x batch, (rank + 1) x batch)
    /// of each: what one process packing batches of processes x batch rows computes. An incomplete last global batch is dropped so
    /// that the processes run the same steps.
    /// </summary>
    public static IEnumerable<VlmBatch> PackedBatches(IEnumerable<VqaSample> samples, Func<VqaSample, EncodedSample?> prepare,
        Func<IReadOnlyList<EncodedSample[]>, VlmBatch> collate, int capacity, PackingOptions options, int batchSize, int seed,
        SkipCounter skipped, PackingStats stats, int workers = 0, CancellationToken cancel = default, int processes = 1, int rank = 0)
    {
        var global = batchSize * processes;
        foreach (var rows in SamplePacker.Batches(Prepared(samples, prepare, 2 * global, workers, cancel), capacity, options, global, seed, skipped, stats))
        {
            if (processes == 1)
            {
                yield return collate(rows);
                continue;
            }
            var mine = rows.Count == global ? rows.Skip(rank * batchSize).Take(batchSize).ToList() : [];
            foreach (var other in rows.Except(mine)) foreach (var sample in other) foreach (var image in sample.Images) image.Dispose();
            if (mine.Count > 0) yield return collate(mine);
        }
    }

    /// <summary>The prepared samples in stream order, at most <paramref name="prefetch"/> (or four per worker) in flight.</summary>
    static IEnumerable<EncodedSample> Prepared(IEnumerable<VqaSample> samples, Func<VqaSample, EncodedSample?> prepare, int prefetch,
        int workers, CancellationToken cancel)
    {
        workers = workers > 0 ? workers : Math.Max(1, Environment.ProcessorCount - 1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var pending = Channel.CreateBounded<Task<EncodedSample?>>(Math.Max(prefetch, 4 * workers));
        using var slots = new SemaphoreSlim(workers);
        // Every started preparation in order, until it is taken: those not taken when the reading stops are waited for below.
        var started = new ConcurrentQueue<Task<EncodedSample?>>();
        var producer = Task.Run(async () =>
        {
            try
            {
                foreach (var sample in samples)
                {
                    await slots.WaitAsync(stop.Token);
                    var work = Task.Run(() =>
                    {
                        try { return prepare(sample); }
                        finally { slots.Release(); }
                    }, CancellationToken.None);
                    started.Enqueue(work);
                    await pending.Writer.WriteAsync(work, stop.Token);
                }
                pending.Writer.Complete();
            }
            catch (Exception e)
            {
                pending.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            while (pending.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult())
                while (pending.Reader.TryRead(out var work))
                {
                    started.TryDequeue(out _);
                    if (work.GetAwaiter().GetResult() is { } ready) yield return ready;
                }
        }
        finally
        {
            stop.Cancel();
            try { producer.GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
            // A reader that stops early (a run that reached its last step) returns while samples may still be in preparation. They
            // use what the caller frees next (the tokenizer, the processor's native handles), so they are waited for, and what
            // they made is freed.
            while (started.TryDequeue(out var work))
                try
                {
                    if (work.GetAwaiter().GetResult() is { } unused) foreach (var image in unused.Images) image.Dispose();
                }
                catch (Exception) { } // its error would have been raised to a reader that took it; nobody will
        }
    }
}
