using System.Runtime.InteropServices;

namespace NanoVlm;

/// <summary>
/// Hands memory that glibc's allocator keeps after large temporary buffers (evaluation batches, checkpoint writes) back to the
/// system, so a long run's resident memory reflects what it uses rather than its high-water mark.
/// </summary>
public static partial class NativeHeap
{
    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    public static void Trim()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { } // not glibc (musl): nothing to trim
    }
}
