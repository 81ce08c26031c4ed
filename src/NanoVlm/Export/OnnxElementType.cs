namespace NanoVlm.Export;

/// <summary>ONNX's <c>TensorProto.DataType</c> codes for the element types the exporter writes.</summary>
public enum OnnxElementType
{
    Float = 1,
    Int64 = 7,
    Bool = 9,
    Float16 = 10,
}

public static class OnnxElementTypes
{
    /// <summary>Bytes per element as stored in <c>raw_data</c>.</summary>
    public static int Size(this OnnxElementType type) => type switch
    {
        OnnxElementType.Float => 4,
        OnnxElementType.Int64 => 8,
        OnnxElementType.Float16 => 2,
        _ => 1,
    };
}
