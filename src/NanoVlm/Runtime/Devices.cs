using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Runtime;

/// <summary>Device selection (<c>--device cpu|cuda|auto</c>) and thread setup.</summary>
public static class Devices
{
    public static Device Parse(string name) => name.ToLowerInvariant() switch
    {
        "cpu" => CPU,
        "auto" => cuda.is_available() ? LocalGpu() : CPU,
        "cuda" when cuda.is_available() => LocalGpu(),
        "cuda" => throw NanoVlmException.For("Device", $"cuda: CUDA is not available in the libtorch loaded ({Libtorch.Describe()})"),
        var other => throw NanoVlmException.For("Device", $"'{other}' is not a device (use cpu, cuda or auto)"),
    };

    /// <summary>
    /// The GPU of this process: in a job of several processes (mpirun, srun) each takes GPU local-rank modulo the node's count, so
    /// the processes of a node use one GPU each; a process alone takes the current one.
    /// </summary>
    static Device LocalGpu()
    {
        if (!Mpi.Launched) return CUDA;
        var local = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK") ?? Environment.GetEnvironmentVariable("SLURM_LOCALID"), out var r) ? r : 0;
        return new Device(DeviceType.CUDA, local % (int)cuda.device_count());
    }

    /// <summary>How <c>--device</c> names a device: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public static string Name(Device device) =>
        device.type == DeviceType.CUDA ? device.index >= 0 ? $"cuda:{device.index}" : "cuda" : "cpu";

    /// <summary>The most threads accepted: far more than any machine's cores (OpenMP aborts the process at around 100,000).</summary>
    public const int MaxThreads = 1024;

    /// <summary>Uses <paramref name="threads"/> (default: every core; libtorch's own default can be lower inside containers) for intra-op parallelism.</summary>
    public static void ConfigureThreads(int? threads = null)
    {
        if (threads is < 1 or > MaxThreads) throw NanoVlmException.For("Threads", $"must be between 1 and {MaxThreads}, got {threads}");
        set_num_threads(threads ?? Environment.ProcessorCount);
    }

    /// <summary>Builds a module without allocating its weights (for shapes and counts only).</summary>
    public static T OnMeta<T>(Func<T> build)
    {
        set_default_device(META);
        try { return build(); }
        finally { set_default_device(CPU); }
    }
}
