using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>
/// Preallocated per-layer key/value buffers [B, kv_heads, capacity, head_dim]: decoding writes one slot per
/// step instead of concatenating (which would copy the whole cache every token). It owns its tensors, outside any dispose scope.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys, values;
    readonly int capacity;

    public KvCache(VlmConfig cfg, long batch, int capacity, ScalarType dtype, Device device)
    {
        this.capacity = capacity;
        keys = new Tensor[cfg.LmNBlocks];
        values = new Tensor[cfg.LmNBlocks];
        for (var i = 0; i < cfg.LmNBlocks; i++)
        {
            keys[i] = zeros([batch, cfg.LmNKvHeads, capacity, cfg.LmHeadDim], dtype, device).DetachFromDisposeScope();
            values[i] = zeros([batch, cfg.LmNKvHeads, capacity, cfg.LmHeadDim], dtype, device).DetachFromDisposeScope();
        }
    }

    KvCache(Tensor[] keys, Tensor[] values, int capacity, int length, Tensor? rowStarts)
    {
        (this.keys, this.values, this.capacity, Length, RowStarts) = (keys, values, capacity, length, rowStarts);
    }

    /// <summary>The bytes of a cache of <paramref name="capacity"/> positions with elements of <paramref name="elementBytes"/>.</summary>
    public static double Bytes(VlmConfig cfg, long batch, long capacity, int elementBytes) =>
        2.0 * cfg.LmNBlocks * batch * cfg.LmNKvHeads * cfg.LmHeadDim * capacity * elementBytes;

    /// <summary>Slots already filled; the next tokens go into the slots from here on.</summary>
    public int Length { get; private set; }

    /// <summary>
    /// The slot of each row's first token [B] (int64), where its positions start from 0; null: every row's positions are its slots,
    /// as in a left-padded batch, where RoPE's relative positions make the padding invisible.
    /// </summary>
    public Tensor? RowStarts { get; }

    /// <summary>Stores this step's k, v [B, kv_heads, T, head_dim] for a layer; returns views of everything cached so far.</summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        var end = Length + (int)k.shape[2];
        if (end > capacity) throw new NanoVlmException($"KV cache full: {end} positions needed, capacity {capacity}");
        keys[layer].narrow(2, Length, k.shape[2]).copy_(k);
        values[layer].narrow(2, Length, v.shape[2]).copy_(v);
        return (keys[layer].narrow(2, 0, end), values[layer].narrow(2, 0, end));
    }

    internal void Advance(int t) => Length += t;

    internal (Tensor Keys, Tensor Values) Layer(int layer) => (keys[layer], values[layer]);

    /// <summary>Positions it has room for.</summary>
    public int Capacity => capacity;

    internal int Layers => keys.Length;

    /// <summary>
    /// Rows of several caches in one (a row may be taken more than once), each part right-aligned so that every row's next token
    /// goes into the same slot; slots before the earliest row start of a part are dropped. Room is left for <paramref name="extra"/> tokens.
    /// </summary>
    public static KvCache Merge(IReadOnlyList<(KvCache Cache, long[] Rows)> parts, int extra)
    {
        var first = parts[0].Cache;
        var (kvHeads, headDim, dtype, device) = (first.keys[0].shape[1], first.keys[0].shape[3], first.keys[0].dtype, first.keys[0].device);
        var spans = parts.Select(p => p.Cache.Length - (int)p.Rows.Min(r => p.Cache.RowStart(r))).ToArray();
        var length = spans.Max();
        var batch = parts.Sum(p => p.Rows.Length);
        var layers = first.keys.Length;
        var keys = new Tensor[layers];
        var values = new Tensor[layers];
        for (var l = 0; l < layers; l++)
        {
            keys[l] = zeros([batch, kvHeads, length + extra, headDim], dtype, device).DetachFromDisposeScope();
            values[l] = zeros([batch, kvHeads, length + extra, headDim], dtype, device).DetachFromDisposeScope();
        }
        var starts = new long[batch];
        var row = 0;
        for (var p = 0; p < parts.Count; p++)
        {
            var (cache, rows) = parts[p];
            var (from, to) = (cache.Length - spans[p], length - spans[p]);
            using var index = tensor(rows, device: device);
            // Only the kept span is read, and rows in order (the running batch) as a view: one copy per layer, not two.
            var inOrder = rows.Zip(rows.Skip(1)).All(r => r.Second == r.First + 1);
            Tensor Rows(Tensor t) => inOrder ? t.narrow(0, rows[0], rows.Length) : t.index_select(0, index);
            for (var l = 0; l < layers; l++)
            {
                using var kSpan = cache.keys[l].narrow(2, from, spans[p]);
                using var vSpan = cache.values[l].narrow(2, from, spans[p]);
                using var k = Rows(kSpan);
                using var v = Rows(vSpan);
                keys[l].narrow(0, row, rows.Length).narrow(2, to, spans[p]).copy_(k);
                values[l].narrow(0, row, rows.Length).narrow(2, to, spans[p]).copy_(v);
            }
            foreach (var r in rows) starts[row++] = cache.RowStart(r) - from + to;
        }
        return new KvCache(keys, values, length + extra, length, tensor(starts, device: device).DetachFromDisposeScope());
    }

    /// <summary>
    /// A one-row cache holding the first <paramref name="length"/> positions of row 0 of this one, with room for
    /// <paramref name="capacity"/> (a prompt's prefix kept for the next prompt that starts the same way, or reused by it).
    /// </summary>
    public KvCache Copy(int length, int capacity)
    {
        if (length > Length || length > capacity) throw new ArgumentOutOfRangeException(nameof(length), $"{length} of {Length} positions into {capacity}");
        var (k, v) = (new Tensor[keys.Length], new Tensor[keys.Length]);
        for (var l = 0; l < keys.Length; l++)
        {
            k[l] = zeros([1, keys[l].shape[1], capacity, keys[l].shape[3]], keys[l].dtype, keys[l].device).DetachFromDisposeScope();
            v[l] = zeros([1, values[l].shape[1], capacity, values[l].shape[3]], values[l].dtype, values[l].device).DetachFromDisposeScope();
            k[l].narrow(2, 0, length).copy_(keys[l].narrow(0, 0, 1).narrow(2, 0, length));
            v[l].narrow(2, 0, length).copy_(values[l].narrow(0, 0, 1).narrow(2, 0, length));
        }
        return new KvCache(k, v, capacity, length, null);
    }

    /// <summary>The bytes its tensors hold.</summary>
    public long HeldBytes => keys.Concat(values).Sum(t => t.numel() * t.element_size());

    long RowStart(long row) => RowStarts is null ? 0 : RowStarts[row].item<long>();

    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
        RowStarts?.Dispose();
    }
}
