using static TorchSharp.torch;

namespace NanoVlm.Generation;

public static class Sampling
{
    /// <summary>
    /// OpenAI's penalties on scores [B, V], given how often each row's answer has used each token so far ([B, V]):
    /// score - count x frequency - (count > 0) x presence.
    /// </summary>
    public static Tensor Penalize(Tensor logits, Tensor counts, double frequency, double presence)
    {
        using var scope = NewDisposeScope();
        var c = counts.to(logits.dtype);
        return (logits - c * frequency - c.gt(0).to(logits.dtype) * presence).MoveToOuterDisposeScope();
    }

    /// <summary>Scores [B, V] where each row keeps only its <paramref name="allowed"/> tokens (the others become -inf).</summary>
    public static Tensor Only(Tensor logits, IReadOnlyList<IReadOnlyList<int>> allowed)
    {
        var (rows, vocabulary) = ((int)logits.shape[0], (int)logits.shape[1]);
        var banned = new bool[rows * vocabulary];
        Array.Fill(banned, true);
        for (var b = 0; b < rows; b++)
            foreach (var id in allowed[b].Where(id => id < vocabulary)) banned[b * vocabulary + id] = false;
        using var mask = tensor(banned, [rows, vocabulary], device: logits.device);
        return logits.masked_fill(mask, float.NegativeInfinity);
    }

    /// <summary>
    /// nanoVLM's top_k_top_p_filtering on a copy of logits [B, V]: keep values >= the k-th largest, then drop the
    /// tokens whose cumulative sorted probability exceeds p (the most likely one always stays).
    /// Removed entries become -inf.
    /// </summary>
    public static Tensor TopKTopPFilter(Tensor logits, int topK, double topP)
    {
        using var scope = NewDisposeScope();
        var filtered = logits.clone();
        var k = Math.Min(topK, (int)logits.shape[^1]);
        if (k > 0)
        {
            var kth = filtered.topk(k).values[.., ^1..];
            filtered.masked_fill_(filtered.lt(kth), float.NegativeInfinity);
        }
        if (topP < 1.0)
        {
            var (sorted, indices) = filtered.sort(-1, descending: true);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var remove = cumulative.gt(topP);
            remove[.., 0] = false; // the most likely token always stays
            filtered.masked_fill_(remove.scatter(1, indices, remove), float.NegativeInfinity);
        }
        return filtered.MoveToOuterDisposeScope();
    }
}
