using System.Diagnostics;

namespace NanoVlm.Benchmarks;

static class Timing
{
    public static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Runs once to warm up, then <paramref name="repeats"/> timed runs; returns their median.</summary>
    public static double Median(int repeats, Action action)
    {
        action();
        var times = Enumerable.Range(0, repeats).Select(_ => Seconds(action)).Order().ToList();
        return times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
    }
}
