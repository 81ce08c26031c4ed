using NanoVlm.Runtime;

namespace NanoVlm.Export;

/// <summary>How <see cref="OnnxExport"/> writes the graphs: the weights' precision and the opset.</summary>
public sealed record OnnxExportOptions
{
    /// <summary><c>fp32</c>, or <c>fp16</c>: weights stored in half precision (half the size), cast to float32 when a session loads them.</summary>
    public string Dtype { get; init; } = "fp32";

    public int Opset { get; init; } = OnnxModel.MinOpset;

    public bool HalfWeights => Dtype == "fp16";

    public void Validate()
    {
        if (Dtype is not ("fp32" or "fp16")) throw NanoVlmException.For(nameof(Dtype), $"must be fp32 or fp16, got '{Dtype}'");
        if (Opset is < OnnxModel.MinOpset or > OnnxModel.MaxOpset)
            throw NanoVlmException.For(nameof(Opset), $"must be between {OnnxModel.MinOpset} and {OnnxModel.MaxOpset}, got {Opset}");
    }
}
