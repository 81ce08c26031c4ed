using NanoVlm.Kernels;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using static NanoVlm.Tests.Kernels.StreamingMatVecTests;

namespace NanoVlm.Tests.Kernels;

[Collection(nameof(RunsAlone))]
public class RowKernelsTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void RmsNormEqualsTheFormula(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var x = (randn(3, 1, 37) * 4).to(dtype);
        var weight = randn(37).to(dtype);
        var expected = (x.to(float32) * rsqrt(x.to(float32).pow(2).mean([-1], keepdim: true) + 1e-5) * weight.to(float32)).to(dtype);
        using var inference = inference_mode();
        var actual = RowKernels.RmsNorm(x, weight, 1e-5);
        Assert.NotNull(actual);
        var (rtol, atol) = dtype == ScalarType.Float32 ? (1e-5, 1e-6) : (1.0 / 128, 1e-3);
        AssertClose(expected.to(float32), actual.to(float32), rtol, atol, $"RMSNorm {dtype}");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void RotaryEqualsLibtorch(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var x = randn(2, 3, 1, 8).to(dtype);
        var (cos, sin) = (randn(2, 1, 1, 8).to(dtype), randn(2, 1, 1, 8).to(dtype));
        using var inference = inference_mode();
        var actual = RowKernels.Rotary(x, cos, sin);
        Assert.NotNull(actual);
        MatVecLinear.Enabled = false;
        try
        {
            var expected = RotaryEmbedding.Apply(x.to(float32), cos.to(float32), sin.to(float32));
            var (rtol, atol) = dtype == ScalarType.Float32 ? (1e-6, 1e-6) : (1.0 / 64, 1e-2);
            AssertClose(expected, actual.to(float32), rtol, atol, $"RoPE {dtype}");
        }
        finally
        {
            MatVecLinear.Enabled = true;
        }
    }

    [Fact]
    public void LargeStridedOrTrainingInputsAreLeftToLibtorch()
    {
        using var scope = NewDisposeScope();
        var weight = ones(16);
        Assert.Null(RowKernels.RmsNorm(randn(4, 16), weight, 1e-5)); // gradients on
        using var inference = inference_mode();
        Assert.Null(RowKernels.RmsNorm(randn(16, 4).t(), weight, 1e-5));
        Assert.Null(RowKernels.RmsNorm(randn(5000, 16), weight, 1e-5));
        Assert.Null(RowKernels.Rotary(randn(1, 2, 1, 8), randn(1, 2, 1, 8), randn(1, 2, 1, 8)));
    }
}
