namespace NanoVlm.Export;

/// <summary>A graph input or output: its name, element type and shape (<c>ValueInfoProto</c> with a tensor type).</summary>
public sealed record OnnxValueInfo(string Name, OnnxElementType ElementType, IReadOnlyList<OnnxDim> Shape);
