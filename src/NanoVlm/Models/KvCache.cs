using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>
/// Preallocated per-layer key/value buffers [rows, kv_heads, capacity, head_dim]: decoding writes one slot per
/// step instead of concatenating (which would copy the whole cache every token). A batch cache may hold room for more rows than
/// it uses: rows then join it and leave it in place (<see cref="TryJoin"/>, <see cref="RemoveRow"/>), copying only their own
/// positions. It owns its tensors, outside any dispose scope.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keyStore, valueStore; // every row it has room for
    Tensor[] keys, values;                   // the rows in use: views of the first Rows rows
    readonly int capacity;
    long[]? starts;
    Tensor? startsTensor;

    public KvCache(VlmConfig cfg, long batch, int capacity, ScalarType dtype, Device device)
    {
        this.capacity = capacity;
        keyStore = new Tensor[cfg.LmNBlocks];
        valueStore = new Tensor[cfg.LmNBlocks];
        for (var i = 0; i < cfg.LmNBlocks; i++)
        {
            keyStore[i] = zeros([batch, cfg.LmNKvHeads, capacity, cfg.LmHeadDim], dtype, device).DetachFromDisposeScope();
            valueStore[i] = zeros([batch, cfg.LmNKvHeads, capacity, cfg.LmHeadDim], dtype, device).DetachFromDisposeScope();
        }
        (keys, values, Rows) = (keyStore, valueStore, (int)batch);
    }

    KvCache(Tensor[] keyStore, Tensor[] valueStore, int rows, int capacity, int length, long[]? starts)
    {
        (this.keyStore, this.valueStore, this.capacity, Length, this.starts) = (keyStore, valueStore, capacity, length, starts);
        (keys, values) = (keyStore, valueStore);
        Use(rows);
    }

    /// <summary>The bytes of a cache of <paramref name="capacity"/> positions with elements of <paramref name="elementBytes"/>.</summary>
    public static double Bytes(VlmConfig cfg, long batch, long capacity, int elementBytes) =>
        2.0 * cfg.LmNBlocks * batch * cfg.LmNKvHeads * cfg.LmHeadDim * capacity * elementBytes;

    /// <summary>Slots already filled; the next tokens go into the slots from here on.</summary>
    public int Length { get; private set; }

    /// <summary>Rows in use, and rows it has room for.</summary>
    public int Rows { get; private set; }
    public int RowCapacity => (int)keyStore[0].shape[0];

    /// <summary>
    /// The slot of each row's first token [Rows] (int64), where its positions start from 0; null: every row's positions are its slots,
    /// as in a left-padded batch, where RoPE's relative positions make the padding invisible.
    /// </summary>
    public Tensor? RowStarts => starts is null ? null : startsTensor ??= tensor(starts.AsSpan(0, Rows).ToArray(), device: keyStore[0].device).DetachFromDisposeScope();

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
    /// goes into the same slot; slots before the earliest row start of a part are dropped. Room is left for <paramref name="extra"/>
    /// more tokens, and for <paramref name="spareRows"/> rows to join later.
    /// </summary>
    public static KvCache Merge(IReadOnlyList<(KvCache Cache, long[] Rows)> parts, int extra, int spareRows = 0)
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
            keys[l] = zeros([batch + spareRows, kvHeads, length + extra, headDim], dtype, device).DetachFromDisposeScope();
            values[l] = zeros([batch + spareRows, kvHeads, length + extra, headDim], dtype, device).DetachFromDisposeScope();
        }
        var starts = new long[batch + spareRows];
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
        return new KvCache(keys, values, batch, length + extra, length, starts);
    }

    /// <summary>
    /// Adds <paramref name="copies"/> rows holding row 0 of <paramref name="source"/> in place, right-aligned with the rows here, when
    /// they fit: free rows, its positions no more than this cache's, and room for <paramref name="extra"/> more tokens. Only the new
    /// rows are written (their slots before their start zeroed, so nothing a departed row left there can reach them).
    /// </summary>
    public bool TryJoin(KvCache source, int copies, int extra)
    {
        var span = source.RowLength(0);
        if (starts is null || Rows + copies > RowCapacity || span > Length || Length + extra > capacity) return false;
        var (from, to) = (source.Length - span, Length - span);
        for (var l = 0; l < keyStore.Length; l++)
            foreach (var (store, part) in new[] { (keyStore[l], source.keys[l]), (valueStore[l], source.values[l]) })
            {
                using var kept = part.narrow(0, 0, 1).narrow(2, from, span);
                using var rows = store.narrow(0, Rows, copies);
                using var before = rows.narrow(2, 0, to);
                before.zero_();
                using var into = rows.narrow(2, to, span);
                into.copy_(kept);
            }
        for (var c = 0; c < copies; c++) starts[Rows + c] = to;
        Use(Rows + copies);
        return true;
    }

    /// <summary>Row <paramref name="row"/> leaves: the last row moves into its place (one row's copy), as a swap-remove of a list.</summary>
    public void RemoveRow(int row)
    {
        if (row < 0 || row >= Rows) throw new ArgumentOutOfRangeException(nameof(row), $"{row} of {Rows} rows");
        var last = Rows - 1;
        if (row != last)
        {
            for (var l = 0; l < keyStore.Length; l++)
                foreach (var store in new[] { keyStore[l], valueStore[l] })
                {
                    using var into = store.narrow(0, row, 1).narrow(2, 0, Length);
                    using var moved = store.narrow(0, last, 1).narrow(2, 0, Length);
                    into.copy_(moved);
                }
            if (starts is not null) starts[row] = starts[last];
        }
        Use(last);
    }

    /// <summary>Uses the first <paramref name="rows"/> rows: the views the layers read and the starts' tensor follow.</summary>
    void Use(int rows)
    {
        if (!ReferenceEquals(keys, keyStore)) foreach (var t in keys.Concat(values)) t.Dispose();
        (keys, values) = rows == RowCapacity
            ? (keyStore, valueStore)
            : (keyStore.Select(t => t.narrow(0, 0, rows).DetachFromDisposeScope()).ToArray(), valueStore.Select(t => t.narrow(0, 0, rows).DetachFromDisposeScope()).ToArray());
        Rows = rows;
        startsTensor?.Dispose();
        startsTensor = null;
    }

    /// <summary>
    /// A one-row cache holding the first <paramref name="length"/> positions of a row of this one (from its start), with room for
    /// <paramref name="capacity"/> (a prompt's prefix kept for the next prompt that starts the same way, or reused by it).
    /// </summary>
    public KvCache Copy(int length, int capacity, int row = 0)
    {
        if (row < 0 || row >= Rows) throw new ArgumentOutOfRangeException(nameof(row), $"{row} of {Rows} rows");
        var from = (int)RowStart(row);
        if (length > Length - from || length > capacity) throw new ArgumentOutOfRangeException(nameof(length), $"{length} of {Length - from} positions into {capacity}");
        var (k, v) = (new Tensor[keys.Length], new Tensor[keys.Length]);
        for (var l = 0; l < keys.Length; l++)
        {
            k[l] = zeros([1, keys[l].shape[1], capacity, keys[l].shape[3]], keys[l].dtype, keys[l].device).DetachFromDisposeScope();
            v[l] = zeros([1, values[l].shape[1], capacity, values[l].shape[3]], values[l].dtype, values[l].device).DetachFromDisposeScope();
            k[l].narrow(2, 0, length).copy_(keys[l].narrow(0, row, 1).narrow(2, from, length));
            v[l].narrow(2, 0, length).copy_(values[l].narrow(0, row, 1).narrow(2, from, length));
        }
        return new KvCache(k, v, 1, capacity, length, null);
    }

    /// <summary>Positions a row holds (from its start to <see cref="Length"/>).</summary>
    public int RowLength(int row) => Length - (int)RowStart(row);

    /// <summary>The bytes its tensors hold.</summary>
    public long HeldBytes => keyStore.Concat(valueStore).Sum(t => t.numel() * t.element_size());

    long RowStart(long row) => starts?[row] ?? 0;

    public void Dispose()
    {
        if (!ReferenceEquals(keys, keyStore)) foreach (var t in keys.Concat(values)) t.Dispose();
        foreach (var t in keyStore.Concat(valueStore)) t.Dispose();
        startsTensor?.Dispose();
    }
}
