using NanoVlm.Runtime;
namespace NanoVlm.Models;

/// <summary>The longest token sequence a model takes: its decoder's positions (<c>lm_max_position_embeddings</c>).</summary>
public static class ContextWindow
{
    /// <summary>Throws a one-line error when <paramref name="tokens"/> of <paramref name="what"/> do not fit the model's positions
    /// (attention over them would take memory quadratic in their count).</summary>
    public static void Check(VlmConfig cfg, long tokens, string what)
    {
        if (tokens > cfg.LmMaxPositionEmbeddings)
            throw new NanoVlmException($"{what} is {tokens:N0} tokens: it exceeds the model's context of {cfg.LmMaxPositionEmbeddings:N0} (lm_max_position_embeddings)");
    }
}
