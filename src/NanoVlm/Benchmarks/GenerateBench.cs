using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

public sealed record GenerateBenchOptions
{
    public string Preset { get; init; } = "222m";
    public IReadOnlyList<int> BatchSizes { get; init; } = [1];
    /// <summary>Text tokens after each sample's one image (whose placeholder tokens come on top).</summary>
    public int PromptLen { get; init; } = 70;
    public int NewTokens { get; init; } = 20;
    public IReadOnlyList<ScalarType> Dtypes { get; init; } = [ScalarType.Float32, ScalarType.BFloat16];
    public IReadOnlyList<bool> KvCache { get; init; } = [true, false];
    /// <summary>The decode paths to measure (on CUDA the kernels never apply: Auto there is the modules).</summary>
    public IReadOnlyList<DecodePath> DecodePaths { get; init; } = [DecodePath.Kernels];
    /// <summary>Timed runs per measurement, after one warm-up; the median is reported.</summary>
    public int Repeats { get; init; } = 2;
    /// <summary>Size of the tensor read to measure memory bandwidth (well beyond the caches).</summary>
    public long BandwidthBytes { get; init; } = 1L << 29;
    public Device Device { get; init; } = CPU;
}

public sealed record GenerateBenchRow(string Preset, int BatchSize, int PromptLen, int NewTokens, string Dtype, bool KvCache,
    double PrefillS, double TimeToFirstTokenS, double DecodeTokensPerS, double ReadBandwidthGbs, double BandwidthBoundTokensPerS, int Threads, string Device,
    string DecodePath);

/// <summary>
/// Greedy generation on random weights (nanoVLM's benchmark-inference): prefill = vision tower, projector and decoder
/// over the prompt plus the head on the last position; time to first token = a whole one-token generate call; decode
/// tokens/s = batch × (new tokens − 1) / (time of the full generate − time to first token). The bandwidth bound assumes
/// each decode step reads every decoder weight once (the head included, the vision tower not).
/// </summary>
public static class GenerateBench
{
    public static IEnumerable<GenerateBenchRow> Run(GenerateBenchOptions o)
    {
        if (o.NewTokens < 2) throw NanoVlmException.For(nameof(o.NewTokens), $"must be at least 2 to time decoding, got {o.NewTokens}");
        var cfg = Presets.Get(o.Preset);
        // Measured around every row, the better of before and after: on a shared host the bandwidth moves within minutes,
        // and a bound taken at a slow moment would flatter the rows measured at a fast one.
        double Bandwidth() => MachinePeak.ReadBandwidthGbs(o.BandwidthBytes, repeats: 3, o.Device);
        manual_seed(0);
        using var master = new VisionLanguageModel(cfg);
        master.to(o.Device);
        var decoderParams = master.ParameterCounts().Decoder;
        foreach (var dtype in o.Dtypes)
        {
            using var converted = dtype == ScalarType.Float32 ? null : ModelCopy.CloneAs(master, dtype);
            var model = converted ?? master;
            model.eval();
            var weightBytes = (double)decoderParams * BenchDtypes.Bytes(dtype);
            foreach (var batch in o.BatchSizes)
            {
                using var prompt = SyntheticBatch.Create(model, batch, cfg.MpImageTokenLength + o.PromptLen);
                foreach (var kv in o.KvCache)
                foreach (var path in o.Device.type == DeviceType.CPU ? o.DecodePaths.Distinct() : [DecodePath.Modules])
                {
                    var before = Bandwidth();
                    var (prefill, firstToken, decode) = Measure(model, prompt, o, kv, path);
                    var bandwidth = Math.Max(before, Bandwidth());
                    yield return new GenerateBenchRow(o.Preset, batch, o.PromptLen, o.NewTokens, BenchDtypes.Name(dtype), kv,
                        prefill, firstToken, decode, bandwidth, batch * bandwidth * 1e9 / weightBytes, get_num_threads(),
                        Devices.Name(o.Device), path.ToString().ToLowerInvariant());
                }
            }
        }
    }

    static (double Prefill, double FirstToken, double DecodeTokensPerS) Measure(VisionLanguageModel model, SyntheticBatch prompt, GenerateBenchOptions o,
        bool kv, DecodePath path)
    {
        var options = new GenerationOptions { Greedy = true, StopAtEos = false, UseKvCache = kv, DecodePath = path };
        var runner = new DecodeRunner(model, path);
        void Generate(int tokens) =>
            model.Generate(prompt.InputIds, prompt.Images, prompt.AttentionMask, options with { MaxNewTokens = tokens }).Dispose();
        var prefill = Timing.Median(o.Device, o.Repeats, () => Prefill(model, runner, prompt, kv ? o.NewTokens : null));
        var firstToken = Timing.Median(o.Device, o.Repeats, () => Generate(1));
        var full = Timing.Median(o.Device, o.Repeats, () => Generate(o.NewTokens));
        return (prefill, firstToken, prompt.InputIds.shape[0] * (o.NewTokens - 1) / Math.Max(full - firstToken, 1e-9));
    }

    /// <summary>The prompt's forward pass as generate runs it, filling a KV cache with room for the new tokens when given.</summary>
    static void Prefill(VisionLanguageModel model, DecodeRunner runner, SyntheticBatch prompt, int? newTokens)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var (embeddings, mask) = model.Embed(prompt.InputIds, prompt.Images, prompt.AttentionMask);
        using var cache = newTokens is { } n
            ? new KvCache(model.Config, embeddings.shape[0], (int)embeddings.shape[1] + n, embeddings.dtype, embeddings.device)
            : null;
        runner.NextLogits(embeddings, mask, cache);
    }
}
