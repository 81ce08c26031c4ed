extern alias onnx;
using NanoVlm.Generation;
using NanoVlm.Runtime;
using OnnxError = onnx::NanoVlm.Runtime.NanoVlmException;
using OnnxGenerationOptions = onnx::NanoVlm.Onnx.OnnxGenerationOptions;
using OnnxVlm = onnx::NanoVlm.Onnx.OnnxVlm;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm generate --runtime onnx</c>: the same answers printed the same way, computed by NanoVlm.Onnx (ONNX Runtime, no libtorch).</summary>
static class OnnxRuntimeGenerate
{
    public static int Run(string folder, IReadOnlyList<string> imageFiles, string prompt, int generations, GenerationOptions options)
    {
        try
        {
            using var vlm = OnnxVlm.Load(folder);
            var images = imageFiles.Select(vlm.Processor.Images.DecodeFile).ToList();
            var settings = new OnnxGenerationOptions
            {
                MaxNewTokens = options.MaxNewTokens, Greedy = options.Greedy, TopK = options.TopK, TopP = options.TopP,
                Temperature = options.Temperature,
            };
            Console.WriteLine($"\nInput:\n  {prompt}\n\nOutputs:");
            for (var g = 0; g < generations; g++)
            {
                Console.Write($"  >> Generation {g + 1}: ");
                vlm.Generate(prompt, images, settings with { Seed = options.Seed + g }, Console.Write);
                Console.WriteLine();
            }
            return 0;
        }
        catch (OnnxError e)
        {
            // The ONNX library's own copy of the error type: rethrown as this assembly's, so it is reported in one line like any other.
            throw e.Parameter is { } parameter ? NanoVlmException.For(parameter, e.Message[(parameter.Length + 1)..]) : new NanoVlmException(e.Message);
        }
    }
}
