using static TorchSharp.torch;

namespace NanoVlm.Models;

/// <summary>
/// Preallocated per-layer key/value buffers [B, kv_heads, capacity, head_dim]: decoding writes one slot per
/// step instead of concatenating (which would copy the whole cache every token).
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
            keys[i] = zeros([batch, cfg.LmNKvHeads, capacity, cfg.LmHeadDim], dtype, device);
            values[i] = zeros([batch, cfg.LmNKvHeads, capacity, cfg.LmHeadDim], dtype, device);
        }
    }

    /// <summary>The bytes of a cache of <paramref name="capacity"/> positions with elements of <paramref name="elementBytes"/>.</summary>
    public static double Bytes(VlmConfig cfg, long batch, long capacity, int elementBytes) =>
        2.0 * cfg.LmNBlocks * batch * cfg.LmNKvHeads * cfg.LmHeadDim * capacity * elementBytes;

    /// <summary>Positions already cached; new tokens get positions from here on.</summary>
    public int Length { get; private set; }

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

    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
    }
}
