using System.Runtime.InteropServices;

namespace NanoVlm.Runtime;

/// <summary>
/// NCCL's C API (<c>libnccl.so.2</c>) for collectives between GPUs: found through <c>NANOVLM_NCCL</c> (the file or its folder), next
/// to the libtorch in use (PyTorch's wheels ship it as <c>site-packages/nvidia/nccl/lib/libnccl.so.2</c> beside <c>torch/lib</c>),
/// or on the loader's path. A communicator spans the processes of the MPI job; its unique id is broadcast with MPI. Operations are
/// queued on the default CUDA stream, where libtorch queues its own, so they are ordered with the tensors' other work.
/// </summary>
public sealed unsafe class Nccl : IDisposable
{
    public const string Library = "libnccl.so.2";
    const int Float32 = 7, Sum = 0;

    [StructLayout(LayoutKind.Sequential)]
    struct UniqueId
    {
        public fixed byte Internal[128];
    }

    readonly IntPtr comm;
    readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> allReduce;
    readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> reduceScatter;
    readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int> allGather;
    readonly delegate* unmanaged<IntPtr, int> abort;
    readonly delegate* unmanaged<int, IntPtr> errorString;

    /// <summary>Where NCCL would be loaded from, or why it cannot be: (path, null) or (null, reason).</summary>
    public static (string? Path, string? Problem) Locate()
    {
        if (Environment.GetEnvironmentVariable("NANOVLM_NCCL") is { Length: > 0 } configured)
        {
            var file = Directory.Exists(configured) ? System.IO.Path.Combine(configured, Library) : configured;
            return File.Exists(file) ? (file, null) : (null, $"NANOVLM_NCCL={configured}: no {Library} there");
        }
        if (Libtorch.LoadedPath() is { } torchCpu)
        {
            // site-packages/torch/lib/libtorch_cpu.so -> site-packages/nvidia/nccl/lib/libnccl.so.2
            var sitePackages = System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(torchCpu)));
            foreach (var candidate in new[] { System.IO.Path.Combine(System.IO.Path.GetDirectoryName(torchCpu)!, Library), System.IO.Path.Combine(sitePackages ?? "", "nvidia", "nccl", "lib", Library) })
                if (File.Exists(candidate)) return (candidate, null);
        }
        return NativeLibrary.TryLoad(Library, out var handle) ? (Library, null)
            : (null, $"{Library} was not found (not beside the libtorch in use, not on the loader's path); set NANOVLM_NCCL to it");
    }

    static IntPtr Load()
    {
        var (path, problem) = Locate();
        if (path is null) throw new NanoVlmException($"NCCL: {problem}");
        if (!NativeLibrary.TryLoad(path, out var handle)) throw new NanoVlmException($"NCCL: {path} cannot be loaded (it needs the CUDA runtime of a CUDA libtorch)");
        return handle;
    }

    static IntPtr Symbol(IntPtr handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out var address) ? address : throw new NanoVlmException($"NCCL: {Library} has no {name}");

    /// <summary>NCCL's version (<c>ncclGetVersion</c>: 22703 is 2.27.3) as "2.27.3", or null with the reason it cannot be loaded.</summary>
    public static (string? Version, string? Problem) Probe()
    {
        try
        {
            var handle = Load();
            int code;
            Check(handle, ((delegate* unmanaged<int*, int>)Symbol(handle, "ncclGetVersion"))(&code), "ncclGetVersion");
            return ($"{code / 10000}.{code / 100 % 100}.{code % 100}", null);
        }
        catch (NanoVlmException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>
    /// A communicator over <paramref name="size"/> processes on CUDA device <paramref name="gpu"/>: rank 0 makes the id and
    /// <paramref name="broadcast"/> (MPI's) hands it to the others. One process alone makes a communicator of one.
    /// </summary>
    public Nccl(int rank, int size, Action<byte[]> broadcast, int gpu)
    {
        var handle = Load();
        UseGpu(gpu);
        var getId = (delegate* unmanaged<UniqueId*, int>)Symbol(handle, "ncclGetUniqueId");
        var init = (delegate* unmanaged<IntPtr*, int, UniqueId, int, int>)Symbol(handle, "ncclCommInitRank");
        allReduce = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Symbol(handle, "ncclAllReduce");
        reduceScatter = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Symbol(handle, "ncclReduceScatter");
        allGather = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int>)Symbol(handle, "ncclAllGather");
        abort = (delegate* unmanaged<IntPtr, int>)Symbol(handle, "ncclCommAbort");
        errorString = (delegate* unmanaged<int, IntPtr>)Symbol(handle, "ncclGetErrorString");
        var id = new UniqueId();
        var bytes = new byte[128];
        if (rank == 0)
        {
            Check(getId(&id), "ncclGetUniqueId");
            new ReadOnlySpan<byte>(id.Internal, 128).CopyTo(bytes);
        }
        broadcast(bytes);
        bytes.CopyTo(new Span<byte>(id.Internal, 128));
        IntPtr c;
        Check(init(&c, size, id, rank), "ncclCommInitRank");
        comm = c;
        Version = Probe().Version ?? "?";
    }

    public string Version { get; }

    /// <summary>
    /// Makes <paramref name="gpu"/> the current CUDA device (NCCL binds a communicator to it) through the CUDA runtime the CUDA
    /// libtorch has loaded.
    /// </summary>
    static void UseGpu(int gpu)
    {
        foreach (var name in new[] { "libcudart.so.12", "libcudart.so.13", "libcudart.so.11.0", "libcudart.so" })
            if (NativeLibrary.TryLoad(name, out var cudart) && NativeLibrary.TryGetExport(cudart, "cudaSetDevice", out var setDevice))
            {
                var code = ((delegate* unmanaged<int, int>)setDevice)(gpu);
                if (code != 0) throw new NanoVlmException($"NCCL: cudaSetDevice({gpu}) failed with CUDA error {code}");
                return;
            }
        if (gpu != 0) throw new NanoVlmException($"NCCL: no CUDA runtime (libcudart) to make GPU {gpu} current for this process");
    }

    /// <summary>Sums <paramref name="count"/> floats of device memory over the ranks, in place.</summary>
    public void SumInPlace(IntPtr data, long count) => Check(allReduce(data, data, (nuint)count, Float32, Sum, comm, 0), "ncclAllReduce");

    /// <summary>Sums world x <paramref name="shard"/> floats over the ranks; rank r keeps block r at <paramref name="receive"/>.</summary>
    public void ReduceScatter(IntPtr send, IntPtr receive, long shard) =>
        Check(reduceScatter(send, receive, (nuint)shard, Float32, Sum, comm, 0), "ncclReduceScatter");

    /// <summary>Rank r's block r of <paramref name="shard"/> floats at <paramref name="data"/> copied to every rank, in place.</summary>
    public void AllGatherInPlace(IntPtr data, int rank, long shard) =>
        Check(allGather(data + (nint)(rank * shard * sizeof(float)), data, (nuint)shard, Float32, comm, 0), "ncclAllGather");

    void Check(int code, string call)
    {
        if (code != 0) throw new NanoVlmException($"{call} failed: {Marshal.PtrToStringUTF8(errorString(code))} (NCCL error {code})");
    }

    static void Check(IntPtr handle, int code, string call)
    {
        if (code == 0) return;
        var text = (delegate* unmanaged<int, IntPtr>)Symbol(handle, "ncclGetErrorString");
        throw new NanoVlmException($"{call} failed: {Marshal.PtrToStringUTF8(text(code))} (NCCL error {code})");
    }

    /// <summary>Ends the communicator at once (<c>ncclCommAbort</c>: no waiting for peers that may be gone).</summary>
    public void Dispose() => abort(comm);
}
