using System.Runtime.InteropServices;
using NanoVlm.Runtime;

namespace NanoVlm.Benchmarks;

/// <summary>
/// Device memory in use, from NVIDIA's management library (libnvidia-ml, installed with the driver): TorchSharp 0.107
/// exposes none of libtorch's allocator statistics. It counts everything held on the device (libtorch's cached blocks,
/// the CUDA context, other processes), so a process's share is the difference to a reading taken before it used CUDA;
/// libtorch keeps freed blocks cached, so a reading after a step is the step's peak reservation.
/// </summary>
public static partial class GpuMemory
{
    const string Library = "libnvidia-ml.so.1";

    [StructLayout(LayoutKind.Sequential)]
    struct MemoryInfo
    {
        public ulong Total, Free, Used;
    }

    [LibraryImport(Library, EntryPoint = "nvmlInit_v2")]
    private static partial int Init();

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
    private static partial int DeviceHandle(uint index, out IntPtr device);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetMemoryInfo")]
    private static partial int DeviceMemory(IntPtr device, out MemoryInfo memory);

    /// <summary>Bytes in use on CUDA device <paramref name="index"/>.</summary>
    public static long UsedBytes(int index)
    {
        try
        {
            Check(Init(), "nvmlInit");
            Check(DeviceHandle((uint)Math.Max(index, 0), out var device), "nvmlDeviceGetHandleByIndex");
            Check(DeviceMemory(device, out var memory), "nvmlDeviceGetMemoryInfo");
            return (long)memory.Used;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new NanoVlmException($"GPU memory is read through {Library} (NVIDIA's driver library), which could not be loaded: {e.Message}");
        }
    }

    static void Check(int status, string call)
    {
        if (status != 0) throw new NanoVlmException($"GPU memory: {call} failed with NVML status {status}");
    }
}
