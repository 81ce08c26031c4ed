using System.Diagnostics;
using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Models;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;
using SkiaSharp;
using static TorchSharp.torch;

namespace NanoVlm.Benchmarks;

public sealed record EvalBenchOptions
{
    public string Preset { get; init; } = "222m";
    public IReadOnlyList<string> Tasks { get; init; } = BenchmarkTasks.Names;
    /// <summary>Documents per task, after one warm-up document.</summary>
    public int Docs { get; init; } = 8;
    public int BatchSize { get; init; } = 8;
    public Device Device { get; init; } = CPU;
}

public sealed record EvalBenchRow(string Preset, string Task, int Docs, int BatchSize, double Seconds, double DocsPerS, long Tokens, double TokensPerS,
    int Threads, string Device);

/// <summary>
/// Evaluation throughput per task: a random-weight model of the preset (with a word-level tokenizer of its vocabulary's size) answers
/// generated documents shaped like each task's (its columns, question lengths, image sizes) through the same path as <c>eval
/// --tasks</c>: JPEG decoding and image processing on worker threads, batched greedy generation with the KV cache, scoring. Random
/// weights rarely produce eos, so every answer runs to the task's max_new_tokens: the slow end of a real model's time.
/// </summary>
public static class EvalBench
{
    public static IEnumerable<EvalBenchRow> Run(EvalBenchOptions o)
    {
        if (o.Docs < 1) throw NanoVlmException.For("Docs", $"must be >= 1, got {o.Docs}");
        var tasks = o.Tasks.Select(BenchmarkTasks.Get).ToList();
        using var vlm = RandomModel(o.Preset);
        vlm.MoveTo(o.Device);
        foreach (var task in tasks)
        {
            var data = TaskDataset.FromRows(task, "generated", [.. Enumerable.Range(0, o.Docs + 1).Select(i => SyntheticDoc(task, i))]);
            BenchmarkRunner.Run(vlm.Model, vlm.Processor, data, limit: 1, batchSize: 1); // warm-up: the JIT, first allocations
            var clock = Stopwatch.StartNew();
            var result = BenchmarkRunner.Run(vlm.Model, vlm.Processor, TaskDataset.FromRows(task, "generated",
                [.. Enumerable.Range(1, o.Docs).Select(i => SyntheticDoc(task, i))]), batchSize: o.BatchSize);
            var seconds = clock.Elapsed.TotalSeconds;
            yield return new EvalBenchRow(o.Preset, task.Name, result.Docs.Count, o.BatchSize, seconds, result.Docs.Count / seconds,
                result.GeneratedTokens, result.GeneratedTokens / seconds, get_num_threads(), Devices.Name(o.Device));
        }
    }

