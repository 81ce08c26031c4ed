namespace NanoVlm.Data;

/// <summary>
/// How much padding packing saved: padding tokens of the packed batches handed out against those of unpacked batches of the same
/// samples in stream order (counted a buffer at a time, so a run stopped mid-epoch counts up to one buffer more on that side).
/// </summary>
public sealed class PackingStats
{
    public long Samples { get; private set; }
    public long Rows { get; private set; }
    public long Tokens { get; private set; }
    public long PackedPadding { get; private set; }
    public long UnpackedPadding { get; private set; }

    internal void AddPackedBatch(IReadOnlyList<EncodedSample[]> rows)
    {
        var lengths = rows.Select(r => r.Sum(s => s.InputIds.Length)).ToList();
        Samples += rows.Sum(r => r.Length);
        Rows += rows.Count;
        Tokens += lengths.Sum();
        PackedPadding += Padding(lengths);
    }

    internal void AddUnpackedBatch(IReadOnlyList<int> lengths) => UnpackedPadding += Padding(lengths);

    static long Padding(IReadOnlyList<int> lengths) => (long)lengths.Max() * lengths.Count - lengths.Sum(l => (long)l);

    public override string ToString()
    {
        var rows = $"{Samples:N0} samples in {Rows:N0} rows";
        if (UnpackedPadding == 0) return $"{rows}; {PackedPadding:N0} padding tokens (the samples are all of one length: unpacked batches would have none)";
        var text = $"{rows}; {PackedPadding:N0} padding tokens instead of {UnpackedPadding:N0} unpacked";
        var change = 1 - (double)PackedPadding / UnpackedPadding;
        return $"{text} ({100 * Math.Abs(change):F0}% {(change >= 0 ? "less" : "more")})";
    }
}
