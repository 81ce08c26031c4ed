using TorchSharp;
using System.CommandLine;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.IO;
using static TorchSharp.torch;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm generate</c>: answers a prompt about images, printed like nanoVLM's generate.py and streamed as it is produced.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var d = new GenerationOptions();
        var model = new Option<string>("--model") { Description = "checkpoint folder or Hub repo id", Required = true };
        var image = new Option<string[]>("--image") { Description = "image file (repeatable: several images per prompt)", AllowMultipleArgumentsPerToken = true };
        var prompt = new Option<string>("--prompt") { Description = "the question", DefaultValueFactory = _ => "What is this?" };
        var generations = new Option<int>("--generations") { Description = "how many answers to sample", DefaultValueFactory = _ => 5 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens per answer", DefaultValueFactory = _ => d.MaxNewTokens };
        var greedy = new Option<bool>("--greedy") { Description = "take the most likely token instead of sampling" };
        var topK = new Option<int>("--top-k") { Description = "sample among the k most likely tokens", DefaultValueFactory = _ => d.TopK };
        var topP = new Option<double>("--top-p") { Description = "nucleus sampling mass", DefaultValueFactory = _ => d.TopP };
        var temperature = new Option<double>("--temperature") { Description = "sampling temperature", DefaultValueFactory = _ => d.Temperature };
        var seed = new Option<long?>("--seed") { Description = "seed for reproducible sampling" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("generate", "Answer a question about one or more images")
        {
            model, image, prompt, generations, maxNew, greedy, topK, topP, temperature, seed, device,
        };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(generations) < 1) throw new NanoVlmException("--generations must be >= 1");
            var (vlm, tokenizer) = Pretrained.Load(parse.GetValue(model)!, new ConsoleDownloadProgress());
            using var _ = vlm;
            using var __ = tokenizer;
            vlm.to(Devices.Parse(parse.GetValue(device)!));
            vlm.eval();
            var cfg = vlm.Config;
            var processor = new ImageProcessor(cfg.VitImgSize);
            var files = parse.GetValue(image) ?? [];
            using var images = files.Length == 0 ? null : stack(files.Select(processor.ProcessFile).ToArray());
            var text = Prompts.ImageTokens(cfg.ImageToken, cfg.MpImageTokenLength, files.Length) + Prompts.Question(parse.GetValue(prompt)!);
            using var ids = tensor(tokenizer.Encode(text).Select(i => (long)i).ToArray()).unsqueeze(0);
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNew), Greedy = parse.GetValue(greedy), TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP), Temperature = parse.GetValue(temperature), Seed = parse.GetValue(seed),
            };
            Console.WriteLine($"\nInput:\n  {parse.GetValue(prompt)}\n\nOutputs:");
            for (var g = 0; g < parse.GetValue(generations); g++)
            {
                Console.Write($"  >> Generation {g + 1}: ");
                var produced = new List<int>();
                var shown = "";
                // Stream: print what the decoded text gained with each new token.
                using var result = vlm.Generate(ids, images, null, options with { Seed = options.Seed + g }, step =>
                {
                    if (step[0] == tokenizer.EosTokenId) return;
                    produced.Add((int)step[0]);
                    var now = tokenizer.Decode(produced, skipSpecialTokens: true);
                    if (now.StartsWith(shown, StringComparison.Ordinal)) Console.Write(now[shown.Length..]);
                    shown = now;
                });
                Console.WriteLine();
            }
            return 0;
        });
        return cmd;
    }
}
