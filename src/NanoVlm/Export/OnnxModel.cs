namespace NanoVlm.Export;

/// <summary>A whole ONNX model: one graph of standard-domain operators at one opset.</summary>
public sealed record OnnxModel(
    string GraphName,
    int Opset,
    IReadOnlyList<OnnxValueInfo> Inputs,
    IReadOnlyList<OnnxValueInfo> Outputs,
    IReadOnlyList<OnnxNode> Nodes,
    IReadOnlyList<OnnxInitializer> Initializers)
{
    /// <summary>The opsets the exporter writes: 17 (LayerNormalization's first) up to 21, which ONNX Runtime 1.17 and later load.</summary>
    public const int MinOpset = 17, MaxOpset = 21;

    /// <summary>The IR version that goes with the opset (ONNX's versioning table).</summary>
    public int IrVersion => Opset switch { <= 18 => 8, <= 20 => 9, _ => 10 };
}
