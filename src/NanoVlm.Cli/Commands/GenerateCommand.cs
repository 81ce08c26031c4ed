using TorchSharp;
using System.CommandLine;
using NanoVlm.Generation;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm generate</c>: answers a prompt about images, printed like nanoVLM's generate.py and streamed as it is produced.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var d = new GenerationOptions();
        var model = new Option<string>("--model") { Description = "checkpoint folder or Hub repo id (--runtime onnx: a folder from export onnx)", Required = true };
        var runtime = new Option<string>("--runtime") { Description = "torch (TorchSharp), or onnx (ONNX Runtime on an exported folder, CPU)", DefaultValueFactory = _ => "torch" };
        var adapter = AdapterOption.Create();
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
            model, runtime, adapter, image, prompt, generations, maxNew, greedy, topK, topP, temperature, seed, device,
        };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(generations) < 1) throw new NanoVlmException("--generations must be >= 1");
            // Every value is checked before anything is loaded or printed.
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNew), Greedy = parse.GetValue(greedy), TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP), Temperature = parse.GetValue(temperature), Seed = parse.GetValue(seed),
            };
            options.Validate();
            if (parse.GetValue(runtime) is not ("torch" or "onnx")) throw new NanoVlmException($"--runtime must be torch or onnx, got '{parse.GetValue(runtime)}'");
            if (parse.GetValue(runtime) == "onnx")
            {
                if (parse.GetValue(adapter) is not null) throw new NanoVlmException("--adapter is not used with --runtime onnx: export the model with its adapter (export onnx --adapter)");
                if (parse.GetValue(device) is not ("auto" or "cpu")) throw new NanoVlmException("--runtime onnx runs on the CPU: leave --device out or give cpu");
                return OnnxRuntimeGenerate.Run(parse.GetValue(model)!, parse.GetValue(image) ?? [], parse.GetValue(prompt)!, parse.GetValue(generations), options);
            }
            var target = Devices.Parse(parse.GetValue(device)!);
            using var vlm = AdapterOption.Load(parse.GetValue(model)!, parse.GetValue(adapter), new ConsoleDownloadProgress());
            vlm.MoveTo(target);
            vlm.Model.eval();
            var images = (parse.GetValue(image) ?? []).Select(vlm.Processor.Images.DecodeFile).ToList();
            using (var prompted = vlm.Processor.EncodePrompt(parse.GetValue(prompt)!, images))
                vlm.CheckContext(prompted.InputIds.shape[1], options.MaxNewTokens);
            Console.WriteLine($"\nInput:\n  {parse.GetValue(prompt)}\n\nOutputs:");
            for (var g = 0; g < parse.GetValue(generations); g++)
            {
                Console.Write($"  >> Generation {g + 1}: ");
                vlm.Generate(parse.GetValue(prompt)!, images, options with { Seed = options.Seed + g }, Console.Write);
                Console.WriteLine();
            }
            return 0;
        });
        return cmd;
    }
}
