using System.Diagnostics;

namespace NanoVlm.Kernels;

/// <summary>
/// Runs parts 1..n-1 of a job on helper threads that spin between jobs, and part 0 on the caller. A decode step hands out
/// a few hundred jobs of 10-500 µs each; waking a sleeping thread-pool thread for each costs tens of µs, so the helpers
/// keep polling for <see cref="SpinTime"/> after a job and only then sleep until the next one.
/// </summary>
static class SpinningWorkers
{
    static readonly long SpinTime = Stopwatch.Frequency / 2000; // 0.5 ms
    static readonly Lock Gate = new();
    static readonly List<Helper> Helpers = [];
    static Action<int>? job;
    static int parts, remaining;
    static long generation;

    sealed class Helper
    {
        public readonly SemaphoreSlim Wake = new(0);
        public int Sleeping;
    }

    /// <summary>Runs <paramref name="body"/>(0..count-1) in parallel and returns when all are done. One job at a time.</summary>
    public static void Run(int count, Action<int> body)
    {
        lock (Gate)
        {
            while (Helpers.Count < count - 1) Start(Helpers.Count, generation);
            (job, parts) = (body, count);
            Volatile.Write(ref remaining, count - 1);
            Interlocked.Increment(ref generation);
            for (var i = 0; i < count - 1; i++)
                if (Interlocked.Exchange(ref Helpers[i].Sleeping, 0) == 1) Helpers[i].Wake.Release();
            body(0);
            var spin = new SpinWait();
            while (Volatile.Read(ref remaining) > 0) spin.SpinOnce(sleep1Threshold: -1);
            job = null;
        }
    }

    static void Start(int index, long seen)
    {
        var helper = new Helper();
        Helpers.Add(helper);
        new Thread(() => Work(index, helper, seen)) { IsBackground = true, Name = $"matvec-{index + 1}" }.Start();
    }

    static void Work(int index, Helper helper, long seen)
    {
        while (true)
        {
            var idleSince = Stopwatch.GetTimestamp();
            while (Interlocked.Read(ref generation) == seen)
            {
                if (Stopwatch.GetTimestamp() - idleSince < SpinTime)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                // Announce the sleep before the last look: a job published after that look finds Sleeping set and wakes us.
                Interlocked.Exchange(ref helper.Sleeping, 1);
                if (Interlocked.Read(ref generation) == seen) helper.Wake.Wait();
                idleSince = Stopwatch.GetTimestamp();
            }
            seen = Interlocked.Read(ref generation);
            if (index + 1 >= Volatile.Read(ref parts)) continue; // this job needs fewer helpers
            job!(index + 1);
            Interlocked.Decrement(ref remaining);
        }
    }
}
