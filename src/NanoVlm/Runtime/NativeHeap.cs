using System.Runtime.InteropServices;

namespace NanoVlm.Runtime;

/// <summary>
/// Keeps glibc's allocator from holding on to memory: tensors are allocated on data-loader threads and freed on the training
/// thread, and by default every thread may get its own arena whose freed memory is never returned. Without this a long
/// run's resident memory creeps up with its high-water marks rather than reflecting what it uses.
/// </summary>
public static partial class NativeHeap
{
    const int ArenaMax = -8; // M_ARENA_MAX

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    /// <summary>At most two arenas (call at start-up, before worker threads allocate).</summary>
    public static void LimitArenas() => Glibc(() => MallOpt(ArenaMax, 2));

    /// <summary>Returns freed heap memory to the system.</summary>
    public static void Trim() => Glibc(() => MallocTrim(0));

    /// <summary>
    /// Collects finalizable tensor handles and hands freed native memory back (a few milliseconds), so that resident memory stays
    /// flat over long runs instead of following allocator high-water marks.
    /// </summary>
    public static void Release()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Trim();
    }

    /// <summary>Resident memory of the process in MiB, native tensors included.</summary>
    public static long ResidentMiB()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.WorkingSet64 >> 20;
    }

    static void Glibc(Func<int> call)
    {
        if (!OperatingSystem.IsLinux()) return;
        try { call(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { } // not glibc (musl): nothing to do
    }
}
