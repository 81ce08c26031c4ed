using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm info --device</c>: the libtorch this process loaded and the devices it finds.</summary>
static class DeviceReport
{
    public static void Print()
    {
        Console.WriteLine($"libtorch: {Libtorch.Describe()}");
        Console.WriteLine($"TorchSharp: {typeof(TorchSharp.torch).Assembly.GetName().Version} (built for libtorch {__version__})");
        Console.WriteLine($"cpu: {get_num_threads()} threads");
        var available = cuda.is_available();
        Console.WriteLine(available
            ? $"cuda: available, {cuda.device_count()} device(s), cuDNN {(cuda.is_cudnn_available() ? "available" : "not available")}"
            : "cuda: not available");
        Console.WriteLine(Mpi.Launched
            ? $"mpi: {Mpi.World.Version} ({Mpi.Library}); rank {Mpi.World.Rank} of {Mpi.World.Size}, local rank {Mpi.World.LocalRank}"
            : Mpi.InstalledVersion() is { } mpi ? $"mpi: {mpi} ({Mpi.Library}); not started by mpirun or srun (one process)"
            : "mpi: libmpi.so.40 not found (one process; install Open MPI to train on several)");
        var (nccl, why) = Nccl.Probe();
        Console.WriteLine(nccl is not null ? $"nccl: {nccl} ({Nccl.Locate().Path})" : $"nccl: not available ({why?.Replace("NCCL: ", "")})");
    }
}
