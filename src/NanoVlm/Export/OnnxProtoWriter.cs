using Google.Protobuf;
using NanoVlm.Runtime;

namespace NanoVlm.Export;

/// <summary>
/// Serializes an <see cref="OnnxModel"/> as onnx.proto's <c>ModelProto</c> (proto2: repeated scalars unpacked), streaming straight to
/// the output: each message's size is computed first so nested messages need no buffering, and weights are written once.
/// </summary>
public static class OnnxProtoWriter
{
    /// <summary>Protobuf's limit on one message: bigger models need ONNX's external data, which this writer does not produce.</summary>
    public const long MaxModelBytes = int.MaxValue;

    // Field numbers of onnx.proto.
    const int ModelIrVersion = 1, ModelProducerName = 2, ModelProducerVersion = 3, ModelGraph = 7, ModelOpsetImport = 8;
    const int OpsetVersion = 2;
    const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;
    const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5;
    const int AttrName = 1, AttrFloat = 2, AttrInt = 3, AttrInts = 8, AttrType = 20;
    const int TensorDims = 1, TensorDataType = 2, TensorName = 8, TensorRawData = 9;
    const int ValueName = 1, ValueType = 2;
    const int TypeTensor = 1, TensorTypeElem = 1, TensorTypeShape = 2, ShapeDim = 1, DimValue = 1, DimParam = 2;

    public static void Write(OnnxModel model, Stream output)
    {
        var size = ModelSize(model);
        if (size > MaxModelBytes)
            throw new NanoVlmException($"{model.GraphName}: {size:N0} bytes, over protobuf's 2 GiB limit for one ONNX file");
        var stream = new CodedOutputStream(output, leaveOpen: true);
        WriteModel(stream, model);
        stream.Flush();
    }

    public static byte[] ToBytes(OnnxModel model)
    {
        using var memory = new MemoryStream();
        Write(model, memory);
        return memory.ToArray();
    }

    static string Producer => "NanoVlm";
    static string ProducerVersion => typeof(OnnxProtoWriter).Assembly.GetName().Version?.ToString() ?? "0";

    static long ModelSize(OnnxModel m) =>
        Tag(ModelIrVersion) + CodedOutputStream.ComputeInt64Size(m.IrVersion)
        + StringField(ModelProducerName, Producer) + StringField(ModelProducerVersion, ProducerVersion)
        + Nested(ModelGraph, GraphSize(m))
        + Nested(ModelOpsetImport, OpsetSize(m.Opset));

    static void WriteModel(CodedOutputStream s, OnnxModel m)
    {
        s.WriteTag(ModelIrVersion, WireFormat.WireType.Varint);
        s.WriteInt64(m.IrVersion);
        WriteString(s, ModelProducerName, Producer);
        WriteString(s, ModelProducerVersion, ProducerVersion);
        BeginNested(s, ModelGraph, GraphSize(m));
        WriteGraph(s, m);
        BeginNested(s, ModelOpsetImport, OpsetSize(m.Opset));
        s.WriteTag(OpsetVersion, WireFormat.WireType.Varint);
        s.WriteInt64(m.Opset);
    }

    // The default domain ("") is proto2's default for the domain field, so only the version is written.
    static long OpsetSize(int opset) => Tag(OpsetVersion) + CodedOutputStream.ComputeInt64Size(opset);

    static long GraphSize(OnnxModel m) =>
        m.Nodes.Sum(n => Nested(GraphNode, NodeSize(n)))
        + StringField(GraphName, m.GraphName)
        + m.Initializers.Sum(t => Nested(GraphInitializer, TensorSize(t)))
        + m.Inputs.Sum(v => Nested(GraphInput, ValueSize(v)))
        + m.Outputs.Sum(v => Nested(GraphOutput, ValueSize(v)));

    static void WriteGraph(CodedOutputStream s, OnnxModel m)
    {
        foreach (var n in m.Nodes)
        {
            BeginNested(s, GraphNode, NodeSize(n));
            WriteNode(s, n);
        }
        WriteString(s, GraphName, m.GraphName);
        foreach (var t in m.Initializers)
        {
            BeginNested(s, GraphInitializer, TensorSize(t));
            WriteTensor(s, t);
        }
        foreach (var v in m.Inputs)
        {
            BeginNested(s, GraphInput, ValueSize(v));
            WriteValue(s, v);
        }
        foreach (var v in m.Outputs)
        {
            BeginNested(s, GraphOutput, ValueSize(v));
            WriteValue(s, v);
        }
    }

    static long NodeSize(OnnxNode n) =>
        n.Inputs.Sum(i => StringField(NodeInput, i)) + n.Outputs.Sum(o => StringField(NodeOutput, o))
        + StringField(NodeName, n.Name) + StringField(NodeOpType, n.OpType)
        + n.Attributes.Sum(a => Nested(NodeAttribute, AttributeSize(a)));

