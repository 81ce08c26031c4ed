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
    public static IEnumerable<VlmBatch> PackedBatches(IEnumerable<VqaSample> samples, Func<VqaSample, EncodedSample?> prepare,
        Func<IReadOnlyList<EncodedSample[]>, VlmBatch> collate, int capacity, PackingOptions options, int batchSize, int seed,
        SkipCounter skipped, PackingStats stats, int workers = 0, CancellationToken cancel = default) =>
        SamplePacker.Batches(Prepared(samples, prepare, 2 * batchSize, workers, cancel), capacity, options, batchSize, seed, skipped, stats)
            .Select(collate);

    /// <summary>The prepared samples in stream order, at most <paramref name="prefetch"/> (or four per worker) in flight.</summary>
    static IEnumerable<EncodedSample> Prepared(IEnumerable<VqaSample> samples, Func<VqaSample, EncodedSample?> prepare, int prefetch,
        int workers, CancellationToken cancel)
    {
        workers = workers > 0 ? workers : Math.Max(1, Environment.ProcessorCount - 1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var pending = Channel.CreateBounded<Task<EncodedSample?>>(Math.Max(prefetch, 4 * workers));
        using var slots = new SemaphoreSlim(workers);
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
                    if (work.GetAwaiter().GetResult() is { } ready) yield return ready;
        }
        finally
        {
            stop.Cancel();
            try { producer.GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
        }
    }
}
