using NanoVlm.Runtime;

namespace NanoVlm.Export;

/// <summary>
/// What <c>onnx.checker</c> and type inference would refuse in a graph this exporter builds: a value used before it is defined or
/// defined twice, an operator the opset does not have, an initializer whose bytes do not fill its shape, inputs of one operator whose
/// element types disagree, an output of the wrong element type. Runs on every graph before it is written.
/// </summary>
public static class OnnxGraphCheck
{
    /// <summary>The standard-domain operators the exporter may use, each with the opset that introduced it.</summary>
    public static readonly IReadOnlyDictionary<string, int> KnownOps = new Dictionary<string, int>
    {
        ["Add"] = 1, ["Sub"] = 1, ["Mul"] = 1, ["Div"] = 1, ["Pow"] = 1, ["Neg"] = 1, ["Sqrt"] = 1, ["Reciprocal"] = 1, ["Tanh"] = 1,
        ["Sigmoid"] = 1, ["Softmax"] = 1, ["MatMul"] = 1, ["Transpose"] = 1, ["Reshape"] = 1, ["Concat"] = 1, ["Slice"] = 1, ["Gather"] = 1,
        ["Unsqueeze"] = 1, ["Squeeze"] = 1, ["Identity"] = 1, ["Max"] = 1, ["Min"] = 1, ["Conv"] = 1, ["Cast"] = 1, ["Shape"] = 1,
        ["Equal"] = 1, ["Less"] = 1, ["Greater"] = 1, ["Not"] = 1, ["And"] = 1, ["ReduceMean"] = 1, ["ReduceMax"] = 1, ["Cos"] = 7,
        ["Sin"] = 7, ["Expand"] = 8, ["Where"] = 9, ["NonZero"] = 9, ["Range"] = 11, ["LessOrEqual"] = 12, ["GreaterOrEqual"] = 12,
        ["LayerNormalization"] = 17, ["Gelu"] = 20,
    };

    static readonly HashSet<string> SameTypeInputs =
        ["Add", "Sub", "Mul", "Div", "MatMul", "Concat", "Max", "Min", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Range"];

    static readonly HashSet<string> BoolResult = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And"];

    /// <summary>Throws a one-line <see cref="NanoVlmException"/> naming the graph, the node and what is wrong.</summary>
    public static void Check(OnnxModel model)
    {
        void Fail(string what) => throw new NanoVlmException($"{model.GraphName}: invalid ONNX graph: {what}");
        if (model.Opset is < OnnxModel.MinOpset or > OnnxModel.MaxOpset) Fail($"opset {model.Opset} is outside {OnnxModel.MinOpset}..{OnnxModel.MaxOpset}");
        var types = new Dictionary<string, OnnxElementType>();
        void Define(string value, OnnxElementType type, string by)
        {
            if (!types.TryAdd(value, type)) Fail($"'{value}' is defined twice (again by {by})");
        }
        foreach (var input in model.Inputs) Define(input.Name, input.ElementType, "an input");
        foreach (var t in model.Initializers)
        {
            if (t.Dims.Any(d => d < 0)) Fail($"initializer '{t.Name}' has a negative dimension");
            if (t.Data.LongLength != t.ElementCount * t.ElementType.Size())
                Fail($"initializer '{t.Name}' holds {t.Data.LongLength} bytes where [{string.Join(", ", t.Dims)}] of {t.ElementType} needs {t.ElementCount * t.ElementType.Size()}");
            Define(t.Name, t.ElementType, "an initializer");
        }
        foreach (var node in model.Nodes)
        {
            if (!KnownOps.TryGetValue(node.OpType, out var since) || since > model.Opset)
                Fail($"node {node.Name}: {node.OpType} is not an operator of opset {model.Opset}");
            var inputTypes = new List<OnnxElementType>();
            foreach (var input in node.Inputs.Where(i => i.Length > 0))
            {
                if (!types.TryGetValue(input, out var type)) Fail($"node {node.Name} uses '{input}' before it is defined");
                inputTypes.Add(type);
            }
            if (inputTypes.Count == 0) Fail($"node {node.Name} has no input");
            var checkedInputs = node.OpType == "Where" ? inputTypes.Skip(1).ToList() : inputTypes;
            if (SameTypeInputs.Contains(node.OpType) || node.OpType == "Where")
                if (checkedInputs.Distinct().Count() > 1) Fail($"node {node.Name} ({node.OpType}) mixes {string.Join(" and ", checkedInputs.Distinct())} inputs");
            if (node.OpType == "Where" && inputTypes[0] != OnnxElementType.Bool) Fail($"node {node.Name}: Where's condition is {inputTypes[0]}, not Bool");
            foreach (var output in node.Outputs) Define(output, OutputType(node, inputTypes), $"node {node.Name}");
        }
        foreach (var output in model.Outputs)
        {
            if (!types.TryGetValue(output.Name, out var type)) Fail($"output '{output.Name}' is never computed");
            if (type != output.ElementType) Fail($"output '{output.Name}' is {type}, declared {output.ElementType}");
        }
    }

    static OnnxElementType OutputType(OnnxNode node, List<OnnxElementType> inputs) =>
        node.OpType switch
        {
            "Cast" => (OnnxElementType)node.Attributes.Single(a => a.Name == "to").Int,
            "Shape" or "NonZero" => OnnxElementType.Int64,
            "Where" => inputs[1],
            _ when BoolResult.Contains(node.OpType) => OnnxElementType.Bool,
            _ => inputs[0],
        };
}
