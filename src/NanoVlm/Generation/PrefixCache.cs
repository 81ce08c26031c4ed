using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Generation;

/// <summary>
/// KV caches of earlier prompts, reused by a prompt that starts the same way (a conversation's next turn, a shared system prompt):
/// only the rest of it is prefilled. A prompt is keyed by its content, position by position: token ids, and for image placeholders
/// a key of the image tile's pixels and the placeholder's place in it (negative, so never a token id). Bounded in bytes, least
/// recently used out. One thread (the decoding one) uses it.
/// </summary>
public sealed class PrefixCache(long maxBytes) : IDisposable
{
    readonly LinkedList<(long[] Key, KvCache Cache)> _entries = [];
    long _hitTokens, _promptTokens, _bytes;

    public long MaxBytes { get; } = maxBytes > 0 ? maxBytes : throw NanoVlmException.For("PrefixCacheBytes", $"must be > 0, got {maxBytes}");
    /// <summary>Prompt positions taken from the cache instead of prefilled, and prompt positions looked up, so far.</summary>
    public long HitTokens => Interlocked.Read(ref _hitTokens);
    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// The cache to prefill a prompt of content <paramref name="key"/> into: the longest cached prefix copied (at most all but the
    /// last position, whose logits the prompt needs) with room for the whole prompt, or an empty one; and the positions reused.
    /// </summary>
    public (KvCache Cache, int Reused) Start(long[] key, Func<KvCache> empty)
    {
        Interlocked.Add(ref _promptTokens, key.Length);
        LinkedListNode<(long[] Key, KvCache Cache)>? best = null;
        var length = 0;
        for (var node = _entries.First; node is not null; node = node.Next)
        {
            var common = Common(node.Value.Key, key);
            if (common > length) (best, length) = (node, common);
        }
        length = Math.Min(length, key.Length - 1);
        if (best is null || length <= 0) return (empty(), 0);
        _entries.Remove(best);
        _entries.AddFirst(best);
        Interlocked.Add(ref _hitTokens, length);
        return (best.Value.Cache.Copy(length, key.Length), length);
    }

    /// <summary>
    /// Keeps a prompt's prefilled cache (its <paramref name="key"/>.Length positions) for the prompts after it: a copy, or with
    /// <paramref name="adopt"/> the cache itself, which then belongs to this cache (returns whether it took it).
    /// </summary>
    public bool Store(long[] key, KvCache prefilled, bool adopt = false)
    {
        // An entry the new one extends, or equals, is no longer needed.
        for (var node = _entries.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Key.Length <= key.Length && Common(node.Value.Key, key) == node.Value.Key.Length) Drop(node);
            node = next;
        }
        var taken = adopt && prefilled.Length == key.Length && prefilled.Capacity == key.Length;
        var kept = taken ? prefilled : prefilled.Copy(key.Length, key.Length);
        if (kept.HeldBytes > MaxBytes)
        {
            if (!taken) kept.Dispose();
            return false;
        }
        _entries.AddFirst((key, kept));
        Interlocked.Add(ref _bytes, kept.HeldBytes);
        // The newest entry is never pushed out here: it is at the front, and alone it fits.
        while (Bytes > MaxBytes && _entries.Last is { } oldest && oldest != _entries.First) Drop(oldest);
        return taken;
    }

    void Drop(LinkedListNode<(long[] Key, KvCache Cache)> node)
    {
        _entries.Remove(node);
        Interlocked.Add(ref _bytes, -node.Value.Cache.HeldBytes);
        node.Value.Cache.Dispose();
    }

    static int Common(long[] a, long[] b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    public void Dispose()
    {
        foreach (var (_, cache) in _entries) cache.Dispose();
        _entries.Clear();
    }
}
