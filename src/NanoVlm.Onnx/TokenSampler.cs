namespace NanoVlm.Onnx;

/// <summary>Picks the next token from one row of logits: the most likely, or sampled after temperature, top-k and top-p (nanoVLM's order).</summary>
public sealed class TokenSampler(OnnxGenerationOptions options)
{
    readonly Random random = options.Seed is { } seed ? new Random(unchecked((int)seed ^ (int)(seed >> 32))) : new Random();

    public int Next(ReadOnlySpan<float> logits)
    {
        if (options.Greedy) return ArgMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var scores = logits.ToArray();
        Array.Sort(order, (a, b) => scores[b].CompareTo(scores[a]));
        var keep = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
        var max = scores[order[0]];
        var weights = new double[keep];
        for (var i = 0; i < keep; i++) weights[i] = Math.Exp((scores[order[i]] - max) / options.Temperature);
        var total = weights.Sum();
        // Top-p: the smallest prefix whose mass reaches top_p (the most likely token always stays).
        var (mass, cut) = (0.0, 0);
        while (cut < keep && (cut == 0 || mass < options.TopP * total)) mass += weights[cut++];
        var pick = random.NextDouble() * mass;
        for (var i = 0; i < cut; i++)
            if ((pick -= weights[i]) < 0) return order[i];
        return order[cut - 1];
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
