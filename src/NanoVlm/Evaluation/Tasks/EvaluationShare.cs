using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>
/// The processes answering the documents of a task together (<c>mpirun -np N nanovlm eval</c>): rank r answers documents r, r + N,
/// ...; rank 0 gathers every answer and scores them in document order, so the results are those of one process.
/// </summary>
public sealed class EvaluationShare
{
    readonly Func<byte[], IReadOnlyList<byte[]>> gather;

    public EvaluationShare(int rank, int world, Func<byte[], IReadOnlyList<byte[]>> gather)
    {
        if (world < 1 || rank < 0 || rank >= world) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {world}");
        (Rank, World, this.gather) = (rank, world, gather);
    }

    /// <summary>One process answering everything.</summary>
    public static EvaluationShare Alone { get; } = new(0, 1, mine => [mine]);

    /// <summary>This process's share of the MPI job it was started in (mpirun, srun), or <see cref="Alone"/>.</summary>
    public static EvaluationShare FromEnvironment() => Mpi.Launched ? new(Mpi.World.Rank, Mpi.World.Size, Mpi.World.GatherBytes) : Alone;

    public int Rank { get; }
    public int World { get; }
    /// <summary>The process that scores, prints and writes (rank 0).</summary>
    public bool IsMain => Rank == 0;

    public bool Answers(int docId) => docId % World == Rank;

    /// <summary>Every process's bytes on rank 0, in rank order; the others get none.</summary>
    internal IReadOnlyList<byte[]> Gather(byte[] mine) => gather(mine);
}
