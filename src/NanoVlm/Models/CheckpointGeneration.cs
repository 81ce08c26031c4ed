namespace NanoVlm.Models;

/// <summary>nanoVLM's checkpoint generations, told apart by their config.json (spec: nanovlm-generations.md §1).</summary>
public enum CheckpointGeneration
{
    /// <summary>nanoVLM v0.1 (<c>lusxvr/nanoVLM-222M</c>): image embeddings prepended, <c>Question: ... Answer:</c>, square images.</summary>
    V01,
    /// <summary>The seed's code: one <c>&lt;|image|&gt;</c> placeholder per image embedding, <c>Question: ... Answer:</c>, square images.</summary>
    SeedEra,
    /// <summary>nanoVLM between image splitting and the global image: tiles with <c>&lt;row_i_col_j&gt;</c> tokens, no global tile, ChatML.</summary>
    SplitNoGlobal,
    /// <summary>Current nanoVLM: image splitting with a global tile, <c>&lt;row_i_col_j&gt;</c> tokens, a ChatML prompt.</summary>
    Current,
}

public static class CheckpointGenerations
{
    /// <summary>Images cut into tiles with <c>&lt;row_i_col_j&gt;</c> tokens, and the conversation through the chat template.</summary>
    public static bool SplitsImages(this CheckpointGeneration generation) =>
        generation is CheckpointGeneration.SplitNoGlobal or CheckpointGeneration.Current;
}
