namespace NanoVlm.Generation;

/// <summary>How one-token decode steps are computed; prefill always runs the modules.</summary>
public enum DecodePath
{
    /// <summary>The kernels where they serve the model exactly, else the modules (said once per reason, except for a GPU).</summary>
    Auto,
    /// <summary>The modules of Models/: the reference, and whatever changes a layer (an adapter, a hook) with them.</summary>
    Modules,
    /// <summary>The CPU kernels (Generation/Kernels): a model they cannot serve exactly is an error.</summary>
    Kernels,
}