    static void WriteNode(CodedOutputStream s, OnnxNode n)
    {
        foreach (var i in n.Inputs) WriteString(s, NodeInput, i);
        foreach (var o in n.Outputs) WriteString(s, NodeOutput, o);
        WriteString(s, NodeName, n.Name);
        WriteString(s, NodeOpType, n.OpType);
        foreach (var a in n.Attributes)
        {
            BeginNested(s, NodeAttribute, AttributeSize(a));
            WriteAttribute(s, a);
        }
    }

    static long AttributeSize(OnnxAttribute a) =>
        StringField(AttrName, a.Name) + Tag(AttrType) + CodedOutputStream.ComputeEnumSize((int)a.Kind) + a.Kind switch
        {
            OnnxAttributeKind.Float => Tag(AttrFloat) + 4,
            OnnxAttributeKind.Int => Tag(AttrInt) + CodedOutputStream.ComputeInt64Size(a.Int),
            _ => a.Ints!.Sum(i => Tag(AttrInts) + CodedOutputStream.ComputeInt64Size(i)),
        };

    static void WriteAttribute(CodedOutputStream s, OnnxAttribute a)
    {
        WriteString(s, AttrName, a.Name);
        switch (a.Kind)
        {
            case OnnxAttributeKind.Float:
                s.WriteTag(AttrFloat, WireFormat.WireType.Fixed32);
                s.WriteFloat(a.Float);
                break;
            case OnnxAttributeKind.Int:
                s.WriteTag(AttrInt, WireFormat.WireType.Varint);
                s.WriteInt64(a.Int);
                break;
            default:
                foreach (var i in a.Ints!)
                {
                    s.WriteTag(AttrInts, WireFormat.WireType.Varint);
                    s.WriteInt64(i);
                }
                break;
        }
        s.WriteTag(AttrType, WireFormat.WireType.Varint);
        s.WriteEnum((int)a.Kind);
    }

    static long TensorSize(OnnxInitializer t) =>
        t.Dims.Sum(d => Tag(TensorDims) + CodedOutputStream.ComputeInt64Size(d))
        + Tag(TensorDataType) + CodedOutputStream.ComputeInt32Size((int)t.ElementType)
        + StringField(TensorName, t.Name)
        + Tag(TensorRawData) + CodedOutputStream.ComputeLengthSize(t.Data.Length) + t.Data.Length;

    static void WriteTensor(CodedOutputStream s, OnnxInitializer t)
    {
        foreach (var d in t.Dims)
        {
            s.WriteTag(TensorDims, WireFormat.WireType.Varint);
            s.WriteInt64(d);
        }
        s.WriteTag(TensorDataType, WireFormat.WireType.Varint);
        s.WriteInt32((int)t.ElementType);
        WriteString(s, TensorName, t.Name);
        s.WriteTag(TensorRawData, WireFormat.WireType.LengthDelimited);
        s.WriteBytes(UnsafeByteOperations.UnsafeWrap(t.Data));
    }

    static long ValueSize(OnnxValueInfo v) => StringField(ValueName, v.Name) + Nested(ValueType, TypeSize(v));

    static long TypeSize(OnnxValueInfo v) => Nested(TypeTensor, TensorTypeSize(v));

    static long TensorTypeSize(OnnxValueInfo v) =>
        Tag(TensorTypeElem) + CodedOutputStream.ComputeInt32Size((int)v.ElementType) + Nested(TensorTypeShape, ShapeSize(v.Shape));

    static long ShapeSize(IReadOnlyList<OnnxDim> shape) => shape.Sum(d => Nested(ShapeDim, DimSize(d)));

    static long DimSize(OnnxDim d) =>
        d.Symbol is { } symbol ? StringField(DimParam, symbol) : Tag(DimValue) + CodedOutputStream.ComputeInt64Size(d.Value);

    static void WriteValue(CodedOutputStream s, OnnxValueInfo v)
    {
        WriteString(s, ValueName, v.Name);
        BeginNested(s, ValueType, TypeSize(v));
        BeginNested(s, TypeTensor, TensorTypeSize(v));
        s.WriteTag(TensorTypeElem, WireFormat.WireType.Varint);
        s.WriteInt32((int)v.ElementType);
        BeginNested(s, TensorTypeShape, ShapeSize(v.Shape));
        foreach (var d in v.Shape)
        {
            BeginNested(s, ShapeDim, DimSize(d));
            if (d.Symbol is { } symbol) WriteString(s, DimParam, symbol);
            else
            {
                s.WriteTag(DimValue, WireFormat.WireType.Varint);
                s.WriteInt64(d.Value);
            }
        }
    }

    static long Tag(int field) => CodedOutputStream.ComputeTagSize(field);

    static long StringField(int field, string value) => Tag(field) + CodedOutputStream.ComputeStringSize(value);

    static long Nested(int field, long size) => Tag(field) + CodedOutputStream.ComputeLengthSize(checked((int)Math.Min(size, int.MaxValue))) + size;

    static void WriteString(CodedOutputStream s, int field, string value)
    {
        s.WriteTag(field, WireFormat.WireType.LengthDelimited);
        s.WriteString(value);
    }

    static void BeginNested(CodedOutputStream s, int field, long size)
    {
        s.WriteTag(field, WireFormat.WireType.LengthDelimited);
        s.WriteLength(checked((int)size));
    }
}
