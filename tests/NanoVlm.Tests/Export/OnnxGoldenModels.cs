using NanoVlm.Checkpoints;
using NanoVlm.Export;
using NanoVlm.Models;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests.Export;

/// <summary>Golden case models as the export takes them (cases without a tokenizer get a word-level one of their base vocabulary), and their exports.</summary>
public static class OnnxGoldenModels
{
    /// <summary>A copy of the case with a tokenizer, in <paramref name="dir"/>/model.</summary>
    public static string WithTokenizer(string caseDir, TempDir dir)
    {
        var copy = GoldenCases.CopyTo(caseDir, dir["model"]);
        var cfg = new CheckpointLayout(copy).ReadConfig();
        if (!new CheckpointLayout(copy).HasTokenizer && !new CheckpointLayout(Path.Combine(copy, cfg.LmTokenizer)).HasTokenizer)
            TestModels.WordLevelTokenizer(copy, cfg.LmBaseVocabSize);
        return copy;
    }

    /// <summary>The case loaded, and exported into <paramref name="dir"/>/onnx-export.</summary>
    public static (PretrainedVlm Vlm, string Export) Export(string caseDir, TempDir dir, OnnxExportOptions? options = null)
    {
        var vlm = PretrainedVlm.Load(WithTokenizer(caseDir, dir));
        var export = dir["onnx-export"];
        OnnxExport.Export(vlm, export, options ?? new OnnxExportOptions());
        return (vlm, export);
    }

    public static IEnumerable<string> ImageFiles(string caseDir) =>
        Directory.EnumerateFiles(caseDir, "image_*.png").Order(StringComparer.Ordinal);

    public static CheckpointGeneration Generation(string caseDir) => new CheckpointLayout(caseDir).ReadConfig().Generation;
}
