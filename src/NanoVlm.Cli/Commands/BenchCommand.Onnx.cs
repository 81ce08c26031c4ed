extern alias onnx;
using System.CommandLine;
using System.Diagnostics;
using NanoVlm.Data;
using NanoVlm.Export;
using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;
using Spectre.Console;
using OnnxGenerationOptions = onnx::NanoVlm.Onnx.OnnxGenerationOptions;
using OnnxRgbImage = onnx::NanoVlm.Data.RgbImage;
using OnnxVlm = onnx::NanoVlm.Onnx.OnnxVlm;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
    /// <summary>
    /// The same model and prompt answered by TorchSharp (with its CPU decode path) and by ONNX Runtime on its export: prefill (time
    /// to the first token) and decode tokens/s, defined as in <c>bench generate</c>.
    /// </summary>
    static Command Onnx(Option<int?> threadsOption, Option<string> deviceOption)
    {
        var preset = PresetOption();
        var promptLen = IntOption("--prompt-len", 70, "words in the question (one token each), after one image");
        var newTokens = IntOption("--new-tokens", 20, "tokens to generate (greedy, never stopping at eos)");
        var repeats = IntOption("--repeats", 2, "timed runs per measurement (after one warm-up); the median is reported");
        var cmd = new Command("onnx", "Prefill and decode speed: TorchSharp against ONNX Runtime on the exported model (CPU, random weights)")
            { preset, promptLen, newTokens, repeats };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(deviceOption) != "cpu") throw new NanoVlmException("bench onnx runs on the CPU: leave --device out");
            var threads = SetThreads(parse, threadsOption);
            var (n, newCount, runs) = (parse.GetValue(promptLen), parse.GetValue(newTokens), parse.GetValue(repeats));
            Positive(n, "--prompt-len");
            Positive(newCount, "--new-tokens");
            Positive(runs, "--repeats");
            var cfg = Presets.Get(parse.GetValue(preset)!);
            var dir = Directory.CreateTempSubdirectory("nanovlm-bench-onnx-").FullName;
            try
            {
                var (torch, ort) = MeasureBoth(cfg, dir, n, newCount, runs, threads);
                var table = Table($"bench onnx: {parse.GetValue(preset)}, image + {n} question words, {newCount} new tokens, {threads} threads",
                    "runtime", "prefill s", "decode tokens/s");
                table.AddRow("TorchSharp (CPU decode path)", $"{torch.Prefill:F3}", $"{torch.Rate:F1}");
                table.AddRow("ONNX Runtime", $"{ort.Prefill:F3}", $"{ort.Rate:F1}");
                AnsiConsole.Write(table);
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
            return 0;
        });
        return cmd;
    }

    static ((double Prefill, double Rate) Torch, (double Prefill, double Rate) Ort) MeasureBoth(VlmConfig cfg, string dir, int words, int newTokens,
        int repeats, int threads)
    {
        // Random weights and a word-level vocabulary of the question's words: speed does not depend on what the weights say.
        var question = string.Join(' ', Enumerable.Range(0, words).Select(i => $"w{i}"));
        WordLevelTokenizerBuilder.Write(dir, [question]);
        TorchSharp.torch.manual_seed(0);
        var model = new VisionLanguageModel(cfg);
        model.eval();
        using var vlm = PretrainedVlm.Create(model, Tokenizer.Load(dir, cfg.VlmExtraTokens));
        var export = Path.Combine(dir, "export");
        OnnxExport.Export(vlm, export, new OnnxExportOptions());
        using var onnxVlm = OnnxVlm.Load(export, threads);
        var size = cfg.VitImgSize;
        var pixels = Enumerable.Range(0, size * size * 3).Select(i => (byte)(i * 7 % 251)).ToArray();
        var (image, onnxImage) = (new RgbImage(size, size, pixels), new OnnxRgbImage(size, size, pixels));

        // Time to the first token, and decode tokens/s = (new - 1) / (time of the whole call - time to the first token).
        (double Prefill, double Rate) Measure(Action<int> generate)
        {
            double Median(int max)
            {
                generate(max);
                var times = Enumerable.Range(0, repeats).Select(_ =>
                {
                    var clock = Stopwatch.StartNew();
                    generate(max);
                    return clock.Elapsed.TotalSeconds;
                }).Order().ToList();
                return times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
            }
            var first = Median(1);
            return (first, (newTokens - 1) / (Median(newTokens) - first));
        }
        var torch = Measure(max => vlm.Generate(question, [image], new GenerationOptions { Greedy = true, MaxNewTokens = max, StopAtEos = false }));
        var ort = Measure(max => onnxVlm.Generate(question, [onnxImage], new OnnxGenerationOptions { Greedy = true, MaxNewTokens = max, StopAtEos = false }));
        return (torch, ort);
    }
}
