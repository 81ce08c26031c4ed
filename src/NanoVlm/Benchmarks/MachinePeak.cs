using static TorchSharp.torch;

namespace NanoVlm.Benchmarks;

/// <summary>What this machine can do at best, measured with libtorch itself: matrix-multiply throughput and memory read bandwidth.</summary>
public static class MachinePeak
{
    /// <summary>The largest matrix multiplied (three float32 matrices of this size take 3 GiB).</summary>
    public const int MaxMatmulSize = 16384;

    /// <summary>Best GFLOP/s (2n³ per n×n product) over square matrix multiplies of the given sizes, <paramref name="repeats"/> each.</summary>
    public static double MatmulGflops(ScalarType dtype, IReadOnlyList<int> sizes, int repeats, Device device)
    {
        foreach (var n in sizes)
        {
            if (n > MaxMatmulSize) throw new NanoVlmException($"--peak-sizes: {n} is over the limit of {MaxMatmulSize}");
            MemoryBudget.EnsureFits(3.0 * n * n * sizeof(float), $"--peak-sizes {n}: three {n}x{n} matrices");
        }
        using var _ = inference_mode();
        var best = 0.0;
        foreach (var n in sizes)
        {
            using var scope = NewDisposeScope();
            var (a, b) = (randn(n, n).to(dtype, device), randn(n, n).to(dtype, device));
            for (var i = 0; i < repeats + 1; i++)
            {
                var seconds = Timing.Seconds(device, () => a.mm(b).Dispose());
                if (i > 0) best = Math.Max(best, 2.0 * n * n * n / seconds / 1e9); // the first call warms the kernels up
            }
        }
        return best;
    }

    /// <summary>Best GB/s reading a float32 tensor of <paramref name="bytes"/> bytes once (a sum), over <paramref name="repeats"/> runs.</summary>
    public static double ReadBandwidthGbs(long bytes, int repeats, Device device)
    {
        MemoryBudget.EnsureFits(bytes, $"--bandwidth-mib {bytes >> 20}: the tensor read");
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var x = ones(bytes / sizeof(float), device: device);
        var best = 0.0;
        for (var i = 0; i < repeats + 1; i++)
        {
            var seconds = Timing.Seconds(device, () => x.sum().Dispose());
            if (i > 0) best = Math.Max(best, bytes / seconds / 1e9); // the first pass pages the tensor in
        }
        return best;
    }
}
