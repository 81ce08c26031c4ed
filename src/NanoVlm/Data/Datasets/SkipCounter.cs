using System.Collections.Concurrent;

namespace NanoVlm.Data;

/// <summary>
/// Counts samples left out and why (undecodable image, empty answer, too long), safely from any thread, keeping the first few
/// samples of each reason (file and line or row) so the summary says where to look.
/// </summary>
public sealed class SkipCounter
{
    const int Examples = 3;

    readonly ConcurrentDictionary<string, long> _counts = new();
    readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _examples = new();

    public void Add(string reason, string? source = null)
    {
        _counts.AddOrUpdate(reason, 1, (_, n) => n + 1);
        if (source is null) return;
        var examples = _examples.GetOrAdd(reason, _ => new ConcurrentQueue<string>());
        if (examples.Count < Examples) examples.Enqueue(source);
    }

    public long Total => _counts.Values.Sum();

    public IReadOnlyDictionary<string, long> ByReason => new SortedDictionary<string, long>(_counts);

    public override string ToString() =>
        Total == 0 ? "none skipped" : string.Join(", ", ByReason.Select(kv => $"{kv.Value} {kv.Key}{Where(kv.Key)}"));

    string Where(string reason) =>
        _examples.TryGetValue(reason, out var sources) && !sources.IsEmpty ? $" (first: {string.Join("; ", sources.Take(Examples))})" : "";
}
