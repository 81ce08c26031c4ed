extern alias onnx;
using OnnxGenerationOptions = onnx::NanoVlm.Onnx.OnnxGenerationOptions;
using OnnxVlm = onnx::NanoVlm.Onnx.OnnxVlm;

namespace NanoVlm.Tests.Export;

/// <summary>
/// examples/OnnxConsole, an app that references NanoVlm.Onnx alone, answers about an image from an export (the library's greedy
/// answer), carries no libtorch or TorchSharp, and reports a bad export in one line.
/// </summary>
[Collection(nameof(RunsAlone))]
public class OnnxConsoleAppTests
{
    static string AppFolder => Path.Combine(GoldenCases.RepoRoot, "examples", "OnnxConsole", "bin", "Release", "net10.0");

    [Fact]
    public void AnswersWithOnnxRuntimeAlone()
    {
        var files = Directory.EnumerateFiles(AppFolder, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains("Microsoft.ML.OnnxRuntime.dll", files);
        Assert.Contains("libonnxruntime.so", files);
        Assert.DoesNotContain(files, f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase));

        using var dir = new TempDir();
        var caseDir = GoldenCases.First(GoldenCases.V02Format);
        var (vlm, export) = OnnxGoldenModels.Export(caseDir, dir);
        vlm.Dispose();
        var image = OnnxGoldenModels.ImageFiles(caseDir).First();
        var (code, output, err) = Processes.Run("dotnet", [Path.Combine(AppFolder, "OnnxConsole.dll"), export, image, "what is this?"]);
        Assert.True(code == 0, err);
        using var onnxVlm = OnnxVlm.Load(export);
        var expected = onnxVlm.Generate("what is this?", [onnxVlm.Processor.Images.DecodeFile(image)], new OnnxGenerationOptions { Greedy = true, MaxNewTokens = 64 });
        Assert.Equal(expected.Text + "\n", output);

        (code, output, err) = Processes.Run("dotnet", [Path.Combine(AppFolder, "OnnxConsole.dll"), dir["nowhere"], image]);
        Assert.Equal(1, code);
        Assert.Equal($"error: {dir["nowhere"]}: no such folder\n", err);
    }
}
