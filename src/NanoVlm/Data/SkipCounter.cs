using System.Collections.Concurrent;

namespace NanoVlm.Data;

/// <summary>Counts samples left out and why (undecodable image, empty answer, too long), safely from any thread.</summary>
public sealed class SkipCounter
{
    readonly ConcurrentDictionary<string, long> _counts = new();

    public void Add(string reason) => _counts.AddOrUpdate(reason, 1, (_, n) => n + 1);

    public long Total => _counts.Values.Sum();

    public IReadOnlyDictionary<string, long> ByReason => new SortedDictionary<string, long>(_counts);

    public override string ToString() =>
        Total == 0 ? "none skipped" : string.Join(", ", ByReason.Select(kv => $"{kv.Value} {kv.Key}"));
}
