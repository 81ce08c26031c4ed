using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>The weight/compute precisions the benchmarks compare, by their short names.</summary>
public static class BenchDtypes
{
    public static ScalarType Parse(string name) => name.ToLowerInvariant() switch
    {
        "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        _ => throw new NanoVlmException($"unknown dtype '{name}' (use fp32 or bf16)"),
    };

    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "fp32",
        ScalarType.BFloat16 => "bf16",
        _ => dtype.ToString(),
    };

    public static int Bytes(ScalarType dtype) => dtype == ScalarType.Float32 ? 4 : 2;
}
