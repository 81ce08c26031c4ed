namespace NanoVlm.Data;

/// <summary>Interleaves several sample streams: each next sample comes from a source drawn with probability ∝ its weight.</summary>
public static class Mixture
{
    /// <param name="sources">Per source: a stream factory for a given pass (restarted when it runs out), its weight and size.</param>
    /// <returns>As many samples as the sources hold together, in a seeded, reproducible order.</returns>
    public static IEnumerable<VqaSample> Interleave(IReadOnlyList<(Func<int, IEnumerable<VqaSample>> Read, double Weight, int Count)> sources, int seed)
    {
        if (sources.Count == 1)
        {
            foreach (var s in sources[0].Read(0)) yield return s;
            yield break;
        }
        var rng = new Random(seed);
        var passes = new int[sources.Count];
        var streams = sources.Select(s => s.Read(0).GetEnumerator()).ToArray();
        var total = sources.Sum(s => s.Count);
        var weightSum = sources.Sum(s => s.Weight);
        try
        {
            for (var n = 0; n < total; n++)
            {
                var pick = rng.NextDouble() * weightSum;
                var i = 0;
                while (i < sources.Count - 1 && (pick -= sources[i].Weight) >= 0) i++;
                if (!streams[i].MoveNext())
                {
                    streams[i].Dispose();
                    streams[i] = sources[i].Read(++passes[i]).GetEnumerator();
                    if (!streams[i].MoveNext()) continue;
                }
                yield return streams[i].Current;
            }
        }
        finally
        {
            foreach (var s in streams) s.Dispose();
        }
    }
}
