using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Benchmarks;

/// <summary>Wall time of work on a device: a CUDA device runs asynchronously, so the clock stops after it has finished.</summary>
static class Timing
{
    public static double Seconds(Device device, Action action)
    {
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        action();
        Synchronize(device);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Runs once to warm up, then <paramref name="repeats"/> timed runs; returns their median.</summary>
    public static double Median(Device device, int repeats, Action action)
    {
        action();
        return MedianOf(Enumerable.Range(0, repeats).Select(_ => Seconds(device, action)));
    }

    /// <summary>The median (of an even count, the mean of the middle two).</summary>
    public static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
