using Microsoft.ML.OnnxRuntime;
using NanoVlm.Export;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Export;

/// <summary>
/// Every exported graph passes the checker and loads in ONNX Runtime with all optimizations; the checker refuses what
/// <c>onnx.checker</c> would (each broken graph below is refused with a one-line error naming the problem).
/// </summary>
[Collection(nameof(RunsAlone))]
public class OnnxGraphCheckTests
{
    [Theory]
    [MemberData(nameof(GoldenCases.Data), MemberType = typeof(GoldenCases))]
    public void EveryGraphIsValidAndLoads(string caseDir)
    {
        using var dir = new TempDir();
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir);
        using var _ = vlm;
        var graphs = new VlmOnnxGraphs(vlm.Model, OnnxModel.MinOpset, halfWeights: false);
        foreach (var model in new[] { graphs.BuildVisionEncoder(), graphs.BuildEmbedTokens(), graphs.BuildDecoder() })
        {
            OnnxGraphCheck.Check(model);
            Assert.All(model.Nodes, n => Assert.True(OnnxGraphCheck.KnownOps[n.OpType] <= model.Opset));
            var file = OnnxExport.GraphPath(export, model.GraphName, halfWeights: false);
            Assert.Equal(OnnxProtoWriter.ToBytes(model), File.ReadAllBytes(file));
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(file, options);
            Assert.Equal(model.Inputs.Select(i => i.Name), session.InputMetadata.Keys);
            Assert.Equal(model.Outputs.Select(o => o.Name), session.OutputMetadata.Keys);
            // Dynamic axes stay symbolic (-1) in what the session reports; fixed ones keep their size.
            foreach (var input in model.Inputs)
                Assert.Equal(input.Shape.Select(d => d.Symbol is null ? (int)d.Value : -1), session.InputMetadata[input.Name].Dimensions);
        }
    }

    static OnnxModel Small(params OnnxNode[] extra)
    {
        var g = new OnnxGraph("small", OnnxModel.MinOpset);
        var x = g.Input("x", OnnxElementType.Float, "n", 2);
        g.Output(g.Add(x, g.Weight("w", [2], [1f, 2f])), "y", OnnxElementType.Float, "n", 2);
        var built = g.Build();
        return built with { Nodes = [.. built.Nodes, .. extra] };
    }

    [Fact]
    public void AValidSmallGraphPassesAndRuns()
    {
        var model = Small();
        OnnxGraphCheck.Check(model);
        using var session = new InferenceSession(OnnxProtoWriter.ToBytes(model));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(new[] { 1f, 1f, 3f, 3f }, [2, 2]))]);
        Assert.Equal([2f, 3f, 4f, 5f], results.Single().AsTensor<float>().ToArray());
    }

    [Theory]
    [InlineData("undefined", "uses 'nowhere' before it is defined")]
    [InlineData("unknown op", "FancyOp is not an operator of opset 17")]
    [InlineData("newer op", "Gelu is not an operator of opset 17")]
    [InlineData("twice", "'y' is defined twice")]
    [InlineData("mixed types", "mixes Float and Int64 inputs")]
    [InlineData("short initializer", "holds 4 bytes where [2] of Float needs 8")]
    [InlineData("wrong output type", "output 'y' is Float, declared Int64")]
    [InlineData("missing output", "output 'z' is never computed")]
    public void ABrokenGraphIsRefused(string broken, string expected)
    {
        var model = Small();
        model = broken switch
        {
            "undefined" => Small(new OnnxNode("Neg", ["nowhere"], ["z"], "n1", [])),
            "unknown op" => Small(new OnnxNode("FancyOp", ["y"], ["z"], "n1", [])),
            "newer op" => Small(new OnnxNode("Gelu", ["y"], ["z"], "n1", [])),
            "twice" => Small(new OnnxNode("Neg", ["x"], ["y"], "n1", [])),
            "mixed types" => Small(new OnnxNode("Add", ["x", "i"], ["z"], "n1", [])) is var m
                ? m with { Initializers = [.. m.Initializers, OnnxInitializer.Int64s("i", [1], [1])] } : model,
            "short initializer" => model with { Initializers = [model.Initializers[0] with { Data = new byte[4] }] },
            "wrong output type" => model with { Outputs = [model.Outputs[0] with { ElementType = OnnxElementType.Int64 }] },
            _ => model with { Outputs = [.. model.Outputs, new OnnxValueInfo("z", OnnxElementType.Float, [])] },
        };
        var e = Assert.Throws<NanoVlmException>(() => OnnxGraphCheck.Check(model));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
