using System.CommandLine;
using NanoVlm.Export;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm export onnx</c>: a model as SmolVLM's ONNX layout, for ONNX Runtime (and <c>generate --runtime onnx</c>).</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var defaults = new OnnxExportOptions();
        var model = new Option<string>("--model") { Description = "checkpoint folder or Hub repo id", Required = true };
        var adapter = AdapterOption.Create();
        var output = new Option<string>("--out") { Description = "folder to write (must not exist)", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "weights: fp32, or fp16 (half the size, computed in fp32)", DefaultValueFactory = _ => defaults.Dtype };
        var opset = new Option<int>("--opset") { Description = $"ONNX opset, {OnnxModel.MinOpset} to {OnnxModel.MaxOpset}", DefaultValueFactory = _ => defaults.Opset };
        var onnx = new Command("onnx", "Write vision_encoder, embed_tokens and decoder_model_merged ONNX graphs with the tokenizer and settings")
        {
            model, adapter, output, dtype, opset,
        };
        onnx.SetAction(parse =>
        {
            var options = new OnnxExportOptions { Dtype = parse.GetValue(dtype)!, Opset = parse.GetValue(opset) };
            options.Validate();
            var target = parse.GetValue(output)!;
            if (Directory.Exists(target) || File.Exists(target)) throw new NanoVlmException($"{target}: already exists (export writes a new folder)");
            using var vlm = AdapterOption.Load(parse.GetValue(model)!, parse.GetValue(adapter), new ConsoleDownloadProgress());
            OnnxExport.Export(vlm, target, options);
            var bytes = Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Console.WriteLine($"exported {parse.GetValue(model)} ({vlm.Generation}, {options.Dtype} weights, opset {options.Opset}) to {target}: {bytes / 1e6:0.0} MB");
            return 0;
        });
        return new Command("export", "Export a model for other runtimes") { onnx };
    }
}
