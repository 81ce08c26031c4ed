using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>Copies of a model's weights: into another model, or a whole copy in another precision (bf16 compute, benchmarks).</summary>
public static class ModelCopy
{
    public static VisionLanguageModel CloneAs(VisionLanguageModel source, ScalarType dtype)
    {
        var copy = new VisionLanguageModel(source.Config, initWeights: false) { ImageTokenId = source.ImageTokenId, EosTokenId = source.EosTokenId };
        copy.to(dtype);
        copy.to(source.Device);
        CopyWeights(source, copy);
        var trainable = source.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
        foreach (var (name, p) in copy.named_parameters()) p.requires_grad = trainable[name];
        return copy;
    }

    public static void CopyWeights(nn.Module from, nn.Module to)
    {
        using var _ = no_grad();
        var source = from.state_dict();
        foreach (var (name, t) in to.state_dict()) t.copy_(source[name]);
    }
}
