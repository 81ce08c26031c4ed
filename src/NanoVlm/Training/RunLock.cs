using NanoVlm.Runtime;
namespace NanoVlm.Training;

/// <summary>
/// Keeps a second training process out of a run folder: an exclusive lock on <c>run.lock</c> (an advisory flock, which the kernel
/// drops when the holder dies, so a killed run leaves no stale lock), held for the life of the run. The holder writes its pid to
/// <c>run.pid</c> (the locked file cannot be read by others) so the refusal names it.
/// </summary>
public sealed class RunLock : IDisposable
{
    const string LockFile = "run.lock", PidFile = "run.pid";
    /// <summary>What .NET reports (as the HResult) when the lock is held: EWOULDBLOCK from flock.</summary>
    const int EWOULDBLOCK = 11;

    readonly FileStream _lock;

    RunLock(FileStream held) => _lock = held;

    public static RunLock Acquire(string runDir)
    {
        Directory.CreateDirectory(runDir);
        FileStream held;
        try
        {
            held = new FileStream(Path.Combine(runDir, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.HResult == EWOULDBLOCK)
        {
            var pidFile = Path.Combine(runDir, PidFile);
            var holder = File.Exists(pidFile) ? RegularFile.ReadAllText(pidFile, RegularFile.MaxConfigBytes, "pid file").Trim() : "unknown";
            throw new NanoVlmException($"{runDir}: another training run (pid {holder}) is using this folder; wait for it to end or choose another run name");
        }
        AtomicFile.WriteAllText(Path.Combine(runDir, PidFile), $"{Environment.ProcessId}\n");
        return new RunLock(held);
    }

    public void Dispose() => _lock.Dispose();
}
