using System.Globalization;

namespace NanoVlm.Runtime;

/// <summary>
/// Refuses an allocation that cannot fit before making it (an oversized model otherwise ends in a native allocation failure or the
/// OOM killer, after taking gigabytes): the memory Linux reports available (MemAvailable), lowered to what the cgroup's limit leaves.
/// </summary>
public static class MemoryBudget
{
    static readonly (string Limit, string Usage)[] CgroupFiles =
    [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ];

    /// <summary>Bytes that can still be allocated; null where this cannot be told.</summary>
    public static long? Available()
    {
        long? available = null;
        if (File.Exists("/proc/meminfo"))
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal) && Number(line["MemAvailable:".Length..].Replace("kB", "")) is { } kb)
                    available = kb * 1024;
        foreach (var (limit, usage) in CgroupFiles)
            if (Read(limit) is { } max && Read(usage) is { } used)
                available = Math.Min(available ?? long.MaxValue, max - used);
        return available;
    }

    /// <summary>Throws a one-line error naming <paramref name="what"/> when <paramref name="bytes"/> exceed <paramref name="available"/> (default: <see cref="Available"/>).</summary>
    public static void EnsureFits(double bytes, string what, long? available = null)
    {
        available ??= Available();
        if (available is { } free && bytes > free)
            throw new NanoVlmException($"{what} needs about {Gib(bytes)} of memory, but only {Gib(free)} is available");
    }

    static string Gib(double bytes) => $"{bytes / (1L << 30):0.0} GiB";

    static long? Read(string file) => File.Exists(file) ? Number(File.ReadAllText(file)) : null;

    static long? Number(string text) => long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
}
