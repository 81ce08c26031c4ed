using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>
/// lmms-eval tasks run during training, as nanoVLM runs lmms-eval on its checkpoints: every <see cref="Every"/> optimizer steps
/// (and at the end), each task's metrics named <c>task/metric</c>; <see cref="BestBy"/> (one of those names) picks the best checkpoint.
/// </summary>
public sealed class BenchmarkProbe
{
    readonly IReadOnlyList<TaskDataset> tasks;
    readonly VlmProcessor processor;
    readonly int? limit;
    readonly int batchSize;

    /// <summary><paramref name="tasks"/>: the opened datasets of <paramref name="names"/> (empty on the processes that do not run them).</summary>
    public BenchmarkProbe(IReadOnlyList<BenchmarkTask> names, IReadOnlyList<TaskDataset> tasks, VlmProcessor processor, int every, int? limit, int batchSize,
        string? bestBy)
    {
        if (every <= 0) throw NanoVlmException.For("EvalEvery", $"must be > 0, got {every}");
        if (limit is <= 0) throw NanoVlmException.For("EvalLimit", $"must be > 0, got {limit}");
        var metrics = names.SelectMany(t => t.Metrics.Select(m => $"{t.Name}/{m.Name}")).ToList();
        if (bestBy is not null && !metrics.Contains(bestBy))
            throw NanoVlmException.For("BestBy", $"'{bestBy}' is not a metric of the tasks run (one of {string.Join(", ", metrics)})");
        (this.tasks, this.processor, Every, this.limit, this.batchSize, BestBy) = (tasks, processor, every, limit, batchSize, bestBy);
    }

    public int Every { get; }
    public string? BestBy { get; }

    public IReadOnlyDictionary<string, double> Run(VisionLanguageModel model)
    {
        var scores = new Dictionary<string, double>();
        foreach (var data in tasks)
            foreach (var score in BenchmarkRunner.Run(model, processor, data, limit, batchSize).Scores)
                scores[$"{data.Task.Name}/{score.Metric}"] = score.Value;
        return scores;
    }
}
