namespace NanoVlm.Export;

/// <summary>A constant tensor stored in the graph (<c>TensorProto</c> with <c>raw_data</c>, little-endian).</summary>
public sealed record OnnxInitializer(string Name, OnnxElementType ElementType, long[] Dims, byte[] Data)
{
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    public static OnnxInitializer Floats(string name, long[] dims, ReadOnlySpan<float> values) =>
        new(name, OnnxElementType.Float, dims, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());

    public static OnnxInitializer Int64s(string name, long[] dims, ReadOnlySpan<long> values) =>
        new(name, OnnxElementType.Int64, dims, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());
}
