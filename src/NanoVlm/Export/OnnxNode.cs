namespace NanoVlm.Export;

/// <summary>One operator of the standard domain (<c>NodeProto</c>); an empty input name is an omitted optional input.</summary>
public sealed record OnnxNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, string Name, IReadOnlyList<OnnxAttribute> Attributes);
