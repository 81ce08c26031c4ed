namespace NanoVlm.Tests.Cli;

/// <summary><c>nanovlm export onnx</c> and <c>generate --runtime onnx</c> as a user runs them: the same answer as TorchSharp's, one-line refusals.</summary>
public class OnnxCommandTests
{
    static void AssertOneLineError((int Code, string Out, string Err) run, string expected)
    {
        Assert.Equal(1, run.Code);
        var line = Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void ExportThenGenerateWithOnnxRuntimeAnswersAsTorchSharp()
    {
        using var dir = new TempDir();
        var caseDir = GoldenCases.First(GoldenCases.V02Format);
        var image = NanoVlm.Tests.Export.OnnxGoldenModels.ImageFiles(caseDir).First();
        var export = dir["export"];
        var (code, output, err) = CliProcess.Run("export", "onnx", "--model", caseDir, "--out", export);
        Assert.True(code == 0, err);
        Assert.Contains($"to {export}", output);
        foreach (var file in new[] { "onnx/vision_encoder.onnx", "onnx/embed_tokens.onnx", "onnx/decoder_model_merged.onnx", "config.json",
                     "tokenizer.json", "preprocessor_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(export, file)), $"{file} missing from the export");
        string[] ask = ["--image", image, "--prompt", "what is this?", "--greedy", "--generations", "1", "--max-new-tokens", "10"];
        var torch = CliProcess.Run(["generate", "--model", caseDir, .. ask]);
        var onnx = CliProcess.Run(["generate", "--runtime", "onnx", "--model", export, .. ask]);
        Assert.True(torch.Code == 0 && onnx.Code == 0, torch.Err + onnx.Err);
        Assert.Contains(">> Generation 1: ", onnx.Out);
        Assert.Equal(torch.Out, onnx.Out);

        AssertOneLineError(CliProcess.Run("export", "onnx", "--model", caseDir, "--out", export), "already exists");
        var decoder = Path.Combine(export, "onnx", "decoder_model_merged.onnx");
        File.WriteAllBytes(decoder, File.ReadAllBytes(decoder)[..1000]);
        AssertOneLineError(CliProcess.Run(["generate", "--runtime", "onnx", "--model", export, .. ask]), $"{decoder}: not a loadable ONNX model");
    }

    [Theory]
    [InlineData("--dtype", "bf16", "--dtype must be fp32 or fp16, got 'bf16'")]
    [InlineData("--opset", "16", "--opset must be between 17 and 21, got 16")]
    public void BadExportOptionsAreOneLineErrors(string flag, string value, string expected)
    {
        using var dir = new TempDir();
        AssertOneLineError(CliProcess.Run("export", "onnx", "--model", GoldenCases.First(GoldenCases.V02Format), "--out", dir["x"], flag, value), expected);
        Assert.False(Directory.Exists(dir["x"]));
    }

    [Fact]
    public void GenerateRefusesAnUnknownRuntime() =>
        AssertOneLineError(CliProcess.Run("generate", "--runtime", "tflite", "--model", "x"), "--runtime must be torch or onnx, got 'tflite'");
}
