namespace NanoVlm.Models;

/// <summary>nanoVLM's checkpoint generations, told apart by their config.json (spec: nanovlm-generations.md §1).</summary>
public enum CheckpointGeneration
{
    /// <summary>nanoVLM v0.1 (<c>lusxvr/nanoVLM-222M</c>): image embeddings prepended, <c>Question: ... Answer:</c>, square images.</summary>
    V01,
    /// <summary>The seed's code: one <c>&lt;|image|&gt;</c> placeholder per image embedding, <c>Question: ... Answer:</c>, square images.</summary>
    SeedEra,
    /// <summary>Current nanoVLM: image splitting with a global tile, <c>&lt;row_i_col_j&gt;</c> tokens, a ChatML prompt.</summary>
    Current,
}
