using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Checkpoints;

namespace NanoVlm.Fuzz;

/// <summary>The fuzzed parsers: each takes the raw input and either accepts it or throws <see cref="NanoVlmException"/>.</summary>
static class FuzzTargets
{
    static readonly string SafetensorsPath = Path.Combine(Path.GetTempPath(), $"nanovlm-fuzz-{Environment.ProcessId}.safetensors");
    // A lower pixel cap than the default keeps each execution fast; the header checks are the same code.
    static readonly ImageProcessor Processor = new(32, new ImageLimits(MaxFileBytes: 1 << 20, MaxPixels: 1 << 22));

    public static void Safetensors(byte[] input)
    {
        File.WriteAllBytes(SafetensorsPath, input);
        using var file = SafetensorsFile.Open(SafetensorsPath);
        foreach (var name in file.Entries.Keys) file.Load(name).Dispose();
    }

    public static void Config(byte[] input) => VlmConfig.Parse(System.Text.Encoding.UTF8.GetString(input), "fuzz.json");

    public static void Image(byte[] input) => Processor.Process(input, "fuzz.img").Dispose();
}
