using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>
/// A lower-precision copy of the model that runs forward and backward while the optimizer updates the fp32 master
/// weights (bf16 compute, fp32 master). Its trainable parameters are flattened in the optimizer's group order, so moving
/// its gradients to the master and refreshing its weights are one operation per group.
/// </summary>
public sealed class ComputeCopy : IDisposable
{
    readonly IReadOnlyList<FlatParameters> masters;
    readonly List<FlatParameters> copies;

    public ComputeCopy(VisionLanguageModel master, AdamW optimizer, ScalarType dtype)
    {
        Model = ModelCopy.CloneAs(master, dtype);
        var named = Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        masters = optimizer.Buffers;
        copies = masters.Select(b => new FlatParameters(b.Names.Select(n => (n, named[n])).ToList())).ToList();
    }

    public VisionLanguageModel Model { get; }

    /// <summary>Adds the copy's gradients to the master gradients (accumulating in the master's precision), then clears them.</summary>
    public void MoveGradients()
    {
        using var _ = no_grad();
        for (var i = 0; i < copies.Count; i++)
        {
            masters[i].Grad.narrow(0, 0, copies[i].Length).add_(copies[i].Grad.narrow(0, 0, copies[i].Length));
            copies[i].Grad.zero_();
        }
    }

    /// <summary>The master weights, rounded to the copy's precision, after an optimizer step.</summary>
    public void RefreshWeights()
    {
        using var _ = no_grad();
        for (var i = 0; i < copies.Count; i++) copies[i].Data.narrow(0, 0, copies[i].Length).copy_(masters[i].Data.narrow(0, 0, copies[i].Length));
    }

    public void Dispose()
    {
        foreach (var c in copies) c.Dispose();
        Model.Dispose();
    }
}
