using System.Runtime.InteropServices;
using System.Text;

namespace NanoVlm.Runtime;

/// <summary>
/// The MPI world of this process through Open MPI's C API (<c>libmpi.so.40</c>, loaded when first needed, so a run in one process
/// needs no MPI installed). Open MPI's predefined handles (<c>MPI_COMM_WORLD</c>, <c>MPI_DOUBLE</c>, <c>MPI_SUM</c>) are the
/// addresses of its exported globals. Only what data-parallel training and evaluation need: rank and size, in-place sums, the
/// reduce-scatter and all-gather of a sharded optimizer, gathering bytes on rank 0, broadcasting bytes, a barrier.
/// <para>
/// The collectives of a training step (sums, reduce-scatter, all-gather) are watched: when the other processes have not answered
/// one for <see cref="Timeout"/> (<c>NANOVLM_MPI_TIMEOUT</c> seconds, default 45; 0 turns it off), one of them has died or hangs,
/// and this process says so in one line and exits 1, which makes the launcher end the job. Waiting for a process that works
/// alone (rank 0 evaluating or saving) happens in <see cref="Barrier"/> and the gathers, which are not watched.
/// </para>
/// </summary>
public sealed unsafe partial class Mpi
{
    public const string Library = "libmpi.so.40";
    const int RtldNow = 2, RtldGlobal = 0x100;
    static readonly IntPtr InPlace = 1;   // Open MPI's MPI_IN_PLACE
    static readonly Lazy<Mpi> Instance = new(() => new Mpi(), LazyThreadSafetyMode.ExecutionAndPublication);

    readonly IntPtr comm, doubleType, floatType, byteType, intType, sum;
    readonly delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> reduceScatterBlock;
    readonly delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, IntPtr, int> allgather;
    readonly delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, int, IntPtr, int> gather;
    readonly delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int*, int*, IntPtr, int, IntPtr, int> gatherv;
    readonly delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int> bcast;
    readonly delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> allreduce;
    readonly delegate* unmanaged<IntPtr, int> barrier;
    readonly delegate* unmanaged<int> finalize;
    readonly delegate* unmanaged<IntPtr, int, int> abort;

