using System.CommandLine;
using NanoVlm.Hub;
using NanoVlm.Pretrained;

namespace NanoVlm.Cli;

/// <summary><c>--adapter</c>: a LoRA adapter (a PEFT folder or Hub repo id) applied on top of <c>--model</c>.</summary>
public static class AdapterOption
{
    public static Option<string?> Create() =>
        new("--adapter") { Description = "LoRA adapter to apply: a PEFT adapter folder or Hub repo id (an adapter folder given as --model brings its base)" };

    /// <summary>The model with the adapter (if any) applied.</summary>
    public static PretrainedVlm Load(string model, string? adapter, IProgress<DownloadProgress>? progress)
    {
        var vlm = PretrainedVlm.Load(model, progress);
        if (adapter is null) return vlm;
        try
        {
            vlm.ApplyAdapter(adapter, progress);
            return vlm;
        }
        catch
        {
            vlm.Dispose();
            throw;
        }
    }
}
