using System.Text.Json;
using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>One comparison of the device check: its error and the largest error it accepts.</summary>
public sealed record DeviceCheckRow(string Check, string Dtype, string Device, double Error, double Tolerance, bool Passed);

/// <summary>
/// The model on a device against a seed-format golden case (the PyTorch reference's logits, loss and greedy ids, fp32 on the CPU)
/// and against our own fp32 CPU gradients, in fp32 and bf16. Errors are relative to the largest reference value
/// (logits, gradients) or to the value (loss); greedy ids count the share of positions that differ. fp32 runs with
/// TF32 off, so it must match closely; bf16 keeps 8 bits of mantissa, so its tolerances are loose and its greedy ids
/// may part from the reference where two tokens are nearly tied.
/// </summary>
public static class DeviceCheck
{
    public static IEnumerable<DeviceCheckRow> Run(string caseDir, Device device, IReadOnlyList<ScalarType> dtypes)
    {
        if (!File.Exists(Path.Combine(caseDir, "case.json"))) throw new NanoVlmException($"{caseDir}: not a golden case (no case.json)");
        if (device.type == DeviceType.CUDA) backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = false;
        using var settings = JsonDocument.Parse(RegularFile.ReadAllText(Path.Combine(caseDir, "case.json"), RegularFile.MaxConfigBytes, "case file"));
        var (imageToken, eos) = (settings.RootElement.GetProperty("image_token_id").GetInt32(), settings.RootElement.GetProperty("eos_token_id").GetInt32());
        var newTokens = settings.RootElement.GetProperty("greedy_new_tokens").GetInt32();
        using var expected = SafetensorsFile.Open(Path.Combine(caseDir, "expected.safetensors"));
        using var scope = NewDisposeScope();
        var (ids, mask, targets, images) = (expected.Load("input_ids"), expected.Load("attention_mask"), expected.Load("targets"), expected.Load("images"));
        var (refLogits, refLoss, refIds) = (expected.Load("logits"), expected.Load("loss").item<float>(), expected.Load("generated_ids"));
        var refGrads = Gradients(Load(caseDir, imageToken, eos), ids, images, mask, targets);

        var rows = new List<DeviceCheckRow>();
        foreach (var dtype in dtypes)
        {
            var fp32 = dtype == ScalarType.Float32;
            using var loaded = Load(caseDir, imageToken, eos);
            using var converted = fp32 ? null : ModelCopy.CloneAs(loaded, dtype);
            var model = converted ?? loaded;
            model.to(device);
            DeviceCheckRow Row(string check, double error, double fp32Tolerance, double bf16Tolerance)
            {
                var tolerance = fp32 ? fp32Tolerance : bf16Tolerance;
                return new DeviceCheckRow(check, BenchDtypes.Name(dtype), Devices.Name(device), error, tolerance, error <= tolerance);
            }

            model.eval();
            using (no_grad())
            {
                var (logits, loss) = model.call(ids, images, mask, targets, null);
                rows.Add(Row("forward: logits", RelativeError(refLogits, logits), 1e-4, 5e-2));
                rows.Add(Row("forward: loss", Math.Abs(loss!.item<float>() - refLoss) / Math.Abs(refLoss), 1e-5, 2e-2));
            }
            var options = new GenerationOptions { MaxNewTokens = newTokens, Greedy = true };
            rows.Add(Row("generate: greedy ids, KV cache", DifferingShare(refIds, model.Generate(ids, images, mask, options)), 0, 0.5));
            rows.Add(Row("generate: greedy ids, no cache",
                DifferingShare(refIds, model.Generate(ids, images, mask, options with { UseKvCache = false })), 0, 0.5));
            var grads = Gradients(model, ids, images, mask, targets);
            rows.Add(Row("backward: gradients", refGrads.Max(g => RelativeError(g.Value, grads[g.Key])), 1e-3, 1e-1));
        }
        return rows;
    }

    static VisionLanguageModel Load(string caseDir, int imageToken, int eos)
    {
        var model = Checkpoint.Load(caseDir);
        (model.ImageTokenId, model.EosTokenId) = (imageToken, eos);
        return model;
    }

    static Dictionary<string, Tensor> Gradients(VisionLanguageModel model, Tensor ids, Tensor images, Tensor mask, Tensor targets)
    {
        model.train();
        model.zero_grad();
        var (_, loss) = model.call(ids, images, mask, targets, null);
        loss!.backward();
        return model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.to(float32).cpu());
    }

    /// <summary>max |actual − expected| / max |expected|.</summary>
    static double RelativeError(Tensor expected, Tensor actual)
    {
        using var scope = NewDisposeScope();
        var reference = expected.to(float32).cpu();
        var scale = Math.Max(reference.abs().max().item<float>(), 1e-12);
        return (actual.to(float32).cpu() - reference).abs().max().item<float>() / scale;
    }

    static double DifferingShare(Tensor expected, Tensor actual) =>
        actual.cpu().ne(expected).to(float64).mean().item<double>();
}
