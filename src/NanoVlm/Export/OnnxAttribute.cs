namespace NanoVlm.Export;

/// <summary>A node attribute (<c>AttributeProto</c>): one int, one float or a list of ints.</summary>
public sealed record OnnxAttribute(string Name, OnnxAttributeKind Kind, long Int = 0, float Float = 0, long[]? Ints = null)
{
    public static OnnxAttribute Of(string name, long value) => new(name, OnnxAttributeKind.Int, Int: value);
    public static OnnxAttribute Of(string name, float value) => new(name, OnnxAttributeKind.Float, Float: value);
    public static OnnxAttribute Of(string name, long[] values) => new(name, OnnxAttributeKind.Ints, Ints: values);
}

/// <summary>ONNX's <c>AttributeProto.AttributeType</c> codes for the kinds written.</summary>
public enum OnnxAttributeKind
{
    Float = 1,
    Int = 2,
    Ints = 7,
}
