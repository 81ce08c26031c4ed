namespace NanoVlm.Export;

/// <summary>One dimension of a graph input or output: a fixed size, or a named symbol (a dynamic axis such as <c>batch_size</c>).</summary>
public readonly record struct OnnxDim(long Value, string? Symbol)
{
    public static implicit operator OnnxDim(long value) => new(value, null);
    public static implicit operator OnnxDim(string symbol) => new(-1, symbol);
}