    /// <summary>Whether this process was started by an MPI launcher with other ranks (mpirun, or srun with PMIx).</summary>
    public static bool Launched =>
        (int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out var n) && n > 1)
        || (Environment.GetEnvironmentVariable("PMIX_RANK") is not null && int.TryParse(Environment.GetEnvironmentVariable("SLURM_NTASKS"), out var s) && s > 1);

    /// <summary>Whether Open MPI's library can be loaded (without starting MPI).</summary>
    public static bool Installed => NativeLibrary.TryLoad(Library, out _);

    /// <summary>The installed library's description (MPI_Get_library_version works before MPI starts), or null when it is not installed.</summary>
    public static string? InstalledVersion()
    {
        if (!NativeLibrary.TryLoad(Library, out var handle) || !NativeLibrary.TryGetExport(handle, "MPI_Get_library_version", out var address)) return null;
        var text = new byte[8192];
        int length;
        fixed (byte* p = text)
            if (((delegate* unmanaged<byte*, int*, int>)address)(p, &length) != 0) return null;
        return FirstLine(text, length);
    }

    static string FirstLine(byte[] text, int length) => Encoding.UTF8.GetString(text, 0, Math.Max(0, length)).Split('\n')[0].Trim('\0', ' ', ',');

    /// <summary>The world (MPI is initialised on first use and finalised at exit).</summary>
    public static Mpi World => Instance.Value;

    public int Rank { get; }
    public int Size { get; }
    /// <summary>How long a watched collective may wait for the other processes (zero: forever).</summary>
    public TimeSpan Timeout { get; }
    long watchedSince;
    string watchedCall = "";
    /// <summary>The rank among the processes of this node (which GPU it takes).</summary>
    public int LocalRank { get; }
    /// <summary>The library's own description (<c>MPI_Get_library_version</c>).</summary>
    public string Version { get; }

    Mpi()
    {
        // RTLD_GLOBAL: Open MPI's plugins (its MCA components) find libmpi's symbols through the global scope.
        var handle = DlOpen(Library, RtldNow | RtldGlobal);
        if (handle == 0)
            throw new NanoVlmException($"this process was started by an MPI launcher but {Library} (Open MPI 4 or 5) cannot be loaded: {Marshal.PtrToStringUTF8(DlError())}; install Open MPI (Debian: openmpi-bin)");
        IntPtr Symbol(string name) => NativeLibrary.TryGetExport(handle, name, out var address) ? address
            : throw new NanoVlmException($"{Library} has no {name}: not Open MPI");
        var init = (delegate* unmanaged<IntPtr, IntPtr, int>)Symbol("MPI_Init");
        var initialized = (delegate* unmanaged<int*, int>)Symbol("MPI_Initialized");
        var rank = (delegate* unmanaged<IntPtr, int*, int>)Symbol("MPI_Comm_rank");
        var size = (delegate* unmanaged<IntPtr, int*, int>)Symbol("MPI_Comm_size");
        var version = (delegate* unmanaged<byte*, int*, int>)Symbol("MPI_Get_library_version");
        allreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Symbol("MPI_Allreduce");
        barrier = (delegate* unmanaged<IntPtr, int>)Symbol("MPI_Barrier");
        finalize = (delegate* unmanaged<int>)Symbol("MPI_Finalize");
        abort = (delegate* unmanaged<IntPtr, int, int>)Symbol("MPI_Abort");
        reduceScatterBlock = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Symbol("MPI_Reduce_scatter_block");
        allgather = (delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, IntPtr, int>)Symbol("MPI_Allgather");
        gather = (delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, int, IntPtr, int>)Symbol("MPI_Gather");
        gatherv = (delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int*, int*, IntPtr, int, IntPtr, int>)Symbol("MPI_Gatherv");
        bcast = (delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int>)Symbol("MPI_Bcast");
        (comm, doubleType, floatType, sum) = (Symbol("ompi_mpi_comm_world"), Symbol("ompi_mpi_double"), Symbol("ompi_mpi_float"), Symbol("ompi_mpi_op_sum"));
        (byteType, intType) = (Symbol("ompi_mpi_byte"), Symbol("ompi_mpi_int"));

        int done, r, n, length;
        Check(initialized(&done), "MPI_Initialized");
        if (done == 0) Check(init(0, 0), "MPI_Init");
        Check(rank(comm, &r), "MPI_Comm_rank");
        Check(size(comm, &n), "MPI_Comm_size");
        var text = new byte[8192];
        fixed (byte* p = text) Check(version(p, &length), "MPI_Get_library_version");
        (Rank, Size) = (r, n);
        LocalRank = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK") ?? Environment.GetEnvironmentVariable("SLURM_LOCALID"), out var local) ? local : r;
        Version = FirstLine(text, length);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => finalize();
        var timeout = Environment.GetEnvironmentVariable("NANOVLM_MPI_TIMEOUT");
        Timeout = TimeSpan.FromSeconds(timeout is null ? 45 : double.TryParse(timeout, System.Globalization.CultureInfo.InvariantCulture, out var s) && s >= 0 ? s
            : throw new NanoVlmException($"NANOVLM_MPI_TIMEOUT: '{timeout}' is not a number of seconds >= 0"));
        if (Timeout > TimeSpan.Zero && Size > 1) new Thread(Watchdog) { IsBackground = true, Name = "mpi watchdog" }.Start();
    }

    void Watchdog()
    {
        while (true)
        {
            Thread.Sleep(250);
            var since = Interlocked.Read(ref watchedSince);
            if (since == 0 || System.Diagnostics.Stopwatch.GetElapsedTime(since) < Timeout) continue;
            Console.Error.WriteLine($"error: rank {Rank} of {Size}: the other processes have not answered {watchedCall} for {Timeout.TotalSeconds:0} s: one of them has died or hangs; ending the job");
            Console.Error.Flush();
            // Not Environment.Exit: its handlers would wait in MPI_Finalize for the process that does not answer.
            ExitNow(1);
        }
    }

    void Watched(string call, Func<int> collective)
    {
        watchedCall = call;
        Interlocked.Exchange(ref watchedSince, System.Diagnostics.Stopwatch.GetTimestamp());
        try { Check(collective(), call); }
        finally { Interlocked.Exchange(ref watchedSince, 0); }
    }

    /// <summary>Sums <paramref name="count"/> doubles at <paramref name="data"/> over every rank, in place.</summary>
    public void SumInPlace(double* data, int count) => Watched("MPI_Allreduce", () => allreduce(InPlace, (IntPtr)data, count, doubleType, sum, comm));

    /// <summary>Sums <paramref name="count"/> floats at <paramref name="data"/> over every rank, in place.</summary>
    public void SumInPlace(float* data, int count) => Watched("MPI_Allreduce", () => allreduce(InPlace, (IntPtr)data, count, floatType, sum, comm));

    public double Sum(double value)
    {
        SumInPlace(&value, 1);
        return value;
    }

    public void Barrier() => Check(barrier(comm), "MPI_Barrier");

    /// <summary>
    /// Sums <see cref="Size"/> x <paramref name="shard"/> floats at <paramref name="send"/> over every rank and leaves rank r the r-th
    /// block of <paramref name="shard"/> sums at <paramref name="receive"/> (MPI_Reduce_scatter_block).
    /// </summary>
    public void ReduceScatter(float* send, float* receive, int shard) =>
        Watched("MPI_Reduce_scatter_block", () => reduceScatterBlock((IntPtr)send, (IntPtr)receive, shard, floatType, sum, comm));

    /// <summary>Rank r's block r of <paramref name="shard"/> floats at <paramref name="data"/> copied to every rank, in place (MPI_Allgather).</summary>
    public void AllGatherInPlace(float* data, int shard) =>
        Watched("MPI_Allgather", () => allgather(InPlace, 0, floatType, (IntPtr)data, shard, floatType, comm));

    /// <summary>Every rank's bytes on rank 0, in rank order (other ranks get an empty list).</summary>
    public IReadOnlyList<byte[]> GatherBytes(byte[] mine)
    {
        var lengths = new int[Size];
        var length = mine.Length;
        fixed (int* all = lengths) Check(gather((IntPtr)(&length), 1, intType, (IntPtr)all, 1, intType, 0, comm), "MPI_Gather");
        var offsets = new int[Size];
        for (var r = 1; r < Size; r++) offsets[r] = checked(offsets[r - 1] + lengths[r - 1]);
        var buffer = new byte[Rank == 0 ? offsets[^1] + lengths[^1] : 0];
        fixed (byte* send = mine)
        fixed (byte* receive = buffer)
        fixed (int* counts = lengths)
        fixed (int* displacements = offsets)
            Check(gatherv((IntPtr)send, length, byteType, (IntPtr)receive, counts, displacements, byteType, 0, comm), "MPI_Gatherv");
        return Rank == 0 ? [.. Enumerable.Range(0, Size).Select(r => buffer.AsSpan(offsets[r], lengths[r]).ToArray())] : [];
    }

    /// <summary>Rank 0's <paramref name="data"/> (of the same length everywhere) copied to every rank (MPI_Bcast).</summary>
    public void Broadcast(byte[] data)
    {
        fixed (byte* p = data) Check(bcast((IntPtr)p, data.Length, byteType, 0, comm), "MPI_Bcast");
    }

    /// <summary>
    /// When this process is a rank of a job that has started MPI, ends the whole job with <paramref name="code"/>: a process that
    /// leaves on an error must not wait in MPI_Finalize for ranks that wait for it in a collective.
    /// </summary>
    public static void AbortJobIfRunning(int code)
    {
        if (Instance.IsValueCreated && Instance.Value.Size > 1) Instance.Value.abort(Instance.Value.comm, code);
    }

    static void Check(int code, string call)
    {
        if (code != 0) throw new NanoVlmException($"{call} failed with MPI error {code}");
    }

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr DlOpen(string file, int mode);

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitNow(int status);

    [LibraryImport("libc", EntryPoint = "dlerror")]
    private static partial IntPtr DlError();
}