    static PretrainedVlm RandomModel(string preset)
    {
        var cfg = Presets.Get(preset) with { VlmLoadBackboneWeights = false };
        var folder = Directory.CreateTempSubdirectory("nanovlm-bench-tokenizer-").FullName;
        try
        {
            string[] chat = cfg.Generation.SplitsImages() ? ["<|im_start|>", "<|im_end|>"] : [];
            var words = cfg.LmBaseVocabSize - 2 - chat.Length;
            WordLevelTokenizerBuilder.Write(folder, Enumerable.Range(0, words).Select(i => $"w{i}"), specialTokens: chat);
            var tokenizer = Tokenizer.Load(folder, cfg.VlmExtraTokens);
            var model = new VisionLanguageModel(cfg);
            model.eval();
            return PretrainedVlm.Create(model, tokenizer);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static string Words(int count, int seed) => string.Join(' ', Enumerable.Range(0, count).Select(i => $"w{(seed * 31 + i * 7) % 500}"));

    /// <summary>A document with the task's columns: questions and images of that task's typical size (DocVQA pages, charts, photos...).</summary>
    static IReadOnlyDictionary<string, object?> SyntheticDoc(BenchmarkTask task, int i)
    {
        Dictionary<string, object?> Image(int width, int height) => new() { ["bytes"] = Jpeg(width, height, i), ["path"] = null };
        List<object?> Texts(params string[] items) => [.. items];
        return task.Name switch
        {
            "mmstar" => new Dictionary<string, object?>
            {
                ["index"] = (long)i, ["question"] = $"{Words(20, i)}\nOptions: A: {Words(3, i + 1)}, B: {Words(3, i + 2)}, C: {Words(3, i + 3)}, D: {Words(3, i + 4)}",
                ["image"] = Image(512, 512), ["answer"] = "A", ["category"] = "math", ["l2_category"] = "geometry",
            },
            "mmmu_val" => new Dictionary<string, object?>
            {
                ["id"] = $"validation_Art_{i}", ["question"] = $"<image 1> {Words(40, i)}", ["options"] = $"['{Words(4, i)}', '{Words(4, i + 1)}', '{Words(4, i + 2)}', '{Words(4, i + 3)}']",
                ["answer"] = "A", ["question_type"] = "multiple-choice", ["image_1"] = Image(800, 600),
            },
            "ocrbench" => new Dictionary<string, object?>
            {
                ["question"] = Words(8, i), ["answer"] = Texts("w5"), ["dataset"] = "IIIT5K", ["question_type"] = "Regular Text Recognition", ["image"] = Image(400, 150),
            },
            "textvqa_val" => new Dictionary<string, object?>
            {
                ["question"] = Words(8, i), ["answers"] = Texts([.. Enumerable.Repeat("w5", 10)]), ["question_id"] = (long)i, ["image"] = Image(1024, 768),
            },
            "docvqa_val" => new Dictionary<string, object?> { ["question"] = Words(10, i), ["answers"] = Texts("w5"), ["image"] = Image(1700, 2200) },
            "infovqa_val" => new Dictionary<string, object?> { ["question"] = Words(12, i), ["answers"] = Texts("w5"), ["image"] = Image(1000, 3000) },
            "scienceqa" or "scienceqa_img" => new Dictionary<string, object?>
            {
                ["question"] = Words(10, i), ["choices"] = Texts(Words(2, i), Words(2, i + 1), Words(2, i + 2)), ["answer"] = 0L, ["hint"] = Words(20, i + 5),
                ["image"] = Image(400, 300),
            },
            "mme" => new Dictionary<string, object?>
            {
                ["question_id"] = $"count/{i / 2}.png", ["question"] = $"{Words(10, i)} Please answer yes or no.", ["answer"] = i % 2 == 0 ? "Yes" : "No",
                ["category"] = "count", ["image"] = Image(800, 600),
            },
            "chartqa" => new Dictionary<string, object?> { ["type"] = "human_test", ["question"] = Words(12, i), ["answer"] = "5", ["image"] = Image(800, 600) },
            "ai2d" => new Dictionary<string, object?>
            {
                ["question"] = Words(10, i), ["options"] = Texts(Words(2, i), Words(2, i + 1), Words(2, i + 2), Words(2, i + 3)), ["answer"] = "0", ["image"] = Image(800, 600),
            },
            "pope" => new Dictionary<string, object?>
            {
                ["question_id"] = (long)i, ["question"] = $"Is there a {Words(1, i)} in the image?", ["answer"] = i % 2 == 0 ? "yes" : "no", ["image"] = Image(640, 480),
            },
            _ => throw new InvalidOperationException($"no synthetic documents for task {task.Name}"),
        };
    }

    /// <summary>A JPEG of gradients and noise (photographs and scans are mostly JPEG in these datasets).</summary>
    static byte[] Jpeg(int width, int height, int seed)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var pixels = new byte[width * height * 4];
        for (var p = 0; p < width * height; p++)
        {
            var (x, y) = (p % width, p / width);
            pixels[4 * p] = (byte)(255 * x / width);
            pixels[4 * p + 1] = (byte)(255 * y / height);
            pixels[4 * p + 2] = (byte)random.Next(256);
            pixels[4 * p + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return encoded.ToArray();
    }
}
