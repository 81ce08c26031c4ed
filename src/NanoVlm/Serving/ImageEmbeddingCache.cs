using System.Security.Cryptography;
using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Serving;

/// <summary>
/// The vision encoder and projector's output per image tile, kept so that a conversation that sends its image again (every turn of
/// an OpenAI chat does) is not encoded again: keyed by a SHA-256 of the decoded image's pixels, the processor's settings and the
/// tile's place in it (<see cref="TileKeys"/>), bounded in bytes, least recently used first out. A hit gives the stored output bit for
/// bit, so an answer is the same with the cache as without it. Used by the decoding thread only.
/// </summary>
public sealed class ImageEmbeddingCache(long maxBytes) : IDisposable
{
    readonly Dictionary<string, LinkedListNode<(string Key, Tensor Value)>> _entries = [];
    readonly LinkedList<(string Key, Tensor Value)> _order = [];
    long _hits, _misses, _bytes;

    public long MaxBytes { get; } = maxBytes > 0 ? maxBytes : throw NanoVlmException.For("ImageCacheBytes", $"must be > 0, got {maxBytes}");
    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The tiles [N, 3, S, S] through the model's vision encoder and projector, [N, tokens, hidden], from the cache where it can.</summary>
    public Tensor Encode(VisionLanguageModel model, Tensor tiles, IReadOnlyList<string> tileKeys)
    {
        // Without it the stored outputs would hold their autograd graph, the whole vision encoder's activations (gigabytes per image).
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var n = (int)tiles.shape[0];
        var dtype = model.Decoder.token_embedding.weight!.dtype;
        if (tileKeys.Count != n) throw new ArgumentException($"{tileKeys.Count} keys for {n} tiles", nameof(tileKeys));
        var keys = tileKeys.Select(k => $"{k}/{dtype}").ToArray();
        var rows = new Tensor[n];
        var misses = new List<int>();
        for (var i = 0; i < n; i++)
            if (_entries.ContainsKey(keys[i])) rows[i] = Touch(keys[i]);
            else misses.Add(i);
        Interlocked.Add(ref _hits, n - misses.Count);
        Interlocked.Add(ref _misses, misses.Count);
        Tensor? encoded = null;
        if (misses.Count > 0)
        {
            using var index = tensor(misses.Select(i => (long)i).ToArray(), device: tiles.device);
            encoded = model.EncodeImages(tiles.index_select(0, index));
            for (var j = 0; j < misses.Count; j++) rows[misses[j]] = encoded[j];
        }
        // Stacked before storing: storing may push out entries this result still reads.
        var result = stack(rows, 0).MoveToOuterDisposeScope();
        for (var j = 0; j < misses.Count; j++) Store(keys[misses[j]], encoded![j].clone());
        return result;
    }

    /// <summary>
    /// Each tile's key (hex SHA-256): of its image's size and pixels as decoded, the processor settings that make tiles of them
    /// (<paramref name="settings"/>), and the tile's index in its image. Hashing the decoded image, not its tiles, reads a fraction of
    /// the bytes (a 2048 px split is 40 MB of float tiles) and is done on the request's thread, not the decoding one.
    /// </summary>
    public static string[] TileKeys(IReadOnlyList<RgbImage> images, IReadOnlyList<int> tilesPerImage, string settings)
    {
        if (images.Count != tilesPerImage.Count) throw new ArgumentException($"{tilesPerImage.Count} tile counts for {images.Count} images", nameof(tilesPerImage));
        var keys = new List<string>();
        for (var i = 0; i < images.Count; i++)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{images[i].Width}x{images[i].Height}/{settings}/"));
            hash.AppendData(images[i].Pixels);
            var image = hash.GetHashAndReset();
            for (var t = 0; t < tilesPerImage[i]; t++)
                keys.Add(Convert.ToHexString(SHA256.HashData([.. image, .. BitConverter.GetBytes(t)])));
        }
        return [.. keys];
    }

    Tensor Touch(string key)
    {
        var node = _entries[key];
        _order.Remove(node);
        _order.AddFirst(node);
        return node.Value.Value;
    }

    void Store(string key, Tensor value)
    {
        if (_entries.ContainsKey(key)) { value.Dispose(); return; }
        var size = value.numel() * value.element_size();
        if (size > MaxBytes) { value.Dispose(); return; }
        value.DetachFromDisposeScope();
        _entries[key] = _order.AddFirst((key, value));
        Interlocked.Add(ref _bytes, size);
        while (Bytes > MaxBytes && _order.Last is { } oldest)
        {
            _order.RemoveLast();
            _entries.Remove(oldest.Value.Key);
            Interlocked.Add(ref _bytes, -oldest.Value.Value.numel() * oldest.Value.Value.element_size());
            oldest.Value.Value.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var (_, value) in _order) value.Dispose();
        _order.Clear();
        _entries.Clear();
    }
}
