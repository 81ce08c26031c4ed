using static TorchSharp.torch;
using NanoVlm.Generation.Kernels;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>What this machine can do at best: matrix-multiply throughput (libtorch) and memory read bandwidth (libtorch or the decode kernel, whichever reads faster).</summary>
public static class MachinePeak
{
    /// <summary>The largest matrix multiplied (three float32 matrices of this size take 3 GiB).</summary>
    public const int MaxMatmulSize = 16384;

    /// <summary>Best GFLOP/s (2n³ per n×n product) over square matrix multiplies of the given sizes, <paramref name="repeats"/> each.</summary>
    public static double MatmulGflops(ScalarType dtype, IReadOnlyList<int> sizes, int repeats, Device device)
    {
        foreach (var n in sizes)
        {
            if (n > MaxMatmulSize) throw NanoVlmException.For("PeakSizes", $"{n} is over the limit of {MaxMatmulSize}");
            MemoryBudget.EnsureFits(3.0 * n * n * sizeof(float), $"the peak measurement's three {n}x{n} matrices");
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

    /// <summary>
    /// The same tensor read as decoding reads weights: as a [rows, 1024] matrix times a vector, by <see cref="StreamingMatVec"/>
    /// on every thread. On CPUs where libtorch's sum falls short of the memory's speed this is the faster reader, and the bound
    /// must not be below what decoding itself reaches.
    /// </summary>
    static unsafe double StreamingReadGbs(Tensor x, int repeats)
    {
        const int K = 1024;
        var rows = (int)(x.numel() / K);
        var vector = ones(K);
        var y = empty(rows);
        using var decoding = MatVecLinear.Decoding(1, float32, CPU);
        var best = 0.0;
        for (var i = 0; i < repeats; i++)
        {
            var seconds = Timing.Seconds(CPU, () =>
                StreamingMatVec.Multiply((float*)MatVecLinear.Data(x), (float*)MatVecLinear.Data(vector), (float*)MatVecLinear.Data(y), 1, K, rows, MatVecLinear.Threads));
            best = Math.Max(best, (double)rows * K * sizeof(float) / seconds / 1e9);
        }
        return best;
    }

    /// <summary>Best GB/s reading a float32 tensor of <paramref name="bytes"/> bytes once (libtorch's sum, and on the CPU also the kernel's stream), over <paramref name="repeats"/> runs.</summary>
    public static double ReadBandwidthGbs(long bytes, int repeats, Device device)
    {
        MemoryBudget.EnsureFits(bytes, $"the {bytes >> 20} MiB tensor read to measure bandwidth");
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var x = ones(bytes / sizeof(float), device: device);
        var best = 0.0;
        for (var i = 0; i < repeats + 1; i++)
        {
            var seconds = Timing.Seconds(device, () => x.sum().Dispose());
            if (i > 0) best = Math.Max(best, bytes / seconds / 1e9); // the first pass pages the tensor in
        }
        return device.type == TorchSharp.DeviceType.CPU ? Math.Max(best, StreamingReadGbs(x, repeats)) : best;
    }
}
