namespace NanoVlm.Export;

/// <summary>
/// Builds one graph node by node: each operator returns the name of its (first) output, named after the scope it was added in, so a
/// graph reads like the module tree it came from. Weights are float32 initializers, or float16 ones cast back to float32 at load.
/// </summary>
public sealed class OnnxGraph(string name, int opset, bool halfWeights = false)
{
    readonly List<OnnxValueInfo> inputs = [], outputs = [];
    readonly List<OnnxNode> nodes = [];
    readonly List<OnnxInitializer> initializers = [];
    readonly Dictionary<string, string> constants = [];
    int counter;

    public int Opset { get; } = opset;

    /// <summary>Prefix of the names given to nodes and values from now on (a module path such as <c>decoder.blocks.0.attn</c>).</summary>
    public string Scope { get; set; } = "";

    public string Input(string inputName, OnnxElementType type, params OnnxDim[] shape)
    {
        inputs.Add(new OnnxValueInfo(inputName, type, shape));
        return inputName;
    }

    /// <summary>Makes <paramref name="value"/> a graph output called <paramref name="outputName"/> (the node producing it is renamed).</summary>
    public void Output(string value, string outputName, OnnxElementType type, params OnnxDim[] shape)
    {
        var index = nodes.FindLastIndex(n => n.Outputs.Contains(value));
        if (index < 0 || inputs.Any(i => i.Name == value)) value = Op("Identity", [value]);
        index = nodes.FindLastIndex(n => n.Outputs.Contains(value));
        var node = nodes[index];
        nodes[index] = node with { Outputs = node.Outputs.Select(o => o == value ? outputName : o).ToList() };
        for (var i = index + 1; i < nodes.Count; i++)
            if (nodes[i].Inputs.Contains(value))
                nodes[i] = nodes[i] with { Inputs = nodes[i].Inputs.Select(x => x == value ? outputName : x).ToList() };
        outputs.Add(new OnnxValueInfo(outputName, type, shape));
    }

    /// <summary>A float32 weight (row-major <paramref name="data"/> of <paramref name="dims"/>): stored as float16 when the graph asks.</summary>
    public string Weight(string weightName, long[] dims, float[] data)
    {
        if (!halfWeights)
        {
            initializers.Add(OnnxInitializer.Floats(weightName, dims, data));
            return weightName;
        }
        var half = new Half[data.Length];
        for (var i = 0; i < data.Length; i++) half[i] = (Half)data[i];
        var stored = weightName + ".fp16";
        initializers.Add(new OnnxInitializer(stored, OnnxElementType.Float16, dims,
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(half.AsSpan()).ToArray()));
        return Op("Cast", [stored], [OnnxAttribute.Of("to", (long)OnnxElementType.Float)], weightName);
    }

    /// <summary>A 1-D int64 constant (shapes, axes, indices), shared by every node that uses the same values.</summary>
    public string Ints(params long[] values) =>
        Constant("i64:" + string.Join(',', values), n => OnnxInitializer.Int64s(n, [values.Length], values));

    /// <summary>A scalar int64 constant.</summary>
    public string Int(long value) => Constant($"i64s:{value}", n => OnnxInitializer.Int64s(n, [], [value]));

    /// <summary>A scalar float32 constant.</summary>
    public string Float(float value) =>
        Constant($"f32s:{BitConverter.SingleToInt32Bits(value)}", n => OnnxInitializer.Floats(n, [], [value]));

    string Constant(string key, Func<string, OnnxInitializer> make)
    {
        if (constants.TryGetValue(key, out var existing)) return existing;
        var constName = $"const_{constants.Count}";
        initializers.Add(make(constName));
        constants[key] = constName;
        return constName;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Op(string opType, IReadOnlyList<string> nodeInputs, IReadOnlyList<OnnxAttribute>? attributes = null, string? outputName = null)
    {
        var id = counter++;
        var nodeName = $"{(Scope.Length == 0 ? "" : Scope + "/")}{opType}_{id}";
        var output = outputName ?? nodeName + ":0";
        nodes.Add(new OnnxNode(opType, nodeInputs, [output], nodeName, attributes ?? []));
        return output;
    }

    public string Add(string a, string b) => Op("Add", [a, b]);
    public string Sub(string a, string b) => Op("Sub", [a, b]);
    public string Mul(string a, string b) => Op("Mul", [a, b]);
    public string Div(string a, string b) => Op("Div", [a, b]);
    public string MatMul(string a, string b) => Op("MatMul", [a, b]);
    public string Reshape(string x, params long[] shape) => Op("Reshape", [x, Ints(shape)]);
    public string Transpose(string x, params long[] perm) => Op("Transpose", [x], [OnnxAttribute.Of("perm", perm)]);
    public string Unsqueeze(string x, params long[] axes) => Op("Unsqueeze", [x, Ints(axes)]);
    public string Cast(string x, OnnxElementType to) => Op("Cast", [x], [OnnxAttribute.Of("to", (long)to)]);
    public string Concat(long axis, params string[] parts) => Op("Concat", parts, [OnnxAttribute.Of("axis", axis)]);

    /// <summary>Elements <paramref name="start"/> to <paramref name="end"/> (exclusive) along <paramref name="axis"/>.</summary>
    public string Slice(string x, long axis, long start, long end) => Op("Slice", [x, Ints(start), Ints(end), Ints(axis)]);

    /// <summary>Dimension <paramref name="axis"/> of <paramref name="x"/> as a 1-element int64 tensor.</summary>
    public string Dim(string x, long axis) => Op("Shape", [x], [OnnxAttribute.Of("start", axis), OnnxAttribute.Of("end", axis + 1)]);

    /// <summary>The mean over the last axis, kept: ReduceMean took its axes as an attribute until opset 18, as an input since.</summary>
    public string MeanLastAxis(string x) => Opset < 18
        ? Op("ReduceMean", [x], [OnnxAttribute.Of("axes", [-1L]), OnnxAttribute.Of("keepdims", 1L)])
        : Op("ReduceMean", [x, Ints(-1)], [OnnxAttribute.Of("keepdims", 1L)]);

    /// <summary>x @ W^T + b for a linear layer whose weight is stored already transposed ([in, out]).</summary>
    public string Linear(string x, string weightT, string? bias = null)
    {
        var y = MatMul(x, weightT);
        return bias is null ? y : Add(y, bias);
    }

    public OnnxModel Build() => new(name, Opset, inputs.ToList(), outputs.ToList(), nodes.ToList(), initializers.ToList());
}
