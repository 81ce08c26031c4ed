using System.Diagnostics;

namespace NanoVlm.Generation.Kernels;

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
    static Job? published;

    /// <summary>One job; a helper runs its part of each job it sees once, and counts down the job's own <see cref="Remaining"/>.</summary>
    sealed class Job(Action<int> body, int parts)
    {
        public readonly Action<int> Body = body;
        public readonly int Parts = parts;
        public int Remaining = parts - 1;
        /// <summary>The first exception a part threw: rethrown on the caller, never left to end the process on a helper.</summary>
        public Exception? Failure;

        public void Part(int index)
        {
            try
            {
                Body(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref Failure, e, null);
            }
        }
    }

    sealed class Helper
    {
        public readonly SemaphoreSlim Wake = new(0);
        public int Sleeping;
    }

    /// <summary>
    /// Runs <paramref name="body"/>(0..count-1) in parallel and returns when all are done, rethrowing the first exception a part threw
    /// (after every part has ended). One job at a time.
    /// </summary>
    public static void Run(int count, Action<int> body)
    {
        lock (Gate)
        {
            var job = new Job(body, count);
            while (Helpers.Count < count - 1) Start(Helpers.Count, published);
            Volatile.Write(ref published, job);
            for (var i = 0; i < count - 1; i++)
                if (Interlocked.Exchange(ref Helpers[i].Sleeping, 0) == 1) Helpers[i].Wake.Release();
            job.Part(0);
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Remaining) > 0) spin.SpinOnce(sleep1Threshold: -1);
            if (job.Failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    static void Start(int index, Job? seen)
    {
        var helper = new Helper();
        Helpers.Add(helper);
        new Thread(() => Work(index, helper, seen)) { IsBackground = true, Name = $"matvec-{index + 1}" }.Start();
    }

    static void Work(int index, Helper helper, Job? seen)
    {
        while (true)
        {
            var idleSince = Stopwatch.GetTimestamp();
            Job? job;
            while ((job = Volatile.Read(ref published)) == seen)
            {
                if (Stopwatch.GetTimestamp() - idleSince < SpinTime)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                // Announce the sleep before the last look: a job published after that look finds Sleeping set and wakes us.
                Interlocked.Exchange(ref helper.Sleeping, 1);
                if (Volatile.Read(ref published) == seen) helper.Wake.Wait();
                idleSince = Stopwatch.GetTimestamp();
            }
            seen = job;
            if (index + 1 >= job!.Parts) continue; // this job needs fewer helpers
            job.Part(index + 1);
            Interlocked.Decrement(ref job.Remaining);
        }
    }
}
